import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crdFiles } from '../src/api/crd-yaml.ts';
import { referenceFile, renderStreamJobReference } from '../src/api/reference-doc.ts';

const root = join(import.meta.dirname, '..');
for (const file of crdFiles) {
  const target = join(root, file.path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, file.render());
  process.stdout.write(`wrote ${target}\n`);
}
const reference = join(root, referenceFile);
mkdirSync(dirname(reference), { recursive: true });
writeFileSync(reference, renderStreamJobReference());
process.stdout.write(`wrote ${reference}\n`);
