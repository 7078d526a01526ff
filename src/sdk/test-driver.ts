import {
  decodeSection,
  encodeSnapshot,
  readSnapshotIndex,
  verifiedSection,
} from '../runtime/state/snapshot-format.ts';
import { type OutputRecord, PipelineExecutor, stateKey } from './executor.ts';
import type { JobDefinition } from './pipeline.ts';
import { PartitionStores } from './state.ts';

export interface DriverInput<K, V> {
  key: K;
  value: V;
  /** Source topic; defaults to the job's first. */
  topic?: string;
  partition?: number;
  timestamp?: number;
}

/**
 * Runs a job's pipeline in-process over given records, with the same
 * executor and state layer as a TaskManager, so job authors can unit-test
 * their pipelines without Kafka. Snapshots use the real snapshot format.
 */
export class TestDriver {
  private readonly job: JobDefinition;
  private readonly executor: PipelineExecutor;
  private readonly partitions = new Map<string, PartitionStores>();
  private readonly offsets = new Map<string, bigint>();
  private readonly produced: OutputRecord[] = [];

  constructor(job: JobDefinition) {
    this.job = job;
    this.executor = new PipelineExecutor(job);
  }

  private storesOf(topic: string, partition: number): PartitionStores {
    const id = `${topic}/${partition}`;
    let stores = this.partitions.get(id);
    if (!stores) {
      stores = new PartitionStores();
      this.partitions.set(id, stores);
    }
    return stores;
  }

  /** Encodes the inputs with the source's formats and processes them in order. */
  send<K, V>(...inputs: DriverInput<K, V>[]): this {
    for (const input of inputs) {
      const topic = input.topic ?? (this.job.source.topics[0] as string);
      if (!this.job.source.topics.includes(topic))
        throw new Error(`"${topic}" is not a source topic of this job`);
      const partition = input.partition ?? 0;
      const id = `${topic}/${partition}`;
      const offset = this.offsets.get(id) ?? 0n;
      this.offsets.set(id, offset + 1n);
      const out = this.executor.process(
        { topic, partition, offset: offset.toString() },
        input.timestamp ?? 0,
        (this.job.source.key.encode as (k: K) => Buffer | null)(input.key),
        (this.job.source.value.encode as (v: V) => Buffer | null)(input.value),
        this.storesOf(topic, partition),
      );
      this.produced.push(...out);
    }
    return this;
  }

  /** Records written to the sink topic, decoded with the sink's formats. */
  output<K = unknown, V = unknown>(): { key: K; value: V }[] {
    return this.produced
      .filter((r) => r.topic === this.job.sink.topic)
      .map((r) => ({
        key: this.job.sink.key.decode(r.key) as K,
        value: this.job.sink.value.decode(r.value) as V,
      }));
  }

  /** Records sent to the dead-letter topic, raw, with their error headers. */
  deadLetters(): OutputRecord[] {
    const policy = this.job.poisonRecords;
    return policy.kind === 'dead-letter' ? this.produced.filter((r) => r.topic === policy.topic) : [];
  }

  /** A value-state entry, as the process function sees it. */
  valueState<T>(
    operatorId: string,
    name: string,
    key: unknown,
    at = { topic: '', partition: 0 },
  ): T | undefined {
    const topic = at.topic || (this.job.source.topics[0] as string);
    return this.storesOf(topic, at.partition).valueState<T>(`${operatorId}/${name}`, stateKey(key)).get();
  }

  /** A snapshot of every partition, in the snapshot object format. */
  snapshot(): Buffer {
    const partitions = [...this.partitions.entries()].map(([id, stores]) => {
      const slash = id.lastIndexOf('/');
      return { topic: id.slice(0, slash), partition: Number(id.slice(slash + 1)), stores: stores.stores };
    });
    return encodeSnapshot({ task: 'test-driver', checkpointId: 0, attempt: 'local' }, partitions).bytes;
  }

  /** A driver whose state is restored from `snapshot()` bytes (offsets restart at 0). */
  static restore(job: JobDefinition, snapshot: Buffer): TestDriver {
    const driver = new TestDriver(job);
    const key = 'test-driver snapshot';
    for (const range of readSnapshotIndex(key, snapshot).sections) {
      const section = verifiedSection(key, range, snapshot.subarray(range.start, range.start + range.length));
      driver.partitions.set(
        `${range.topic}/${range.partition}`,
        new PartitionStores(decodeSection(key, section)),
      );
    }
    return driver;
  }
}
