import { stringify } from 'yaml';
import { streamJobCrd } from './crd.ts';

export const crdHeader =
  '# Generated from src/api/streamjob-schema.ts by `npm run gen:crd`. Do not edit; a test fails on drift.\n';

export function renderCrdYaml(): string {
  return crdHeader + stringify(streamJobCrd(), { lineWidth: 0 });
}
