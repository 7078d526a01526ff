import type { Logger } from 'pino';
import { repartitionOperatorOf, repartitionTopic } from '../../api/names.ts';
import { parseSavepointRef } from '../../api/savepoint-ref.ts';
import type { CommittedOffset } from '../../kafka/assigned-consumer.ts';
import { type JobDefinition, statefulOperatorIds } from '../../sdk/pipeline.ts';
import type { CheckpointStorage } from '../../storage/checkpoint-storage.ts';
import { encodeCommitMetadata } from '../checkpoint/commit-metadata.ts';
import {
  readManifest,
  type SavepointManifest,
  unrestorableOperators,
} from '../checkpoint/savepoint-manifest.ts';
import type { TaskManagerConfig } from '../config.ts';
import { RuntimeError } from '../errors.ts';
import type { PartitionRuntime } from './partition-runtime.ts';

/**
 * A new run restoring from a savepoint: the owned partitions' offsets and
 * pointers come from its manifest instead of the (empty) offset group, in the
 * shape a committed offset has, so the ordinary restore path reads them from
 * the storage returned: the job's own, or, for a savepoint named by its s3://
 * URL, the storage under that URL (another job, namespace or prefix).
 */
export async function savepointOffsets(
  deps: {
    config: TaskManagerConfig;
    job: JobDefinition;
    storage: CheckpointStorage;
    storageAt: (url: string) => CheckpointStorage;
  },
  empty: readonly CommittedOffset[],
  log: Logger,
): Promise<{ offsets: CommittedOffset[]; storage: CheckpointStorage; manifest: SavepointManifest }> {
  const { config, job } = deps;
  const ref = parseSavepointRef(config.restoreSavepoint as string);
  const source =
    ref.kind === 'id'
      ? { storage: deps.storage, namespace: config.namespace, job: config.job }
      : { storage: deps.storageAt(ref.storageUrl), namespace: ref.namespace, job: ref.job };
  const id = ref.id;
  const manifest = await readManifest(source.storage, source.namespace, source.job, id);
  const unknown = unrestorableOperators(manifest.operatorIds, statefulOperatorIds(job));
  if (unknown.length && !config.allowNonRestoredState) {
    throw new RuntimeError(
      'SAVEPOINT_STATE_NOT_RESTORED',
      `savepoint ${config.restoreSavepoint} holds state of operator id(s) ${unknown.join(', ')}, which the pipeline no longer has; set allowNonRestoredState to drop it`,
      false,
    );
  }
  // A repartition topic belongs to the run that wrote it: the savepoint's parts of a stage behind one are found
  // under this run's topic of the same keyBy, to be read from its start (their offsets are 0).
  const topicInThisRun = (topic: string) => {
    const keyBy = repartitionOperatorOf(topic, manifest.namespace, manifest.job, manifest.runId);
    return keyBy ? repartitionTopic(config.namespace, config.job, config.runId, keyBy) : topic;
  };
  const byPartition = new Map(
    manifest.partitions.map((p) => [`${topicInThisRun(p.topic)}/${p.partition}`, p]),
  );
  const missing = empty.filter((c) => !byPartition.has(`${c.topic}/${c.partition}`));
  if (ref.kind === 'url' && missing.length === empty.length && empty.length > 0) {
    // Another job's savepoint that holds none of this job's partitions is a wrong reference, not a fresh start.
    throw new RuntimeError(
      'SAVEPOINT_TOPICS_MISMATCH',
      `savepoint ${config.restoreSavepoint} holds none of the partitions this task reads (${empty.map((c) => `${c.topic}/${c.partition}`).join(', ')}); it has ${[...byPartition.keys()].join(', ') || 'none'}`,
      false,
    );
  }
  log.info(
    { savepoint: config.restoreSavepoint, from: manifest.runId, dropping: unknown },
    'restoring from a savepoint',
  );
  const offsets = empty.map((c) => {
    const saved = byPartition.get(`${c.topic}/${c.partition}`);
    return saved ? { ...c, offset: saved.offset, metadata: encodeCommitMetadata(saved.pointer) } : c;
  });
  return { offsets, storage: source.storage, manifest };
}

/** Drops restored state of operator ids the pipeline no longer has (allowNonRestoredState). */
export function dropUnknownState(runtime: PartitionRuntime, job: JobDefinition): void {
  const known = new Set(statefulOperatorIds(job));
  for (const name of [...runtime.stores.stores.keys()]) {
    const owner = name.split('/')[0] as string;
    if (known.has(owner) || owner === '__weir') continue; // __weir/: Weir's own, such as watermark floors
    // Marks the state dirty: a fresh section without the dropped state, so no later restore brings it back.
    runtime.stores.dropStore(name);
  }
}
