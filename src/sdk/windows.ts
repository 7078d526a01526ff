/** Windows on keyed streams, as job authors declare them. The engine is runtime/time/windows.ts. */
import type { Format } from './formats.ts';
import { PipelineDefinitionError, type StreamRecord } from './records.ts';

/** [start, end): a window's bounds in event time, ms since the epoch. */
export interface Window {
  start: number;
  end: number;
}

export type WindowAssigner =
  | { kind: 'tumbling'; sizeMs: number }
  | { kind: 'hopping'; sizeMs: number; slideMs: number }
  | { kind: 'session'; gapMs: number };

function positive(name: string, ms: number): number {
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new PipelineDefinitionError(`${name} must be a positive whole number of milliseconds, got ${ms}`);
  }
  return ms;
}

/** Back-to-back windows of `sizeMs`, aligned to the epoch. */
export function tumbling(sizeMs: number): WindowAssigner {
  return { kind: 'tumbling', sizeMs: positive('tumbling window size', sizeMs) };
}

/** Windows of `sizeMs` starting every `slideMs`: a record belongs to size/slide of them. */
export function hopping(sizeMs: number, slideMs: number): WindowAssigner {
  positive('hopping window size', sizeMs);
  positive('hopping window slide', slideMs);
  if (sizeMs % slideMs !== 0) {
    throw new PipelineDefinitionError(
      `hopping window size ${sizeMs} must be a multiple of its slide ${slideMs}`,
    );
  }
  return { kind: 'hopping', sizeMs, slideMs };
}

/** Per key, records less than `gapMs` apart share a window; windows merge when a record bridges them. */
export function session(gapMs: number): WindowAssigner {
  return { kind: 'session', gapMs: positive('session gap', gapMs) };
}

/**
 * Incremental aggregation: an accumulator per key and window, stored as JSON
 * in the checkpointed state. `merge` is needed by session windows, which merge.
 */
export interface AggregateFunction<K, V, A, R> {
  create(): A;
  add(accumulator: A, record: StreamRecord<K, V>): A;
  merge?(a: A, b: A): A;
  result(accumulator: A, key: K, window: Window): R;
}

/** A function that sees the window's records at once (kept in state until the window fires). */
export type WindowFunction<K, V, R> = (key: K, window: Window, records: StreamRecord<K, V>[]) => R;

/** Where records too late for every window they belong to go, with the formats to write them in. */
export interface LateRecordsOutput<K, V> {
  topic: string;
  key: Format<K>;
  value: Format<V>;
}

export interface WindowOptions<K, V> {
  /**
   * How long after a window's end (by the watermark) records are still added
   * to it; each such record emits the window's updated result again. Default 0.
   */
  allowedLatenessMs?: number;
  /** Records later than that: written here, never dropped silently. Required. */
  lateRecords: LateRecordsOutput<K, V>;
}

/** What a window emits: the key's result for one window, once when the watermark passes its end. */
export interface WindowResult<R> {
  start: number;
  end: number;
  result: R;
  /** 0 for the result at the window's end; n for the n-th update by a late record within the allowed lateness. */
  update: number;
}
