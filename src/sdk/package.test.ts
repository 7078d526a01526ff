import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '..', '..');
const manifest = (path: string) =>
  JSON.parse(readFileSync(join(root, path), 'utf8')) as {
    version: string;
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    exports: Record<string, { default: string }>;
  };

/** Every module the entry points load, by following their static imports (type-only ones too). */
function closure(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [...entries];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    // Import and export declarations at the start of a line, and dynamic imports.
    const declarations =
      /^(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'|^import\s+'([^']+)'|\bimport\(\s*'([^']+)'/gm;
    for (const match of text.matchAll(declarations)) {
      const specifier = match[1] ?? match[2] ?? match[3] ?? '';
      if (specifier.startsWith('.')) pending.push(resolve(dirname(file), specifier));
      else packages.add(specifier);
    }
  }
  return { files, packages };
}

describe('the SDK package (packages/sdk, @weir-dev/sdk)', () => {
  const sdk = manifest('packages/sdk/package.json');

  it('what job modules and their tests import loads nothing but Node built-ins', () => {
    const { files, packages } = closure([join(root, 'src/sdk/index.ts'), join(root, 'src/testing/index.ts')]);
    assert.ok(files.size > 10, `followed the imports: ${files.size} files`);
    assert.deepEqual(
      [...packages].filter((p) => !p.startsWith('node:')),
      [],
      'a package import here would need a dependency, and the SDK package has none',
    );
  });

  it('has no dependencies, carries the version of Weir, and exports the SDK and the test driver', () => {
    assert.equal(sdk.dependencies, undefined);
    assert.equal(sdk.peerDependencies, undefined);
    assert.equal(
      sdk.version,
      manifest('package.json').version,
      'the image and the SDK are released together',
    );
    assert.deepEqual(Object.keys(sdk.exports).sort(), ['.', './testing']);
    assert.equal(sdk.exports['.']?.default, './dist/sdk/index.js');
    assert.equal(sdk.exports['./testing']?.default, './dist/testing/index.js');
  });
});
