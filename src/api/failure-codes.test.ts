import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.startsWith('testing-')
      ? [path]
      : [];
  });
}

/** Codes the code base raises: the first argument of an error's constructor, a `code:` field, a prefixed family. */
function raisedCodes(): Set<string> {
  const codes = new Set<string>();
  const patterns = [
    /(?:Error\(\s*|code:\s*|fail\(\s*)'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g,
    /'((?:KAFKA|S3|STORAGE|SNAPSHOT|CHECKPOINT|SAVEPOINT|POISON|RECORD|PIPELINE|STATE|TASK|JOB|STANDBY|CREDENTIAL)_[A-Z0-9_]+)'/g,
  ];
  for (const file of sources(join(root, 'src')))
    for (const pattern of patterns)
      for (const match of readFileSync(file, 'utf8').matchAll(pattern)) codes.add(match[1] ?? '');
  return codes;
}

describe('docs/troubleshooting.md', () => {
  it('explains every failure code the code base raises', () => {
    const doc = readFileSync(join(root, 'docs', 'troubleshooting.md'), 'utf8');
    const codes = raisedCodes();
    assert.ok(codes.size > 50, `found ${codes.size} codes`);
    assert.deepEqual(
      [...codes].filter((c) => !doc.includes(`\`${c}\``)).sort(),
      [],
      'codes without a row in docs/troubleshooting.md',
    );
  });
});
