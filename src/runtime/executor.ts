import { CodedError } from '../errors.ts';
import type { JobDefinition, SourcePosition, StageDefinition, Step, StreamRecord } from '../sdk/pipeline.ts';
import { fromTaskHeader } from './checkpoint/barriers.ts';
import type { PartitionStores } from './state/partition-stores.ts';

/** A record ready for the producer. */
export interface OutputRecord {
  topic: string;
  /** Set for a repartition topic: the partition of the record's new key. */
  partition?: number;
  key: Buffer | null;
  value: Buffer | null;
  /** The event time carried across a repartition; the producer's clock otherwise. */
  timestamp?: number;
  headers: Record<string, string>;
}

/** Where a stage's repartition output goes in this run: the topic, its partition count, and the writing task. */
export interface RepartitionRoute {
  topic: string;
  partitions: number;
  fromTask: number;
}

/**
 * The partition of a repartitioned record: FNV-1a over the encoded key
 * bytes, so every task of the upstream stage sends a key to the same
 * downstream partition whatever its language-level type.
 */
export function partitionOfKey(key: Buffer | null, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of key ?? []) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** A record that failed, under the job's `fail` policy. Not retriable: it would fail the same way again. */
export class PoisonRecordError extends CodedError {
  readonly position: SourcePosition;
  readonly operatorId: string;

  constructor(position: SourcePosition, operatorId: string, cause: unknown) {
    super(
      'POISON_RECORD',
      `record ${position.topic}/${position.partition}@${position.offset} failed in "${operatorId}": ${(cause as Error)?.message ?? String(cause)}`,
      false,
      { cause },
    );
    this.position = position;
    this.operatorId = operatorId;
  }
}

/** The string a key is stored under in keyed state. */
export function stateKey(key: unknown): string {
  if (typeof key === 'string') return key;
  if (Buffer.isBuffer(key)) return `b64:${key.toString('base64')}`;
  return `json:${JSON.stringify(key)}`;
}

class KeyChangedError extends CodedError {
  constructor(message: string) {
    super('KEY_CHANGED_BEFORE_KEYED_STATE', message, false);
  }
}

/**
 * Runs one input record of a stage through the stage's steps against its
 * partition's state, and encodes what comes out for the sink or for the
 * next stage's repartition topic.
 * Either every effect of the record happens (outputs and state writes) or,
 * when it fails, none does: the state writes are rolled back and the record
 * goes to the dead-letter topic or fails the task.
 */
export class StageExecutor {
  private readonly job: JobDefinition;
  private readonly stage: StageDefinition;
  private readonly route: RepartitionRoute | undefined;
  private readonly fromTask: Record<string, string>;

  /** `route` is required when the stage ends in a repartition. */
  constructor(job: JobDefinition, stage: StageDefinition, route?: RepartitionRoute) {
    this.job = job;
    this.stage = stage;
    this.route = route;
    if (stage.output.kind === 'repartition' && !route) {
      throw new Error(`stage ${stage.index} ends in repartition "${stage.output.id}" but has no route`);
    }
    this.fromTask = route ? { [fromTaskHeader]: String(route.fromTask) } : {};
  }

  process(
    position: SourcePosition,
    timestamp: number,
    rawKey: Buffer | null,
    rawValue: Buffer | null,
    stores: PartitionStores,
  ): OutputRecord[] {
    stores.begin();
    const { input, output } = this.stage;
    let operatorId = input.id;
    try {
      const formats = input.kind === 'source' ? input.source : input.formats;
      const record: StreamRecord<unknown, unknown> = {
        key: formats.key.decode(rawKey),
        value: formats.value.decode(rawValue),
        timestamp,
      };
      const inputKey = stateKey(record.key);
      let records = [record];
      for (const step of this.stage.steps) {
        operatorId = step.id;
        records = records.flatMap((r) => this.apply(step, r, inputKey, stores));
      }
      operatorId = output.id;
      if (output.kind === 'sink') {
        return records.map((r) => ({
          topic: output.sink.topic,
          key: output.sink.key.encode(r.key),
          value: output.sink.value.encode(r.value),
          headers: {},
        }));
      }
      const route = this.route as RepartitionRoute;
      return records.map((r) => {
        const selected = output.select(r);
        const key = output.formats.key.encode(selected.key);
        return {
          topic: route.topic,
          partition: partitionOfKey(key, route.partitions),
          key,
          value: output.formats.value.encode(selected.value),
          timestamp: selected.timestamp,
          headers: this.fromTask,
        };
      });
    } catch (error) {
      stores.rollback();
      const policy = this.job.poisonRecords;
      if (policy.kind === 'fail' || error instanceof KeyChangedError) {
        throw new PoisonRecordError(position, operatorId, error);
      }
      return [
        {
          topic: policy.topic,
          key: rawKey,
          value: rawValue,
          headers: {
            'weir.error': String((error as Error)?.message ?? error).slice(0, 1000),
            'weir.error.operator': operatorId,
            'weir.source': `${position.topic}/${position.partition}@${position.offset}`,
          },
        },
      ];
    }
  }

  private apply(
    step: Step,
    record: StreamRecord<unknown, unknown>,
    inputKey: string,
    stores: PartitionStores,
  ): StreamRecord<unknown, unknown>[] {
    switch (step.kind) {
      case 'map':
        return [step.fn(record)];
      case 'filter':
        return step.fn(record) ? [record] : [];
      case 'flatMap':
        return [...step.fn(record)];
      case 'process': {
        const key = stateKey(record.key);
        if (key !== inputKey) {
          throw new KeyChangedError(
            `"${step.id}" keeps keyed state, but its record's key changed since the stage's input (${JSON.stringify(inputKey)} → ${JSON.stringify(key)}); state is stored per input partition, so change keys with keyBy, which repartitions`,
          );
        }
        const handles: Record<string, unknown> = {};
        for (const [name, spec] of Object.entries(step.state)) {
          const store = `${step.id}/${name}`;
          handles[name] = spec.kind === 'map' ? stores.mapState(store, key) : stores.valueState(store, key);
        }
        const out: StreamRecord<unknown, unknown>[] = [];
        step.fn(record, handles as never, (o) => out.push(o));
        return out;
      }
    }
  }
}
