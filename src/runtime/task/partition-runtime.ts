import type { CommittedOffset } from '../../kafka/assigned-consumer.ts';
import type { CheckpointStorage } from '../../storage/checkpoint-storage.ts';
import { decodeCommitMetadata, type PartitionPointer } from '../checkpoint/commit-metadata.ts';
import type { PartitionProgress } from '../checkpoint/plan.ts';
import type { StateStorage } from '../state/entry-map.ts';
import { PartitionStores } from '../state/partition-stores.ts';
import { sectionEntries, verifiedSection } from '../state/snapshot-format.ts';
import { partitionId, type TopicPartition } from './assignment.ts';
import type { TimeContext } from './stage-output.ts';

/** One owned source partition: its keyed state, position and committed pointer. */
export class PartitionRuntime implements PartitionProgress {
  readonly id: string;
  readonly tp: TopicPartition;
  readonly stores: PartitionStores;
  position: number | undefined;
  pointer: PartitionPointer | undefined;
  advanced = false;
  /** Restored from a savepoint: the next commit gives the state a section of this run's own (see plan.ts). */
  snapshotRequired = false;
  /** A section materialized in the background since the last commit (materializer.ts). */
  materialized: PartitionPointer | undefined;
  /** The time the partition's operators see in the batch at hand (set by the task at each batch). */
  time: TimeContext = { watermark: Number.NEGATIVE_INFINITY, now: 0 };

  constructor(tp: TopicPartition, stores: PartitionStores, position?: number, pointer?: PartitionPointer) {
    this.id = partitionId(tp);
    this.tp = tp;
    this.stores = stores;
    this.position = position;
    this.pointer = pointer;
  }

  get dirty(): boolean {
    return this.stores.dirty;
  }

  get changed(): boolean {
    return this.stores.hasChanges;
  }
}

/**
 * The partitions as their committed offsets left them: each committed offset's
 * metadata names the section holding the partition's state, which is read
 * with one ranged GET and verified. A partition with no committed offset
 * starts empty; anything unreadable fails the restore, naming what.
 */
export async function restorePartitions(
  committed: readonly CommittedOffset[],
  storage: CheckpointStorage,
  state: StateStorage,
): Promise<PartitionRuntime[]> {
  const restored: PartitionRuntime[] = [];
  for (const c of committed) {
    const tp = { topic: c.topic, partition: c.partition };
    const id = partitionId(tp);
    if (c.offset < 0) {
      const stores = new PartitionStores(undefined, state, id);
      stores.dirty = false; // empty state needs no section until something is written
      restored.push(new PartitionRuntime(tp, stores));
      continue;
    }
    const pointer = decodeCommitMetadata(id, c.metadata);
    const where = storage.describe(pointer.objectKey);
    const bytes = await storage.get(pointer.objectKey, { start: pointer.start, length: pointer.length });
    const section = verifiedSection(
      where,
      { ...tp, start: pointer.start, length: pointer.length, sha256: pointer.sha256 },
      bytes,
    );
    restored.push(
      new PartitionRuntime(
        tp,
        PartitionStores.fromSection(sectionEntries(where, section), state, id),
        c.offset,
        pointer,
      ),
    );
  }
  return restored;
}
