import type { JobDefinition, StageDefinition } from '../../sdk/pipeline.ts';
import type { TimeContext } from '../executor.ts';
import type { PartitionStores } from '../state/partition-stores.ts';
import {
  ChannelWatermarks,
  partitionWatermark,
  SourceWatermarks,
  type WatermarkStatus,
} from '../time/watermarks.ts';

/** The header of a watermark marker in a repartition topic: the upstream task's watermark, or "idle". */
export const watermarkHeader = 'weir.watermark';

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

  constructor(
    job: JobDefinition,
    stage: StageDefinition,
    ownedPartitions: number,
    parallelism: number,
    now: number,
  ) {
    const strategy = job.source.watermarks;
    if (!strategy) return;
    if (stage.input.kind === 'source') this.source = new SourceWatermarks(strategy, now);
    else this.channels = new ChannelWatermarks(ownedPartitions, parallelism);
  }

  get enabled(): boolean {
    return this.source !== undefined || this.channels !== undefined;
  }

  /** A source record was read (first stage). */
  observeRecord(partitionId: string, stores: PartitionStores, timestamp: number, now: number): void {
    this.source?.observe(partitionId, stores, timestamp, now);
  }

  /** The task restored its partitions: their event time so far counts at once. */
  restore(partitions: Iterable<[string, PartitionStores]>): void {
    this.source?.restore(partitions);
  }

  /** A watermark marker arrived from upstream task `from` in `partition` (later stages). */
  observeMarker(partition: number, from: number, marker: string): void {
    this.channels?.observe(partition, from, marker);
  }

  status(partitionIds: Iterable<string>, now: number): WatermarkStatus {
    if (this.source) return this.source.current(partitionIds, now);
    if (this.channels) return this.channels.current();
    return { watermark: Number.NEGATIVE_INFINITY, idle: false };
  }

  /** The time operators in a partition see. */
  timeIn(stores: PartitionStores, taskWatermark: number, now: number): TimeContext {
    return { watermark: partitionWatermark(stores, taskWatermark), now };
  }

  /**
   * The marker to write downstream with the next commit: when the status
   * changed since the last one, or a refresh is due; undefined otherwise.
   */
  markerDue(status: WatermarkStatus, now: number, intervalMs: number): string | undefined {
    if (!this.enabled) return undefined;
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
