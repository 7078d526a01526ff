import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';

const root = join(import.meta.dirname, '..');
const markdown = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdown(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
  );
const files = [
  'README.md',
  'CONTRIBUTING.md',
  'BENCHMARKS.md',
  'examples/job-template/README.md',
  'packages/sdk/README.md',
  ...markdown('docs'),
];

/** The text outside fenced blocks and inline code: where links and headings are. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').flatMap((line) => {
    if (line.startsWith('```')) {
      fenced = !fenced;
      return [];
    }
    return fenced ? [] : [line.replace(/`[^`]*`/g, '')];
  });
}

/** GitHub's anchor for a heading. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replaceAll(' ', '-');

const anchors = new Map(
  files.map((file) => [
    file,
    new Set(
      prose(readFileSync(join(root, file), 'utf8'))
        .filter((l) => /^#+ /.test(l))
        .map((l) => slug(l.replace(/^#+ /, ''))),
    ),
  ]),
);

describe('the documentation', () => {
  it('links only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const file of files) {
      for (const line of prose(readFileSync(join(root, file), 'utf8'))) {
        for (const [, target = ''] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
          if (/^[a-z]+:/.test(target)) continue;
          const [path = '', anchor] = target.split('#');
          const linked = path ? normalize(join(dirname(file), path)) : file;
          if (path && !existsSync(join(root, linked))) broken.push(`${file}: ${target} (no such file)`);
          else if (anchor && anchors.has(linked) && !anchors.get(linked)?.has(anchor))
            broken.push(`${file}: ${target} (no such heading in ${relative('.', linked)})`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  it('keeps the README short, with the rest in docs/', () => {
    const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n').length;
    assert.ok(lines <= 250, `README.md has ${lines} lines`);
  });
});
