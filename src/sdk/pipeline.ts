import { CodedError } from '../errors.ts';
import type { Format } from './formats.ts';
import type { StateHandles, StateSpec } from './state.ts';

/** A record as user functions see it: decoded key and value. */
export interface StreamRecord<K, V> {
  key: K;
  value: V;
  /** Milliseconds since the epoch, from the source record. */
  timestamp: number;
}

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
}

export interface KafkaSink<K, V> {
  topic: string;
  key: Format<K>;
  value: Format<V>;
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
  ): void;
}

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
      fn: (
        r: StreamRecord<unknown, unknown>,
        state: never,
        emit: (o: StreamRecord<unknown, unknown>) => void,
      ) => void;
    };

export interface JobDefinition {
  readonly sourceId: string;
  readonly source: KafkaSource<unknown, unknown>;
  readonly steps: readonly Step[];
  readonly sinkId: string;
  readonly sink: KafkaSink<unknown, unknown>;
  readonly poisonRecords: PoisonRecordPolicy;
}

export class PipelineDefinitionError extends CodedError {
  constructor(message: string) {
    super('PIPELINE_INVALID', message, false);
  }
}

/** Operator ids name state in snapshots, so they must stay stable across versions of a job. */
const operatorIdPattern = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * A typed, linear pipeline: one Kafka source, then map/filter/flatMap/keyed
 * process steps, then one Kafka sink. Every step has a stable operator id.
 */
export class Pipeline<K, V> {
  private readonly sourceId: string;
  private readonly source: KafkaSource<unknown, unknown>;
  private readonly steps: Step[];

  private constructor(sourceId: string, source: KafkaSource<unknown, unknown>, steps: Step[]) {
    this.sourceId = sourceId;
    this.source = source;
    this.steps = steps;
  }

  static from<K, V>(id: string, source: KafkaSource<K, V>): Pipeline<K, V> {
    checkId(id, new Set());
    if (source.topics.length === 0) throw new PipelineDefinitionError(`source "${id}" names no topics`);
    return new Pipeline<K, V>(id, source as KafkaSource<unknown, unknown>, []);
  }

  private append<K2, V2>(step: Step): Pipeline<K2, V2> {
    checkId(step.id, new Set([this.sourceId, ...this.steps.map((s) => s.id)]));
    return new Pipeline<K2, V2>(this.sourceId, this.source, [...this.steps, step]);
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
   * A keyed process function. State is per record key and stored with the
   * source partition, so the key must be the one the record had at the
   * source: a step before it that changes the key fails the task (a change of
   * key needs a repartition through Kafka, which this SDK does not offer yet).
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
    return this.append({
      kind: 'process',
      id,
      state: fn.state,
      fn: ((r, state, emit) =>
        fn.process(r as StreamRecord<K, V>, state as StateHandles<S>, emit as never)) as Extract<
        Step,
        { kind: 'process' }
      >['fn'],
    });
  }

  to(id: string, sink: KafkaSink<K, V>, options: { poisonRecords?: PoisonRecordPolicy } = {}): JobDefinition {
    checkId(id, new Set([this.sourceId, ...this.steps.map((s) => s.id)]));
    const poisonRecords = options.poisonRecords ?? { kind: 'fail' };
    if (poisonRecords.kind === 'dead-letter' && this.source.topics.includes(poisonRecords.topic)) {
      throw new PipelineDefinitionError(`dead-letter topic "${poisonRecords.topic}" is also a source topic`);
    }
    return {
      sourceId: this.sourceId,
      source: this.source,
      steps: this.steps,
      sinkId: id,
      sink: sink as KafkaSink<unknown, unknown>,
      poisonRecords,
    };
  }
}

/** The operator ids that keep state: the names state is stored and restored under. */
export function statefulOperatorIds(job: JobDefinition): string[] {
  return job.steps.filter((s) => s.kind === 'process').map((s) => s.id);
}

function checkId(id: string, taken: Set<string>): void {
  if (!operatorIdPattern.test(id)) {
    throw new PipelineDefinitionError(
      `operator id "${id}" must match ${operatorIdPattern} (it names state in snapshots)`,
    );
  }
  if (taken.has(id)) throw new PipelineDefinitionError(`operator id "${id}" is used twice`);
}
