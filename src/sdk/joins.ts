/**
 * Tables and joins, as job authors declare them. The engine is
 * runtime/time/joins.ts. A join in the first stage reads its other side in
 * the same stage as the stream it joins, partition p of each topic in the
 * task that owns p, so both sides must be co-partitioned: the same partition
 * count (checked when the task starts) and the same key format (checked
 * here). A join after a keyBy co-partitions them itself: the first stage
 * reads the other side too and sends it on through the keyBy's repartition
 * topic, partitioned by the same key.
 */
import type { Format } from './formats.ts';
import { PipelineDefinitionError, type StreamRecord } from './records.ts';

/** A compacted topic read as a table: the latest value per key; a null value (a tombstone) deletes the key. */
export interface TableSource<K, V> {
  topic: string;
  key: Format<K>;
  value: Format<V>;
  /**
   * Keeps a history of versions per key in event time, for temporalJoin:
   * each record is the key's value from its timestamp on. The table's
   * partitions then count in the task's watermark with this out-of-orderness.
   */
  versions?: {
    /** The version's event time; the Kafka record timestamp when absent. */
    timestamp?: (record: StreamRecord<K, V>) => number;
    maxOutOfOrdernessMs: number;
    /** Versions kept per key beyond the one valid at the watermark. Default 100. */
    maxVersionsPerKey?: number;
  };
}

/** A table to join with: `Pipeline.table()`. */
export interface Table<K, V> {
  readonly kind: 'table';
  readonly id: string;
  readonly source: TableSource<K, V>;
}

/** A stream to join with in a window: `Pipeline.stream()`. One topic, with event time. */
export interface JoinStreamSource<K, V> {
  topic: string;
  key: Format<K>;
  value: Format<V>;
  watermarks: {
    timestamp?: (record: StreamRecord<K, V>) => number;
    maxOutOfOrdernessMs: number;
  };
}

export interface JoinStream<K, V> {
  readonly kind: 'stream';
  readonly id: string;
  readonly source: JoinStreamSource<K, V>;
}

/** Where records too late to join go: their original key and value bytes, with headers naming the join and side. */
export interface LateJoinRecords {
  topic: string;
}

export interface WindowJoinOptions {
  /** The other side's record joins when its timestamp is at most `beforeMs` before this side's… */
  beforeMs: number;
  /** …and at most `afterMs` after it. */
  afterMs: number;
  /** How long, by the watermark, a record still joins after the bound it could match has passed. Default 0. */
  graceMs?: number;
  /** inner: matched pairs only; left: also this side's records that matched nothing; outer: both sides'. Default inner. */
  kind?: 'inner' | 'left' | 'outer';
  lateRecords: LateJoinRecords;
}

export interface IntervalJoinOptions {
  /** The other side's timestamp minus this side's must be within [lowerMs, upperMs] (Flink's between()). */
  lowerMs: number;
  upperMs: number;
  graceMs?: number;
  lateRecords: LateJoinRecords;
}

export interface TemporalJoinOptions {
  /** inner: only records with a version valid at their time; left: the others with null. Default inner. */
  kind?: 'inner' | 'left';
  /** Stream records already behind the watermark when read: the version valid then may be gone. */
  lateRecords: LateJoinRecords;
}

/** A join step as the runtime sees it, with its types erased (the builder checked them). */
export type JoinFunction = (left: unknown, right: unknown, key: unknown) => unknown;

export type JoinSpec =
  | { kind: 'table'; mode: 'inner' | 'left'; input: string }
  | {
      kind: 'temporal';
      mode: 'inner' | 'left';
      input: string;
      maxVersionsPerKey: number;
      late: LateJoinRecords;
    }
  | {
      kind: 'window';
      mode: 'inner' | 'left' | 'outer';
      input: string;
      beforeMs: number;
      afterMs: number;
      graceMs: number;
      late: LateJoinRecords;
    };

/**
 * A topic a stage reads besides its source, entering the stage at a join
 * step rather than at its first step. Its state is kept with the source
 * partition of the same number, which the same task owns.
 */
export interface JoinInput {
  readonly id: string;
  readonly role: 'table' | 'stream';
  readonly topic: string;
  readonly key: Format<unknown>;
  readonly value: Format<unknown>;
  readonly timestamp?: (record: StreamRecord<unknown, unknown>) => number;
  /** Set when the input's partitions count in the task's watermark (a stream, or a versioned table). */
  readonly outOfOrdernessMs?: number;
  /** The id of the join step its records enter. */
  readonly joinId: string;
}

export function wholeMs(name: string, ms: number, min = 0): number {
  if (!Number.isSafeInteger(ms) || ms < min) {
    throw new PipelineDefinitionError(`${name} must be a whole number of milliseconds ≥ ${min}, got ${ms}`);
  }
  return ms;
}

/** The window join's bounds, checked; an interval join is a window join with before = −lower, after = upper. */
export function windowBounds(
  id: string,
  o: { beforeMs: number; afterMs: number; graceMs?: number | undefined },
): { beforeMs: number; afterMs: number; graceMs: number } {
  const beforeMs = wholeMs(`join "${id}": beforeMs`, o.beforeMs, Number.MIN_SAFE_INTEGER);
  const afterMs = wholeMs(`join "${id}": afterMs`, o.afterMs, Number.MIN_SAFE_INTEGER);
  if (beforeMs + afterMs < 0) {
    throw new PipelineDefinitionError(
      `join "${id}": the window is empty (it spans ${-beforeMs} ms to ${afterMs} ms around each record)`,
    );
  }
  return { beforeMs, afterMs, graceMs: wholeMs(`join "${id}": graceMs`, o.graceMs ?? 0) };
}

export function lateTopic(id: string, late: { topic: string } | undefined): { topic: string } {
  if (!late?.topic) {
    throw new PipelineDefinitionError(
      `join "${id}": lateRecords.topic is required (late records are never dropped)`,
    );
  }
  return { topic: late.topic };
}

/**
 * The input a join reads, after the checks every join shares: it is in the
 * job's first stage, whose source reads one topic, or in the stage right
 * after the first keyBy (the other side then reaches it through the same
 * repartition topic, re-keyed with the keyBy's key format); the other side
 * has the same key format as the stream it joins, no topic is read twice,
 * and an event-time join has event time.
 */
export function checkedJoinInput<K, V>(
  id: string,
  other: Table<K, V> | JoinStream<K, V>,
  spec: JoinSpec,
  stage: {
    /** The stage's input: the source, or (after a keyBy) the repartition's key format. */
    input:
      | { kind: 'source'; id: string; topics: string[]; key: Format<unknown> }
      | { kind: 'repartition'; id: string; stageIndex: number; key: Format<unknown> };
    /** Every topic the job reads so far (its source and the joins' other sides). */
    readTopics: string[];
    eventTime: boolean;
  },
): JoinInput {
  const { input } = stage;
  if (input.kind === 'repartition' && input.stageIndex !== 1) {
    throw new PipelineDefinitionError(
      `join "${id}" must come before the second keyBy: its other side reaches it through the first keyBy's repartition topic`,
    );
  }
  if (input.kind === 'source' && input.topics.length !== 1) {
    throw new PipelineDefinitionError(
      `join "${id}": the source "${input.id}" reads ${input.topics.length} topics; a join before any keyBy needs exactly one (or join after a keyBy, which co-partitions both sides)`,
    );
  }
  const eventTime = spec.kind !== 'table';
  if (eventTime && !stage.eventTime) {
    throw new PipelineDefinitionError(`join "${id}" needs event time: give the source "watermarks"`);
  }
  const side = other.source;
  if (side.key.name !== input.key.name) {
    const stream = input.kind === 'source' ? `the source (topic ${input.topics[0]})` : `keyBy "${input.id}"`;
    throw new PipelineDefinitionError(
      `join "${id}": "${other.id}" (topic ${side.topic}) has key format ${side.key.name} and ${stream} ${input.key.name}; joined sides need the same key format`,
    );
  }
  if (stage.readTopics.includes(side.topic)) {
    throw new PipelineDefinitionError(`join "${id}": topic ${side.topic} is read twice in the job`);
  }
  const clock = other.kind === 'stream' ? other.source.watermarks : other.source.versions;
  return {
    id: other.id,
    role: other.kind,
    topic: side.topic,
    key: side.key as Format<unknown>,
    value: side.value as Format<unknown>,
    joinId: id,
    ...(clock?.timestamp
      ? { timestamp: clock.timestamp as (r: StreamRecord<unknown, unknown>) => number }
      : {}),
    ...(eventTime && clock ? { outOfOrdernessMs: clock.maxOutOfOrdernessMs } : {}),
  };
}
