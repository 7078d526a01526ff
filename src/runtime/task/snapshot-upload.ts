import type { Logger } from 'pino';
import { type CheckpointStorage, type ObjectBytes, objectLength } from '../../storage/checkpoint-storage.ts';
import type { PartitionPointer } from '../checkpoint/commit-metadata.ts';
import { RuntimeError } from '../errors.ts';
import { encodeSnapshot, type SnapshotIndex } from '../state/snapshot-format.ts';
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

/** Partitions' state encoded as one snapshot object, not yet stored. */
export interface EncodedSnapshot {
  bytes: ObjectBytes;
  /** Each section's place in the object, by "topic/partition". */
  sections: Map<string, { start: number; length: number; sha256: string }>;
}

/** The partitions' state as it is now, as one object's sections (the CPU half of a snapshot, done at once). */
export function encodePartitions(
  upload: SnapshotUpload,
  partitions: readonly PartitionRuntime[],
): EncodedSnapshot {
  const snapshot = encodeSnapshot(
    { task: upload.task, checkpointId: upload.checkpointId, attempt: upload.attempt },
    partitions.map((p) => ({ ...p.tp, stores: p.stores.stores })),
  );
  return encodedSnapshotOf(snapshot);
}

/** A snapshot object with its sections by partition id, as the pointers name them. */
export function encodedSnapshotOf(snapshot: { bytes: ObjectBytes; index: SnapshotIndex }): EncodedSnapshot {
  const sections = new Map<string, { start: number; length: number; sha256: string }>();
  for (const section of snapshot.index.sections) {
    sections.set(`${section.topic}/${section.partition}`, {
      start: section.start,
      length: section.length,
      sha256: section.sha256,
    });
  }
  return { bytes: snapshot.bytes, sections };
}

/**
 * Stores an encoded snapshot within the upload's timeout; the pointers name
 * its sections, each covering its changelog from `changelogFrom` (by
 * partition id) when the state is logged. Any failure throws.
 */
export async function storeSnapshot(
  storage: CheckpointStorage,
  upload: SnapshotUpload,
  encoded: EncodedSnapshot,
  log: Logger,
  changelogFrom?: ReadonlyMap<string, number>,
): Promise<StoredSnapshot> {
  const { checkpointId, objectKey } = upload;
  log.info({ checkpointId, objectKey, partitions: encoded.sections.size }, 'snapshot: uploading');
  await withTimeout(
    (signal) =>
      storage.put(objectKey, encoded.bytes, {
        signal,
        onProgress: (stored, total) => {
          if (stored < total) log.info({ checkpointId, objectKey, stored, total }, 'snapshot: part stored');
        },
      }),
    upload.timeoutMs,
    storage.describe(objectKey),
  );
  const pointers = new Map<string, PartitionPointer>();
  for (const [id, section] of encoded.sections) {
    const from = changelogFrom?.get(id);
    pointers.set(id, {
      checkpointId,
      objectKey,
      ...section,
      ...(from === undefined ? {} : { changelogFrom: from }),
    });
  }
  return { bytes: objectLength(encoded.bytes), pointers };
}

/**
 * Step 1 of the commit protocol: the partitions as sections of one object,
 * encoded and stored within the checkpoint timeout. Any failure throws; the
 * caller keeps the transaction open and counts it against tolerableFailures.
 */
export function uploadSnapshot(
  storage: CheckpointStorage,
  upload: SnapshotUpload,
  changed: readonly PartitionRuntime[],
  log: Logger,
  changelogFrom?: ReadonlyMap<string, number>,
): Promise<StoredSnapshot> {
  return storeSnapshot(storage, upload, encodePartitions(upload, changed), log, changelogFrom);
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
