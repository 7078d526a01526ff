/**
 * Event time and timers, as job authors declare and use them. The engine that
 * tracks watermarks and fires timers is runtime/time/.
 */
import type { StreamRecord } from './records.ts';

/**
 * How a source's records are placed in event time. The watermark of a source
 * partition is the largest timestamp seen minus `maxOutOfOrdernessMs`; a task's
 * is the smallest over its partitions that are not idle. A partition without a
 * record for `idleTimeoutMs` of processing time is idle and holds nothing back.
 */
export interface WatermarkStrategy<K, V> {
  /** The record's event time in ms since the epoch; the Kafka record timestamp when absent. */
  timestamp?: (record: StreamRecord<K, V>) => number;
  maxOutOfOrdernessMs: number;
  /** Default: never idle. */
  idleTimeoutMs?: number;
}

/** Timers of the key being processed: fire once per (time, key), in the checkpointed state, restored with it. */
export interface TimerService {
  /** The current event-time watermark of the task (−Infinity before the first). */
  readonly watermark: number;
  /** The processing time (the TaskManager's clock; the test driver's own clock). */
  readonly now: number;
  /** Fires when the watermark passes `time`. */
  eventTime(time: number): void;
  /** Fires when the processing time reaches `time`. */
  processingTime(time: number): void;
  deleteEventTime(time: number): void;
  deleteProcessingTime(time: number): void;
}

export type TimeDomain = 'event' | 'processing';

/** A timer as onTimer() sees it. */
export interface FiredTimer<K> {
  key: K;
  time: number;
  domain: TimeDomain;
}
