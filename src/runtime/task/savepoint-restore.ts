import type { Logger } from 'pino';
import type { CommittedOffset } from '../../kafka/assigned-consumer.ts';
import { type JobDefinition, statefulOperatorIds } from '../../sdk/pipeline.ts';
import type { CheckpointStorage } from '../../storage/checkpoint-storage.ts';
import { encodeCommitMetadata } from '../checkpoint/commit-metadata.ts';
import { readManifest, unrestorableOperators } from '../checkpoint/savepoint-manifest.ts';
import type { TaskManagerConfig } from '../config.ts';
import { RuntimeError } from '../errors.ts';
import type { PartitionRuntime } from './partition-runtime.ts';

/**
 * A new run restoring from a savepoint: the owned partitions' offsets and
 * pointers come from its manifest instead of the (empty) offset group, in the
 * shape a committed offset has, so the ordinary restore path reads them.
 */
export async function savepointOffsets(
  deps: { config: TaskManagerConfig; job: JobDefinition; storage: CheckpointStorage },
  empty: readonly CommittedOffset[],
  log: Logger,
): Promise<CommittedOffset[]> {
  const { config, job, storage } = deps;
  const id = config.restoreSavepoint as string;
  const manifest = await readManifest(storage, config.namespace, config.job, id);
  const unknown = unrestorableOperators(manifest.operatorIds, statefulOperatorIds(job));
  if (unknown.length && !config.allowNonRestoredState) {
    throw new RuntimeError(
      'SAVEPOINT_STATE_NOT_RESTORED',
      `savepoint ${id} holds state of operator id(s) ${unknown.join(', ')}, which the pipeline no longer has; set allowNonRestoredState to drop it`,
      false,
    );
  }
  const byPartition = new Map(manifest.partitions.map((p) => [`${p.topic}/${p.partition}`, p]));
  log.info({ savepoint: id, from: manifest.runId, dropping: unknown }, 'restoring from a savepoint');
  return empty.map((c) => {
    const saved = byPartition.get(`${c.topic}/${c.partition}`);
    return saved ? { ...c, offset: saved.offset, metadata: encodeCommitMetadata(saved.pointer) } : c;
  });
}

/** Drops restored state of operator ids the pipeline no longer has (allowNonRestoredState). */
export function dropUnknownState(runtime: PartitionRuntime, job: JobDefinition): void {
  const known = new Set(statefulOperatorIds(job));
  for (const name of [...runtime.stores.stores.keys()]) {
    if (known.has(name.split('/')[0] as string)) continue;
    runtime.stores.stores.delete(name);
    // A fresh section without the dropped state, so no later restore brings it back.
    runtime.stores.dirty = true;
  }
}
