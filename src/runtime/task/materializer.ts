import type { Logger } from 'pino';
import { snapshotKey } from '../../api/names.ts';
import type { CheckpointStorage } from '../../storage/checkpoint-storage.ts';
import { assembleSnapshotInSlices, encodeSectionInSlices } from '../state/snapshot-format.ts';
import type { PartitionRuntime } from './partition-runtime.ts';
import {
  type EncodedSnapshot,
  encodedSnapshotOf,
  type SnapshotUpload,
  storeSnapshot,
} from './snapshot-upload.ts';

export interface MaterializerOptions {
  storage: CheckpointStorage;
  /** The task's state prefix in the run (names.ts taskStatePrefix). */
  prefix: string;
  /** `s<stage>/t<task>`, in the object's header. */
  task: string;
  attempt: string;
  /** How often a task's changed state is stored as sections, at most. */
  intervalMs: number;
  /** One upload's limit. */
  timeoutMs: number;
  now: () => number;
  log: Logger;
  /** Every object this task stores, for retention to consider once nothing refers to it. */
  written: Set<string>;
  /** Told of each stored and failed materialization (metrics). */
  onStored?: (bytes: number) => void;
  onFailed?: () => void;
}

/**
 * Background materialization of a task's logged state (DESIGN.md, State):
 * now and then, the partitions whose state changed since their last section
 * are encoded as they stand at a checkpoint and stored as one object while
 * the task goes on; the sections, with the changelog offsets they cover,
 * are committed by the next checkpoint after the upload (PartitionRuntime.
 * materialized). A failed or slow upload costs only a longer replay on
 * restore: the changelog in Kafka holds everything after the committed
 * section, and the next round tries again.
 */
export class Materializer {
  private readonly options: MaterializerOptions;
  private inFlight: Promise<void> | undefined;
  /** The object the round in flight is storing: retention must not take it. */
  inFlightKey: string | undefined;
  private lastStartedAt: number;
  /** When the task's state was last wholly in committed or pending sections; the lag is measured from it. */
  private coveredAt: number;
  failures = 0;

  constructor(options: MaterializerOptions) {
    this.options = options;
    this.lastStartedAt = options.now();
    this.coveredAt = options.now();
  }

  /** Whether a round should start at this checkpoint: the interval passed and none is in flight. */
  due(): boolean {
    return !this.busy && this.options.now() - this.lastStartedAt >= this.options.intervalMs;
  }

  /** A round is in flight: its partitions are frozen, and no other round may start before it ends. */
  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /** How long the task's state has had changes that no stored section holds (0 when none do). */
  lagMs(partitions: Iterable<PartitionRuntime>): number {
    for (const p of partitions) if (p.dirty || p.materialized) return this.options.now() - this.coveredAt;
    return 0;
  }

  /**
   * Stores the partitions as they are now (the state committed by the
   * checkpoint under way) in the background: the state is frozen at once
   * (copy on write, PartitionStores.freeze) and encoded, hashed and uploaded
   * a slice at a time between the task's batches. `changelogFrom` is each
   * partition's changelog end before this checkpoint's changes were logged:
   * replaying from there onto the section repeats those changes, which sets
   * each entry to the value it already has.
   */
  start(
    checkpointId: number,
    partitions: readonly PartitionRuntime[],
    changelogFrom: ReadonlyMap<string, number>,
  ): void {
    const { options } = this;
    // Its partitions would be frozen again, losing the values the round in flight still reads.
    if (this.busy) throw new Error('a materialization round is already in flight');
    const startedAt = options.now();
    this.lastStartedAt = startedAt;
    const upload: SnapshotUpload = {
      task: options.task,
      checkpointId,
      attempt: options.attempt,
      objectKey: snapshotKey(options.prefix, checkpointId, options.attempt),
      timeoutMs: options.timeoutMs,
    };
    for (const p of partitions) {
      p.stores.freeze();
      p.stores.dirty = false;
    }
    options.written.add(upload.objectKey);
    this.inFlightKey = upload.objectKey;
    this.inFlight = encodeFrozen(upload, partitions)
      .then((encoded) => storeSnapshot(options.storage, upload, encoded, options.log, changelogFrom))
      .then(
        (stored) => {
          for (const p of partitions) {
            const pointer = stored.pointers.get(p.id);
            // A savepoint committed meanwhile named a newer section: this one is not needed.
            if (pointer && pointer.checkpointId >= (p.pointer?.checkpointId ?? 0)) p.materialized = pointer;
          }
          this.failures = 0;
          this.coveredAt = startedAt;
          options.onStored?.(stored.bytes);
          options.log.info(
            {
              checkpointId,
              objectKey: upload.objectKey,
              bytes: stored.bytes,
              partitions: partitions.length,
              ms: options.now() - startedAt,
            },
            'materialization: sections stored; the next checkpoint commits them',
          );
        },
        (error: unknown) => {
          // The state is still only in the changelog: the next round stores it.
          for (const p of partitions) p.stores.dirty = true;
          this.failures++;
          options.onFailed?.();
          options.log.warn(
            { err: error, checkpointId, objectKey: upload.objectKey, consecutiveFailures: this.failures },
            'materialization failed; commits go on through the changelog, and the next round retries',
          );
        },
      )
      .finally(() => {
        this.inFlight = undefined;
        this.inFlightKey = undefined;
      });
  }

  /** Waits for the round in flight, if any (tests). */
  async settle(): Promise<void> {
    await this.inFlight;
  }
}

/** Between two slices of a background snapshot, the task's records and timers get the thread. */
const pause = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The frozen partitions as one snapshot object, encoded and hashed in slices; thaws them whatever happens. */
async function encodeFrozen(
  upload: SnapshotUpload,
  partitions: readonly PartitionRuntime[],
): Promise<EncodedSnapshot> {
  try {
    const sections: { topic: string; partition: number; section: Buffer[] }[] = [];
    for (const p of partitions) {
      const section = await encodeSectionInSlices(
        p.stores.frozenStoreNames,
        (name) => p.stores.frozenEntries(name),
        pause,
      );
      sections.push({ ...p.tp, section });
    }
    const snapshot = await assembleSnapshotInSlices(
      { task: upload.task, checkpointId: upload.checkpointId, attempt: upload.attempt },
      sections,
      pause,
    );
    return encodedSnapshotOf(snapshot);
  } finally {
    for (const p of partitions) p.stores.thaw();
  }
}
