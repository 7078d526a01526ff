import { stringify } from 'yaml';
import { streamJobCrd } from './crd.ts';

/**
 * Where the rendered CRD is committed: the top-level copy for
 * `kubectl apply -f crds/`, and the chart's, which Helm installs before the
 * chart's templates (and never upgrades or deletes; see docs/install.md).
 */
export const crdFiles = ['crds/streamjob.yaml', 'charts/weir/crds/streamjob.yaml'] as const;

export const crdHeader =
  '# Generated from src/api/streamjob-schema.ts by `npm run gen:crd`. Do not edit; a test fails on drift.\n';

export function renderCrdYaml(): string {
  return crdHeader + stringify(streamJobCrd(), { lineWidth: 0 });
}
