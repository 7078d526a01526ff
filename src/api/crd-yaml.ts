import { stringify } from 'yaml';
import { type CrdManifest, streamJobCrd, streamJobSnapshotCrd } from './crd.ts';

/**
 * Where the rendered CRDs are committed: the top-level copies for
 * `kubectl apply -f crds/`, and the chart's, which Helm installs before the
 * chart's templates (and never upgrades or deletes; see docs/install.md).
 */
export const crdFiles: readonly { path: string; render: () => string }[] = [
  { path: 'crds/streamjob.yaml', render: () => renderCrdYaml(streamJobCrd()) },
  { path: 'charts/weir/crds/streamjob.yaml', render: () => renderCrdYaml(streamJobCrd()) },
  { path: 'crds/streamjobsnapshot.yaml', render: () => renderCrdYaml(streamJobSnapshotCrd()) },
  { path: 'charts/weir/crds/streamjobsnapshot.yaml', render: () => renderCrdYaml(streamJobSnapshotCrd()) },
];

export const crdHeader =
  '# Generated from src/api/*-schema.ts by `npm run gen:crd`. Do not edit; a test fails on drift.\n';

export function renderCrdYaml(crd: CrdManifest = streamJobCrd()): string {
  return crdHeader + stringify(crd, { lineWidth: 0 });
}
