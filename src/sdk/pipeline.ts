import type { Format } from './formats.ts';
import {
  checkedJoinInput,
  type IntervalJoinOptions,
  type JoinFunction,
  type JoinInput,
  type JoinSpec,
  type JoinStream,
  type JoinStreamSource,
  lateTopic,
  type Table,
  type TableSource,
  type TemporalJoinOptions,
  type WindowJoinOptions,
  wholeMs,
  windowBounds,
} from './joins.ts';
import { PipelineDefinitionError, type StreamRecord } from './records.ts';
import type { StateHandles, StateSpec } from './state.ts';
import type { FiredTimer, TimerService, WatermarkStrategy } from './time.ts';
import type {
  AggregateFunction,
  LateRecordsOutput,
  Window,
  WindowAssigner,
  WindowOptions,
  WindowResult,
} from './windows.ts';

export { PipelineDefinitionError, type StreamRecord } from './records.ts';

/** Where the record being processed came from. */
export interface SourcePosition {
  topic: string;
  partition: number;
  offset: string;
}

export interface KafkaSource<K, V> {
  topics: string[];
  key: Format<K>;
  value: Format<V>;
  /** Event time: without it the job has no watermark, and windows and event-time timers never fire. */
  watermarks?: WatermarkStrategy<K, V>;
}

/** A sink's formats may also write null (as the SDK's string and json formats do). */
export interface KafkaSink<K, V> {
  topic: string;
  key: Format<K> | Format<K | null>;
  value: Format<V> | Format<V | null>;
}

/**
 * What happens to a record on which decoding or a user function throws:
 * fail the task (the default: the job's restart strategy takes over, and the
 * record is met again after restore), or write it, with the error, to a
 * dead-letter topic in the same transaction as the outputs. Never dropped.
 */
export type PoisonRecordPolicy = { kind: 'fail' } | { kind: 'dead-letter'; topic: string };

export interface KeyedProcessFunction<K, V, K2, V2, S extends Record<string, StateSpec>> {
  /** State declared by name; each name is stored per key, per source partition. */
  state: S;
  process(
    record: StreamRecord<K, V>,
    state: StateHandles<S>,
    emit: (out: StreamRecord<K2, V2>) => void,
    timers: TimerService,
  ): void;
  /** A timer of this key came due; `state` is the key's. */
  onTimer?(
    timer: FiredTimer<K>,
    state: StateHandles<S>,
    emit: (out: StreamRecord<K2, V2>) => void,
    timers: TimerService,
  ): void;
}

/** The callbacks of a process step, with its types erased (the builder checked them). */
export type ProcessCallback = (
  r: StreamRecord<unknown, unknown>,
  state: never,
  emit: (o: StreamRecord<unknown, unknown>) => void,
  timers: TimerService,
) => void;
export type TimerCallback = (
  timer: FiredTimer<unknown>,
  state: never,
  emit: (o: StreamRecord<unknown, unknown>) => void,
  timers: TimerService,
) => void;

export type Step =
  | { kind: 'map'; id: string; fn: (r: StreamRecord<unknown, unknown>) => StreamRecord<unknown, unknown> }
  | { kind: 'filter'; id: string; fn: (r: StreamRecord<unknown, unknown>) => boolean }
  | {
      kind: 'flatMap';
      id: string;
      fn: (r: StreamRecord<unknown, unknown>) => Iterable<StreamRecord<unknown, unknown>>;
    }
  | {
      kind: 'process';
      id: string;
      state: Record<string, StateSpec>;
      fn: ProcessCallback;
      onTimer?: TimerCallback;
    }
  | {
      kind: 'window';
      id: string;
      assigner: WindowAssigner;
      aggregate: AggregateFunction<unknown, unknown, unknown, unknown>;
      allowedLatenessMs: number;
      late: LateRecordsOutput<unknown, unknown>;
    }
  | { kind: 'join'; id: string; spec: JoinSpec; fn: JoinFunction };

/** How records cross a repartition topic between two stages. */
export interface RepartitionFormats<K, V> {
  key: Format<K>;
  value: Format<V>;
}

/** Where a stage's records come from: the job's Kafka source, or the repartition topic of a keyBy. */
export type StageInput =
  | { kind: 'source'; id: string; source: KafkaSource<unknown, unknown> }
  | { kind: 'repartition'; id: string; formats: RepartitionFormats<unknown, unknown> };

/** Where a stage's records go: the job's sink, or (re-keyed) a repartition topic read by the next stage. */
export type StageOutput =
  | { kind: 'sink'; id: string; sink: KafkaSink<unknown, unknown> }
  | {
      kind: 'repartition';
      id: string;
      formats: RepartitionFormats<unknown, unknown>;
      /** The record as it crosses: its new key (and value). */
      select: (r: StreamRecord<unknown, unknown>) => StreamRecord<unknown, unknown>;
    };

/**
 * A stage runs between two Kafka topics: its input is the source or a
 * repartition topic, its output the sink or the next repartition topic.
 * Keyed state in a stage is keyed by the stage's input key.
 */
export interface StageDefinition {
  readonly index: number;
  readonly input: StageInput;
  readonly steps: readonly Step[];
  readonly output: StageOutput;
  /**
   * Topics joined besides the input, each entering at its join step. In the
   * first stage the task reads them itself; in the second, the first stage
   * reads them and sends their records on through the repartition topic.
   */
  readonly joins: readonly JoinInput[];
}

export interface JobDefinition {
  readonly sourceId: string;
  readonly source: KafkaSource<unknown, unknown>;
  /** In order; stage i+1 reads the repartition topic stage i writes. */
  readonly stages: readonly StageDefinition[];
  readonly sinkId: string;
  readonly sink: KafkaSink<unknown, unknown>;
  readonly poisonRecords: PoisonRecordPolicy;
}

/** Operator ids name state in snapshots, so they must stay stable across versions of a job. */
const operatorIdPattern = /^[a-z][a-z0-9-]{0,62}$/;

/** A stage being built: its input and the steps appended so far. */
interface OpenStage {
  input: StageInput;
  steps: Step[];
  joins: JoinInput[];
}

/**
 * A typed pipeline: one Kafka source, then map/filter/flatMap/keyed process
 * steps, keyBy/repartition between stages, then one Kafka sink. Every step
 * has a stable operator id; a keyBy's id also names its repartition topic.
 */
export class Pipeline<K, V> {
  private readonly source: KafkaSource<unknown, unknown>;
  private readonly closed: readonly StageDefinition[];
  private readonly open: OpenStage;

  private constructor(
    source: KafkaSource<unknown, unknown>,
    closed: readonly StageDefinition[],
    open: OpenStage,
  ) {
    this.source = source;
    this.closed = closed;
    this.open = open;
  }

  static from<K, V>(id: string, source: KafkaSource<K, V>): Pipeline<K, V> {
    checkId(id, new Set());
    if (source.topics.length === 0) throw new PipelineDefinitionError(`source "${id}" names no topics`);
    const input: StageInput = { kind: 'source', id, source: source as KafkaSource<unknown, unknown> };
    return new Pipeline<K, V>(input.source, [], { input, steps: [], joins: [] });
  }

  /** A compacted topic as a table, for join(), leftJoin() and (with `versions`) temporalJoin(). */
  static table<K, V>(id: string, source: TableSource<K, V>): Table<K, V> {
    checkId(id, new Set());
    if (!source.topic) throw new PipelineDefinitionError(`table "${id}" names no topic`);
    if (source.versions) {
      wholeMs(`table "${id}": versions.maxOutOfOrdernessMs`, source.versions.maxOutOfOrdernessMs);
      wholeMs(`table "${id}": versions.maxVersionsPerKey`, source.versions.maxVersionsPerKey ?? 100, 1);
    }
    return { kind: 'table', id, source };
  }

  /** A topic as the other side of windowJoin() or intervalJoin(). */
  static stream<K, V>(id: string, source: JoinStreamSource<K, V>): JoinStream<K, V> {
    checkId(id, new Set());
    if (!source.topic) throw new PipelineDefinitionError(`stream "${id}" names no topic`);
    wholeMs(`stream "${id}": watermarks.maxOutOfOrdernessMs`, source.watermarks?.maxOutOfOrdernessMs ?? -1);
    return { kind: 'stream', id, source };
  }

  /** Every operator id used so far: ids are unique across the whole job. */
  private ids(): Set<string> {
    const ids = new Set<string>();
    for (const stage of [...this.closed, this.open]) {
      ids.add(stage.input.id);
      for (const step of stage.steps) ids.add(step.id);
      for (const input of stage.joins) ids.add(input.id);
    }
    return ids;
  }

  private append<K2, V2>(step: Step): Pipeline<K2, V2> {
    checkId(step.id, this.ids());
    return new Pipeline<K2, V2>(this.source, this.closed, {
      ...this.open,
      steps: [...this.open.steps, step],
    });
  }

  map<K2, V2>(id: string, fn: (record: StreamRecord<K, V>) => StreamRecord<K2, V2>): Pipeline<K2, V2> {
    return this.append({ kind: 'map', id, fn: fn as Extract<Step, { kind: 'map' }>['fn'] });
  }

  filter(id: string, fn: (record: StreamRecord<K, V>) => boolean): Pipeline<K, V> {
    return this.append({ kind: 'filter', id, fn: fn as Extract<Step, { kind: 'filter' }>['fn'] });
  }

  flatMap<K2, V2>(
    id: string,
    fn: (record: StreamRecord<K, V>) => Iterable<StreamRecord<K2, V2>>,
  ): Pipeline<K2, V2> {
    return this.append({ kind: 'flatMap', id, fn: fn as Extract<Step, { kind: 'flatMap' }>['fn'] });
  }

  /**
   * A keyed process function. State is per key of the stage's input (the
   * source's key, or the key of the keyBy that began the stage) and is stored
   * with its input partition. A step before it in the same stage that changes
   * the key fails the record: change keys with keyBy, which repartitions.
   */
  process<K2, V2, S extends Record<string, StateSpec>>(
    id: string,
    fn: KeyedProcessFunction<K, V, K2, V2, S>,
  ): Pipeline<K2, V2> {
    for (const name of Object.keys(fn.state)) {
      if (!operatorIdPattern.test(name)) {
        throw new PipelineDefinitionError(`state name "${name}" of "${id}" must match ${operatorIdPattern}`);
      }
    }
    const onTimer = fn.onTimer?.bind(fn);
    return this.append({
      kind: 'process',
      id,
      state: fn.state,
      fn: ((r, state, emit, timers) =>
        fn.process(
          r as StreamRecord<K, V>,
          state as StateHandles<S>,
          emit as never,
          timers,
        )) as ProcessCallback,
      ...(onTimer
        ? {
            onTimer: ((timer, state, emit, timers) =>
              onTimer(
                timer as FiredTimer<K>,
                state as StateHandles<S>,
                emit as never,
                timers,
              )) as TimerCallback,
          }
        : {}),
    });
  }

  /**
   * Windows on the stage's key (the source key, or the key of the keyBy that
   * began the stage): each window's result is emitted once, when the
   * watermark passes its end, keyed like its input. Needs event time on the
   * source (`watermarks`). `fn` is an incremental aggregate, or a function
   * that sees the window's records (kept in state until the window fires).
   */
  window<R, A = unknown>(
    id: string,
    assigner: WindowAssigner,
    fn: AggregateFunction<K, V, A, R> | ((key: K, window: Window, records: StreamRecord<K, V>[]) => R),
    options: WindowOptions<K, V>,
  ): Pipeline<K, WindowResult<R>> {
    if (!this.source.watermarks) {
      throw new PipelineDefinitionError(
        `window "${id}" needs event time: give the source "watermarks" (a watermark strategy)`,
      );
    }
    const lateness = options.allowedLatenessMs ?? 0;
    if (!Number.isSafeInteger(lateness) || lateness < 0) {
      throw new PipelineDefinitionError(`window "${id}": allowedLatenessMs must be a whole number ≥ 0`);
    }
    if (!options.lateRecords?.topic) {
      throw new PipelineDefinitionError(
        `window "${id}": lateRecords.topic is required (late records are never dropped)`,
      );
    }
    if (assigner.kind === 'session' && typeof fn !== 'function' && !fn.merge) {
      throw new PipelineDefinitionError(`session window "${id}" needs an aggregate with merge()`);
    }
    const aggregate =
      typeof fn === 'function'
        ? collectingWindow(
            fn as (key: unknown, w: Window, records: StreamRecord<unknown, unknown>[]) => unknown,
          )
        : (fn as AggregateFunction<unknown, unknown, unknown, unknown>);
    return this.append({
      kind: 'window',
      id,
      assigner,
      aggregate,
      allowedLatenessMs: lateness,
      late: options.lateRecords as LateRecordsOutput<unknown, unknown>,
    });
  }

  /**
   * Joins each record with the table's current value for its key, as of the
   * record's processing; a record whose key the table lacks is dropped.
   * The table is kept in the job's state, per source partition.
   */
  join<T, R>(id: string, table: Table<K, T>, fn: (value: V, tableValue: T, key: K) => R): Pipeline<K, R> {
    return this.appendJoin(id, table, { kind: 'table', mode: 'inner', input: table.id }, fn as JoinFunction);
  }

  /** join(), but a record whose key the table lacks is joined with null. */
  leftJoin<T, R>(
    id: string,
    table: Table<K, T>,
    fn: (value: V, tableValue: T | null, key: K) => R,
  ): Pipeline<K, R> {
    return this.appendJoin(id, table, { kind: 'table', mode: 'left', input: table.id }, fn as JoinFunction);
  }

  /**
   * Joins each record with the table's version valid at the record's event
   * time (a versioned table: `versions` on its source). A record waits in
   * state until the watermark, the least of both sides', reaches its time,
   * so a version written a little after the record still counts.
   */
  temporalJoin<T, R>(
    id: string,
    table: Table<K, T>,
    fn: (value: V, tableValue: T | null, key: K) => R,
    options: TemporalJoinOptions,
  ): Pipeline<K, R> {
    if (!table.source.versions) {
      throw new PipelineDefinitionError(
        `temporal join "${id}": table "${table.id}" keeps no versions (give its source "versions")`,
      );
    }
    return this.appendJoin(
      id,
      table,
      {
        kind: 'temporal',
        mode: options.kind ?? 'inner',
        input: table.id,
        maxVersionsPerKey: table.source.versions.maxVersionsPerKey ?? 100,
        late: lateTopic(id, options.lateRecords),
      },
      fn as JoinFunction,
    );
  }

  /**
   * Joins records of both streams with the same key whose timestamps are
   * close: the other side's at most `beforeMs` before this side's and at
   * most `afterMs` after. Each side is kept in state until the watermark
   * passes its window plus grace; unmatched records (left, outer) are
   * emitted then, with null for the side they lack.
   */
  windowJoin<V2, R>(
    id: string,
    other: JoinStream<K, V2>,
    options: WindowJoinOptions,
    fn: (left: V | null, right: V2 | null, key: K) => R,
  ): Pipeline<K, R> {
    return this.appendJoin(
      id,
      other,
      {
        kind: 'window',
        mode: options.kind ?? 'inner',
        input: other.id,
        ...windowBounds(id, options),
        late: lateTopic(id, options.lateRecords),
      },
      fn as JoinFunction,
    );
  }

  /** Flink's interval join: inner pairs with other.timestamp − this.timestamp in [lowerMs, upperMs]. */
  intervalJoin<V2, R>(
    id: string,
    other: JoinStream<K, V2>,
    options: IntervalJoinOptions,
    fn: (left: V, right: V2, key: K) => R,
  ): Pipeline<K, R> {
    if (options.lowerMs > options.upperMs) {
      throw new PipelineDefinitionError(
        `interval join "${id}": lowerMs ${options.lowerMs} is above upperMs ${options.upperMs}`,
      );
    }
    return this.appendJoin(
      id,
      other,
      {
        kind: 'window',
        mode: 'inner',
        input: other.id,
        ...windowBounds(id, {
          beforeMs: -options.lowerMs,
          afterMs: options.upperMs,
          graceMs: options.graceMs,
        }),
        late: lateTopic(id, options.lateRecords),
      },
      fn as JoinFunction,
    );
  }

  /** A join step and the input it reads, after the checks every join shares. */
  private appendJoin<R, K2, V2>(
    id: string,
    other: Table<K2, V2> | JoinStream<K2, V2>,
    spec: JoinSpec,
    fn: JoinFunction,
  ): Pipeline<K, R> {
    const { input } = this.open;
    checkId(other.id, this.ids());
    const joinInput = checkedJoinInput(id, other, spec, {
      input:
        input.kind === 'source'
          ? { kind: 'source', id: input.id, topics: input.source.topics, key: input.source.key }
          : { kind: 'repartition', id: input.id, stageIndex: this.closed.length, key: input.formats.key },
      readTopics: [
        ...this.source.topics,
        ...[...this.closed, this.open].flatMap((s) => s.joins.map((j) => j.topic)),
      ],
      eventTime: this.source.watermarks !== undefined,
    });
    checkId(id, new Set([...this.ids(), other.id]));
    return new Pipeline<K, R>(this.source, this.closed, {
      ...this.open,
      steps: [...this.open.steps, { kind: 'join', id, spec, fn }],
      joins: [...this.open.joins, joinInput],
    });
  }

  /**
   * Re-keys the stream: ends the stage here. Records cross Kafka through the
   * job's repartition topic named after `id`, partitioned by the new key, in
   * the same transaction that commits this stage's input; keyed state after
   * it is per new key.
   */
  keyBy<K2>(
    id: string,
    key: (record: StreamRecord<K, V>) => K2,
    formats: RepartitionFormats<K2, V>,
  ): Pipeline<K2, V> {
    return this.repartition<K2, V>(
      id,
      (r) => ({ key: key(r), value: r.value, timestamp: r.timestamp }),
      formats,
    );
  }

  /** keyBy that changes the key and the value together. */
  repartition<K2, V2>(
    id: string,
    select: (record: StreamRecord<K, V>) => StreamRecord<K2, V2>,
    formats: RepartitionFormats<K2, V2>,
  ): Pipeline<K2, V2> {
    checkId(id, this.ids());
    const output: StageOutput = {
      kind: 'repartition',
      id,
      formats: formats as RepartitionFormats<unknown, unknown>,
      select: select as (r: StreamRecord<unknown, unknown>) => StreamRecord<unknown, unknown>,
    };
    const stage: StageDefinition = {
      index: this.closed.length,
      input: this.open.input,
      steps: this.open.steps,
      output,
      joins: this.open.joins,
    };
    const input: StageInput = { kind: 'repartition', id, formats: output.formats };
    return new Pipeline<K2, V2>(this.source, [...this.closed, stage], { input, steps: [], joins: [] });
  }

  to(id: string, sink: KafkaSink<K, V>, options: { poisonRecords?: PoisonRecordPolicy } = {}): JobDefinition {
    checkId(id, this.ids());
    const poisonRecords = options.poisonRecords ?? { kind: 'fail' };
    const inputs = [
      ...this.source.topics,
      ...[...this.closed, this.open].flatMap((s) => s.joins.map((j) => j.topic)),
    ];
    if (poisonRecords.kind === 'dead-letter' && inputs.includes(poisonRecords.topic)) {
      throw new PipelineDefinitionError(`dead-letter topic "${poisonRecords.topic}" is also an input topic`);
    }
    const last: StageDefinition = {
      index: this.closed.length,
      input: this.open.input,
      steps: this.open.steps,
      output: { kind: 'sink', id, sink: sink as KafkaSink<unknown, unknown> },
      joins: this.open.joins,
    };
    const first = this.closed[0] ?? last;
    return {
      sourceId: first.input.id,
      source: this.source,
      stages: [...this.closed, last],
      sinkId: id,
      sink: sink as KafkaSink<unknown, unknown>,
      poisonRecords,
    };
  }
}

/** The operator ids that keep state: the names state is stored and restored under. */
export function statefulOperatorIds(job: JobDefinition): string[] {
  return job.stages.flatMap(statefulStepIds);
}

/** The ids of a stage's steps that keep keyed state (process functions and windows). */
export function statefulStepIds(stage: StageDefinition): string[] {
  return stage.steps
    .filter((s) => s.kind === 'process' || s.kind === 'window' || s.kind === 'join')
    .map((s) => s.id);
}

/** A function of the window's records as an aggregate whose accumulator is those records (value and time). */
function collectingWindow(
  fn: (key: unknown, window: Window, records: StreamRecord<unknown, unknown>[]) => unknown,
): AggregateFunction<unknown, unknown, unknown, unknown> {
  type Kept = { value: unknown; timestamp: number }[];
  return {
    create: () => [],
    add: (acc, r) => [...(acc as Kept), { value: r.value, timestamp: r.timestamp }],
    merge: (a, b) => [...(a as Kept), ...(b as Kept)].sort((x, y) => x.timestamp - y.timestamp),
    result: (acc, key, window) =>
      fn(
        key,
        window,
        (acc as Kept).map((r) => ({ key, ...r })),
      ),
  };
}

/** The ids of the job's repartitions (keyBy), in stage order: each names one internal topic. */
export function repartitionIds(job: JobDefinition): string[] {
  return job.stages.flatMap((stage) => (stage.output.kind === 'repartition' ? [stage.output.id] : []));
}

function checkId(id: string, taken: Set<string>): void {
  if (!operatorIdPattern.test(id)) {
    throw new PipelineDefinitionError(
      `operator id "${id}" must match ${operatorIdPattern} (it names state in snapshots)`,
    );
  }
  if (taken.has(id)) throw new PipelineDefinitionError(`operator id "${id}" is used twice`);
}
