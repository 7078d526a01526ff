import type { Logger } from 'pino';
import type { CheckpointStorage } from '../../storage/checkpoint-storage.ts';
import type { PartitionPointer } from '../checkpoint/commit-metadata.ts';
import { RuntimeError } from '../errors.ts';
import { encodeSnapshot } from '../state/snapshot-format.ts';
import type { PartitionRuntime } from './partition-runtime.ts';

export interface SnapshotUpload {
  /** `s<stage>/t<task>`, written into the object's header. */
  task: string;
  checkpointId: number;
  /** Unique per process, so a zombie's late write never lands on a live object. */
  attempt: string;
  objectKey: string;
  timeoutMs: number;
}

export interface StoredSnapshot {
  bytes: number;
  /** The new pointer of every partition written, by "topic/partition". */
  pointers: Map<string, PartitionPointer>;
}

/**
 * Step 1 of the commit protocol: the changed partitions as sections of one
 * object, stored within the checkpoint timeout. Any failure throws; the
 * caller keeps the transaction open and counts it against tolerableFailures.
 */
export async function uploadSnapshot(
  storage: CheckpointStorage,
  upload: SnapshotUpload,
  changed: readonly PartitionRuntime[],
  log: Logger,
): Promise<StoredSnapshot> {
  const { checkpointId, objectKey } = upload;
  const snapshot = encodeSnapshot(
    { task: upload.task, checkpointId, attempt: upload.attempt },
    changed.map((p) => ({ ...p.tp, stores: p.stores.stores })),
  );
  log.info({ checkpointId, objectKey, partitions: changed.length }, 'checkpoint: uploading snapshot');
  await withTimeout(
    (signal) =>
      storage.put(objectKey, snapshot.bytes, {
        signal,
        onProgress: (stored, total) => {
          if (stored < total)
            log.info({ checkpointId, objectKey, stored, total }, 'checkpoint: snapshot part stored');
        },
      }),
    upload.timeoutMs,
    storage.describe(objectKey),
  );
  const pointers = new Map<string, PartitionPointer>();
  for (const section of snapshot.index.sections) {
    pointers.set(`${section.topic}/${section.partition}`, {
      checkpointId,
      objectKey,
      start: section.start,
      length: section.length,
      sha256: section.sha256,
    });
  }
  return { bytes: snapshot.bytes.length, pointers };
}

/** The work, given a signal that is aborted when it has not finished within `ms`: a write past its timeout is abandoned, not left running. */
async function withTimeout<T>(
  work: (signal: AbortSignal) => Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new RuntimeError('CHECKPOINT_TIMEOUT', `${what}: not stored within ${ms} ms`, true));
    }, ms);
  });
  try {
    return await Promise.race([work(abort.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
