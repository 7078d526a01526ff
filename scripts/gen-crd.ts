import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdYaml } from '../src/api/crd-yaml.ts';

const target = join(import.meta.dirname, '..', 'crds', 'streamjob.yaml');
writeFileSync(target, renderCrdYaml());
process.stdout.write(`wrote ${target}\n`);
