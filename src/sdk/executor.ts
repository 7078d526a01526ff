import { CodedError } from '../errors.ts';
import type { JobDefinition, SourcePosition, Step, StreamRecord } from './pipeline.ts';
import type { PartitionStores } from './state.ts';

/** A record ready for the producer. */
export interface OutputRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
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
 * Runs one source record through a job's steps against its partition's state.
 * Either every effect of the record happens (outputs and state writes) or,
 * when it fails, none does: the state writes are rolled back and the record
 * goes to the dead-letter topic or fails the task.
 */
export class PipelineExecutor {
  private readonly job: JobDefinition;

  constructor(job: JobDefinition) {
    this.job = job;
  }

  process(
    position: SourcePosition,
    timestamp: number,
    rawKey: Buffer | null,
    rawValue: Buffer | null,
    stores: PartitionStores,
  ): OutputRecord[] {
    stores.begin();
    let operatorId = this.job.sourceId;
    try {
      const record: StreamRecord<unknown, unknown> = {
        key: this.job.source.key.decode(rawKey),
        value: this.job.source.value.decode(rawValue),
        timestamp,
      };
      const sourceKey = stateKey(record.key);
      let records = [record];
      for (const step of this.job.steps) {
        operatorId = step.id;
        records = records.flatMap((r) => this.apply(step, r, sourceKey, stores));
      }
      operatorId = this.job.sinkId;
      return records.map((r) => ({
        topic: this.job.sink.topic,
        key: this.job.sink.key.encode(r.key),
        value: this.job.sink.value.encode(r.value),
        headers: {},
      }));
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
    sourceKey: string,
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
        if (key !== sourceKey) {
          throw new KeyChangedError(
            `"${step.id}" keeps keyed state, but its record's key changed since the source (${JSON.stringify(sourceKey)} → ${JSON.stringify(key)}); state is stored per source partition, so the key must not change before it`,
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
