import type { WatermarkStrategy } from '../../sdk/time.ts';
import type { PartitionStores } from '../state/partition-stores.ts';

/**
 * Event-time watermarks. A watermark W says no more records at or before W
 * are expected. Watermarks are not checkpointed (as in Flink): a restored task
 * starts low and catches up as records and upstream markers arrive. What must
 * not go back is a decision already committed, a window fired or removed, so
 * each partition keeps a floor in its state: the watermark its timers last
 * fired at. A partition never sees a watermark below its floor.
 */

/** A task's watermark, or that it is idle (all its inputs idle): it then holds nothing back downstream. */
export interface WatermarkStatus {
  watermark: number;
  idle: boolean;
}

/** Store and entries of a partition's watermark floor and largest timestamp (Weir-internal, kept whatever the pipeline). */
export const internalTimeStore = '__weir/time';
const floorEntry = 'watermark-floor';
const maxTimestampEntry = 'max-timestamp';

/** The watermark operators in a partition see: the task's, but never below the partition's floor. */
export function partitionWatermark(stores: PartitionStores, taskWatermark: number): number {
  const floor = stores.valueState<number>(internalTimeStore, floorEntry).get();
  return floor === undefined ? taskWatermark : Math.max(floor, taskWatermark);
}

/** Timers fired in the partition at `watermark`: what they decided must hold after a restore. */
export function raiseFloor(stores: PartitionStores, watermark: number): void {
  const floor = stores.valueState<number>(internalTimeStore, floorEntry);
  if (Number.isFinite(watermark) && watermark > (floor.get() ?? Number.NEGATIVE_INFINITY))
    floor.set(watermark);
}

/**
 * The watermark of a first-stage task from its source partitions: per
 * partition the largest timestamp seen less the allowed out-of-orderness (and
 * 1 ms, as Flink); the task's is the smallest over partitions that are not
 * idle, and never goes back.
 */
export class SourceWatermarks {
  private readonly outOfOrdernessMs: number;
  private readonly idleTimeoutMs: number;
  private readonly startedAt: number;
  private readonly maxTimestamp = new Map<string, number>();
  private readonly lastRecordAt = new Map<string, number>();
  private readonly unsaved = new Map<string, PartitionStores>();
  private last = Number.NEGATIVE_INFINITY;
  /** A join's other input may have an out-of-orderness of its own, by topic. */
  private readonly topicOutOfOrderness: ReadonlyMap<string, number>;

  constructor(
    strategy: Pick<WatermarkStrategy<unknown, unknown>, 'maxOutOfOrdernessMs' | 'idleTimeoutMs'>,
    now: number,
    topicOutOfOrderness: ReadonlyMap<string, number> = new Map(),
  ) {
    this.topicOutOfOrderness = topicOutOfOrderness;
    this.outOfOrdernessMs = strategy.maxOutOfOrdernessMs;
    this.idleTimeoutMs = strategy.idleTimeoutMs ?? Number.POSITIVE_INFINITY;
    this.startedAt = now;
  }

  /**
   * A record of `partition` was read. The partition's largest timestamp is
   * kept in its state too: a task restored with nothing new to read must
   * still know its watermark, or event time downstream would stand still.
   */
  observe(partition: string, stores: PartitionStores, timestamp: number, now: number): void {
    const max = this.restoredMax(partition, stores);
    if (timestamp > max) {
      this.maxTimestamp.set(partition, timestamp);
      this.unsaved.set(partition, stores);
    }
    this.lastRecordAt.set(partition, now);
  }

  /**
   * The largest timestamps raised since the last save, into their
   * partitions' state: once a batch (current() does it) rather than at every
   * record, which cost an event-time job a state write per record. A
   * checkpoint between a record and its batch's end stores a maximum a batch
   * old, so a restored task starts from a watermark no higher than it had:
   * the floor (above) keeps what timers decided, and the rest is redone.
   */
  private save(): void {
    for (const [partition, stores] of this.unsaved) {
      stores
        .valueState<number>(internalTimeStore, maxTimestampEntry)
        .set(this.maxTimestamp.get(partition) as number);
    }
    this.unsaved.clear();
  }

  /** The partition's largest timestamp, read from its state the first time. */
  private restoredMax(partition: string, stores: PartitionStores): number {
    let max = this.maxTimestamp.get(partition);
    if (max === undefined) {
      max = stores.valueState<number>(internalTimeStore, maxTimestampEntry).get() ?? Number.NEGATIVE_INFINITY;
      this.maxTimestamp.set(partition, max);
    }
    return max;
  }

  /** Partitions restored with state: their largest timestamps count before any new record arrives. */
  restore(partitions: Iterable<[string, PartitionStores]>): void {
    for (const [partition, stores] of partitions) this.restoredMax(partition, stores);
  }

  /** Raises the watermark to at least `watermark` (the test driver's advanceEventTime). */
  raise(watermark: number): void {
    this.last = Math.max(this.last, watermark);
  }

  current(partitions: Iterable<string>, now: number): WatermarkStatus {
    this.save();
    let min = Number.POSITIVE_INFINITY;
    let active = 0;
    for (const p of partitions) {
      if (now - (this.lastRecordAt.get(p) ?? this.startedAt) >= this.idleTimeoutMs) continue;
      active++;
      const max = this.maxTimestamp.get(p) ?? Number.NEGATIVE_INFINITY;
      const outOfOrderness = this.topicOutOfOrderness.size
        ? (this.topicOutOfOrderness.get(p.slice(0, p.lastIndexOf('/'))) ?? this.outOfOrdernessMs)
        : this.outOfOrdernessMs;
      min = Math.min(min, max - outOfOrderness - 1);
    }
    if (active > 0) this.last = Math.max(this.last, min);
    return { watermark: this.last, idle: active === 0 };
  }
}

/**
 * The watermark of a task behind a repartition topic: each upstream task
 * writes its watermark (or that it is idle) into every partition it feeds;
 * the task's is the smallest over every (partition, upstream task) channel
 * that is not idle, a channel not heard from yet counting as −∞. It never goes back.
 */
export class ChannelWatermarks {
  private readonly channels = new Map<string, number | 'idle'>();
  private readonly expected: number;
  private last = Number.NEGATIVE_INFINITY;

  constructor(partitions: number, upstreamTasks: number) {
    this.expected = partitions * upstreamTasks;
  }

  observe(partition: number, from: number, marker: string): void {
    this.channels.set(`${partition}/${from}`, marker === 'idle' ? 'idle' : Number(marker));
  }

  current(): WatermarkStatus {
    let min = this.channels.size < this.expected ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    let active = this.expected - this.channels.size;
    for (const w of this.channels.values()) {
      if (w === 'idle') continue;
      active++;
      min = Math.min(min, w);
    }
    if (active > 0) this.last = Math.max(this.last, min);
    return { watermark: this.last, idle: active === 0 };
  }
}
