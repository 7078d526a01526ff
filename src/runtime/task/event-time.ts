import type { JoinInput } from '../../sdk/joins.ts';
import type { JobDefinition, StageDefinition } from '../../sdk/pipeline.ts';
import type { PartitionStores } from '../state/partition-stores.ts';
import {
  ChannelWatermarks,
  partitionWatermark,
  SourceWatermarks,
  type WatermarkStatus,
} from '../time/watermarks.ts';
import { joinInputsRead } from './join-inputs.ts';
import type { TimeContext } from './stage-output.ts';

/** A partition the task owns, with its state. */
interface OwnedPartition {
  id: string;
  stores: PartitionStores;
}

/** Markers are written again at least this many checkpoint intervals apart, for downstream tasks that restarted. */
const markerRefreshIntervals = 5;

/**
 * A task's event time: its watermark from its source partitions (first
 * stage) or from the markers of its upstream tasks (later stages), the time
 * its operators see per partition, and when to pass its own watermark on.
 * Without a watermark strategy on the job's source, the watermark stays −∞.
 */
export class TaskEventTime {
  private readonly source: SourceWatermarks | undefined;
  private readonly channels: ChannelWatermarks | undefined;
  private sent: { status: string; at: number } | undefined;
  /** The task's watermark as of the last batch boundary (advance()). */
  current: WatermarkStatus = { watermark: Number.NEGATIVE_INFINITY, idle: false };
  private readonly partitionWatermarks = new Map<string, number>();

  constructor(
    job: JobDefinition,
    stage: StageDefinition,
    ownedPartitions: number,
    parallelism: number,
    now: number,
  ) {
    const strategy = job.source.watermarks;
    if (!strategy) return;
    // A first stage reads its joins' other sides (and the next stage's, which it sends on): both count.
    const joins = joinInputsRead(job, stage);
    if (stage.input.kind === 'source')
      this.source = new SourceWatermarks(strategy, now, joinOutOfOrderness(joins));
    else this.channels = new ChannelWatermarks(ownedPartitions, parallelism);
    this.untimed = new Set(untimedTopics(joins));
  }

  /** Topics whose partitions hold nothing back: tables joined as of processing time. */
  private untimed = new Set<string>();

  get enabled(): boolean {
    return this.source !== undefined || this.channels !== undefined;
  }

  /** A source record was read (first stage). */
  observeRecord(partitionId: string, stores: PartitionStores, timestamp: number, now: number): void {
    this.source?.observe(partitionId, stores, timestamp, now);
  }

  /** The task restored its partitions: their event time so far counts at once. */
  restore(partitions: readonly OwnedPartition[]): void {
    this.source?.restore(partitions.map((p) => [p.id, p.stores]));
  }

  /** A watermark marker arrived from upstream task `from` in `partition` (later stages). */
  observeMarker(partition: number, from: number, marker: string): void {
    this.channels?.observe(partition, from, marker);
  }

  /**
   * At a batch boundary: the task's watermark moves on, and with it the one
   * each partition's operators see, never below the partition's floor. Read
   * once here rather than per record: a floor only moves when timers fire,
   * which happens at batch boundaries too.
   */
  advance(partitions: readonly OwnedPartition[], now: number): void {
    if (this.source) {
      const timed = this.untimed.size
        ? partitions.filter((p) => !this.untimed.has(topicOf(p.id)))
        : partitions;
      this.current = this.source.current(
        timed.map((p) => p.id),
        now,
      );
    } else if (this.channels) this.current = this.channels.current();
    else return;
    for (const { id, stores } of partitions) {
      this.partitionWatermarks.set(id, partitionWatermark(stores, this.current.watermark));
    }
  }

  /** The time operators in a partition see, as of the last batch boundary (the clock: now). */
  timeIn(partitionId: string, now: number): TimeContext {
    return { watermark: this.partitionWatermarks.get(partitionId) ?? Number.NEGATIVE_INFINITY, now };
  }

  /**
   * The marker to write downstream with the next commit: when the status
   * changed since the last one, or a refresh is due; undefined otherwise.
   */
  markerDue(now: number, intervalMs: number): string | undefined {
    if (!this.enabled) return undefined;
    const status = this.current;
    const marker = status.idle ? 'idle' : String(status.watermark);
    if (!status.idle && !Number.isFinite(status.watermark)) return undefined;
    if (this.sent?.status === marker && now - this.sent.at < markerRefreshIntervals * intervalMs)
      return undefined;
    return marker;
  }

  markerSent(marker: string, now: number): void {
    this.sent = { status: marker, at: now };
  }
}

function topicOf(partitionId: string): string {
  return partitionId.slice(0, partitionId.lastIndexOf('/'));
}

/** The out-of-orderness of each join input that counts in event time (a stream, or a versioned table). */
export function joinOutOfOrderness(inputs: readonly JoinInput[]): Map<string, number> {
  return new Map(
    inputs.flatMap((j) => (j.outOfOrdernessMs === undefined ? [] : [[j.topic, j.outOfOrdernessMs]])),
  );
}

/** The join inputs that do not count in event time: tables joined as of processing time. */
export function untimedTopics(inputs: readonly JoinInput[]): string[] {
  return inputs.filter((j) => j.outOfOrdernessMs === undefined).map((j) => j.topic);
}
