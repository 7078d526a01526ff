import { joinInputHeader } from '../runtime/repartition/barriers.ts';
import { partitionOfKey } from '../runtime/repartition/route.ts';
import { stateKey } from '../runtime/state/keys.ts';
import { PartitionStores } from '../runtime/state/partition-stores.ts';
import {
  decodeSection,
  encodeSnapshot,
  readSnapshotIndex,
  verifiedSection,
} from '../runtime/state/snapshot-format.ts';
import { joinOutOfOrderness } from '../runtime/task/event-time.ts';
import { joinInputsRead } from '../runtime/task/join-inputs.ts';
import { StageExecutor } from '../runtime/task/stage-executor.ts';
import type { OutputRecord, TimeContext } from '../runtime/task/stage-output.ts';
import { partitionWatermark, SourceWatermarks } from '../runtime/time/watermarks.ts';
import type { JobDefinition, StageDefinition } from '../sdk/pipeline.ts';

export interface DriverInput<K, V> {
  key: K;
  value: V;
  /** Source topic; defaults to the job's first. */
  topic?: string;
  partition?: number;
  timestamp?: number;
}

export interface TestDriverOptions {
  /** Partitions of each repartition topic (the runtime uses the widest source topic's count). Default 4. */
  repartitionPartitions?: number;
  /** The driver's processing-time clock at the start, ms since the epoch. Default 0. */
  startTime?: number;
}

/** The name a repartition topic has in the driver (a TaskManager's are per job and run). */
function driverTopic(operatorId: string): string {
  return `test-driver.${operatorId}`;
}

/**
 * Runs a job's pipeline in-process over given records, with the same stage
 * executors and state layer as a TaskManager, so job authors can unit-test
 * their pipelines without Kafka. A keyBy's records go through an in-memory
 * repartition topic, partitioned as a TaskManager partitions them, and are
 * processed by the next stage at once, in order: runs are deterministic.
 * Event time follows the source's watermark strategy over the partitions
 * sent to, and reaches every stage at once; after each input, and after
 * advanceEventTime/advanceProcessingTime, due timers fire. Processing time is
 * the driver's own clock. Snapshots use the real snapshot format.
 */
export class TestDriver {
  private readonly job: JobDefinition;
  private readonly executors: StageExecutor[];
  private readonly width: number;
  private readonly partitions = new Map<string, PartitionStores>();
  private readonly offsets = new Map<string, bigint>();
  private readonly produced: OutputRecord[] = [];
  private readonly watermarks: SourceWatermarks | undefined;
  private readonly sourcePartitions = new Set<string>();
  private now: number;
  private watermark = Number.NEGATIVE_INFINITY;

  constructor(job: JobDefinition, options: TestDriverOptions = {}) {
    this.job = job;
    this.width = options.repartitionPartitions ?? 4;
    this.now = options.startTime ?? 0;
    const strategy = job.source.watermarks;
    const first = job.stages[0] as StageDefinition;
    const timedJoins = joinOutOfOrderness(joinInputsRead(job, first));
    this.watermarks = strategy ? new SourceWatermarks(strategy, this.now, timedJoins) : undefined;
    // As in a task, which counts every partition it owns: both sides of an event-time join hold the
    // watermark back until each has been read (here partition 0 of each; others count once sent to).
    if (timedJoins.size) {
      for (const topic of [job.source.topics[0] as string, ...timedJoins.keys()])
        this.sourcePartitions.add(`${topic}/0`);
    }
    this.executors = job.stages.map(
      (stage) =>
        new StageExecutor(
          job,
          stage,
          stage.output.kind === 'repartition'
            ? { topic: driverTopic(stage.output.id), partitions: this.width, fromTask: 0, tasks: 1 }
            : undefined,
        ),
    );
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

  private nextOffset(topic: string, partition: number): string {
    const id = `${topic}/${partition}`;
    const offset = this.offsets.get(id) ?? 0n;
    this.offsets.set(id, offset + 1n);
    return offset.toString();
  }

  /**
   * Encodes the inputs with their topic's formats (the source's, or a
   * joined table's or stream's) and processes them in order, through every stage.
   */
  send<K, V>(...inputs: DriverInput<K, V>[]): this {
    const first = this.job.stages[0] as StageDefinition;
    for (const input of inputs) {
      const topic = input.topic ?? (this.job.source.topics[0] as string);
      const joined = joinInputsRead(this.job, first).find((j) => j.topic === topic);
      if (!this.job.source.topics.includes(topic) && !joined)
        throw new Error(`"${topic}" is not an input topic of this job`);
      const formats = joined ?? this.job.source;
      const partition = input.partition ?? 0;
      const timed = !joined || joined.outOfOrdernessMs !== undefined;
      if (timed) this.sourcePartitions.add(`${topic}/${partition}`);
      const eventTime = this.run(0, {
        topic,
        partition,
        timestamp: input.timestamp ?? 0,
        key: (formats.key.encode as (k: K) => Buffer | null)(input.key),
        value: (formats.value.encode as (v: V) => Buffer | null)(input.value),
      });
      const own = this.storesOf(topic, partition);
      if (timed) this.watermarks?.observe(`${topic}/${partition}`, own, eventTime, this.now);
      this.fireDueTimers();
    }
    return this;
  }

  /** The stores a record of `topic` is processed against: a join input's are its source partition's. */
  private homeOf(stage: number, topic: string, partition: number): PartitionStores {
    const first = this.job.stages[0] as StageDefinition;
    if (stage === 0 && first.joins.some((j) => j.topic === topic)) {
      return this.storesOf(this.job.source.topics[0] as string, partition);
    }
    return this.storesOf(topic, partition);
  }

  /** Moves the watermark to at least `watermark` (as if every source partition had reached it) and fires timers. */
  advanceEventTime(watermark: number): this {
    if (!this.watermarks) throw new Error('the job has no event time: its source has no watermark strategy');
    this.watermarks.raise(watermark);
    this.fireDueTimers();
    return this;
  }

  /** Moves the driver's clock to `time` (ms since the epoch) and fires the processing-time timers due. */
  advanceProcessingTime(time: number): this {
    this.now = Math.max(this.now, time);
    this.fireDueTimers();
    return this;
  }

  /** The watermark operators see now. */
  currentWatermark(): number {
    return this.watermark;
  }

  private time(stores: PartitionStores): TimeContext {
    return { watermark: partitionWatermark(stores, this.watermark), now: this.now };
  }

  /** Timers due in any stage fire, stage by stage, their outputs flowing on to the stages after. */
  private fireDueTimers(): void {
    this.watermark = this.watermarks?.current(this.sourcePartitions, this.now).watermark ?? this.watermark;
    for (let stage = 0; stage < this.executors.length; stage++) {
      const executor = this.executors[stage] as StageExecutor;
      if (!executor.hasTimers) continue;
      for (const [id, stores] of [...this.partitions]) {
        if (this.stageOfPartition(id) !== stage) continue;
        const time = this.time(stores);
        this.route(stage, executor.fireDueTimers(stores, time), time.watermark);
      }
    }
  }

  /** The stage a partition of the driver's state belongs to: a source topic is stage 0's input. */
  private stageOfPartition(id: string): number {
    const topic = id.slice(0, id.lastIndexOf('/'));
    const index = this.job.stages.findIndex(
      (s) => s.input.kind === 'repartition' && driverTopic(s.input.id) === topic,
    );
    return index < 0 ? 0 : index;
  }

  /** Processes one record in a stage and what it emits in the stages after; returns its event time. */
  private run(
    stage: number,
    record: {
      topic: string;
      partition: number;
      timestamp: number;
      key: Buffer | null;
      value: Buffer | null;
      viaJoinInput?: string | undefined;
    },
  ): number {
    const executor = this.executors[stage] as StageExecutor;
    const stores = this.homeOf(stage, record.topic, record.partition);
    const out = executor.process(
      {
        topic: record.topic,
        partition: record.partition,
        offset: this.nextOffset(record.topic, record.partition),
      },
      record.timestamp,
      record.key,
      record.value,
      stores,
      this.time(stores),
      record.viaJoinInput,
    );
    const eventTime = executor.lastTimestamp;
    this.route(stage, out, eventTime);
    return eventTime;
  }

  /** Outputs of a stage: a repartitioned record goes on to the next stage, anything else is produced. */
  private route(stage: number, out: OutputRecord[], timestamp: number): void {
    for (const o of out) {
      if (o.partition === undefined) {
        this.produced.push(o);
        continue;
      }
      this.run(stage + 1, {
        topic: o.topic,
        partition: o.partition,
        timestamp: o.timestamp ?? timestamp,
        key: o.key,
        value: o.value,
        viaJoinInput: o.headers?.[joinInputHeader],
      });
    }
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

  /** Records written to any other topic (late records of a window, say), decoded with the given formats. */
  outputOf<K = unknown, V = unknown>(
    topic: string,
    formats: { key: { decode(b: Buffer | null): unknown }; value: { decode(b: Buffer | null): unknown } },
  ): { key: K; value: V }[] {
    return this.produced
      .filter((r) => r.topic === topic)
      .map((r) => ({ key: formats.key.decode(r.key) as K, value: formats.value.decode(r.value) as V }));
  }

  /** Records sent to the dead-letter topic, raw, with their error headers. */
  deadLetters(): OutputRecord[] {
    const policy = this.job.poisonRecords;
    return policy.kind === 'dead-letter' ? this.produced.filter((r) => r.topic === policy.topic) : [];
  }

  private stageOf(operatorId: string): StageDefinition {
    const stage = this.job.stages.find((s) => s.steps.some((step) => step.id === operatorId));
    if (!stage) throw new Error(`the job has no step "${operatorId}"`);
    return stage;
  }

  /**
   * A value-state entry, as the process function sees it. For a step after a
   * keyBy the partition follows from the key; for a first-stage step it is
   * the source partition given in `at` (default: the first topic's 0).
   */
  valueState<T>(
    operatorId: string,
    name: string,
    key: unknown,
    at = { topic: '', partition: 0 },
  ): T | undefined {
    return this.keyStores(operatorId, key, at).valueState<T>(`${operatorId}/${name}`, stateKey(key)).get();
  }

  /** A map-state's entries for a key (a join's kept records, say), found as valueState() finds its entry. */
  stateEntries<T>(
    operatorId: string,
    name: string,
    key: unknown,
    at = { topic: '', partition: 0 },
  ): [string, T][] {
    return this.keyStores(operatorId, key, at).mapState<T>(`${operatorId}/${name}`, stateKey(key)).entries();
  }

  private keyStores(
    operatorId: string,
    key: unknown,
    at: { topic: string; partition: number },
  ): PartitionStores {
    const stage = this.stageOf(operatorId);
    let where = { topic: at.topic || (this.job.source.topics[0] as string), partition: at.partition };
    if (stage.input.kind === 'repartition') {
      const encoded = stage.input.formats.key.encode(key);
      where = { topic: driverTopic(stage.input.id), partition: partitionOfKey(encoded, this.width) };
    }
    return this.storesOf(where.topic, where.partition);
  }

  /** A snapshot of every partition of every stage, in the snapshot object format. */
  snapshot(): Buffer {
    const partitions = [...this.partitions.entries()].map(([id, stores]) => {
      const slash = id.lastIndexOf('/');
      return { topic: id.slice(0, slash), partition: Number(id.slice(slash + 1)), stores: stores.stores };
    });
    return encodeSnapshot({ task: 'test-driver', checkpointId: 0, attempt: 'local' }, partitions).bytes;
  }

  /** A driver whose state is restored from `snapshot()` bytes (offsets restart at 0). */
  static restore(job: JobDefinition, snapshot: Buffer, options: TestDriverOptions = {}): TestDriver {
    const driver = new TestDriver(job, options);
    const key = 'test-driver snapshot';
    for (const range of readSnapshotIndex(key, snapshot).sections) {
      const section = verifiedSection(key, range, snapshot.subarray(range.start, range.start + range.length));
      driver.partitions.set(
        `${range.topic}/${range.partition}`,
        new PartitionStores(decodeSection(key, section)),
      );
    }
    const timedJoins = joinInputsRead(job, job.stages[0] as StageDefinition).filter(
      (j) => j.outOfOrdernessMs !== undefined,
    );
    const sources = [...driver.partitions].filter(([id]) => {
      const topic = id.slice(0, id.lastIndexOf('/'));
      return job.source.topics.includes(topic) || timedJoins.some((j) => j.topic === topic);
    });
    for (const [id] of sources) driver.sourcePartitions.add(id);
    driver.watermarks?.restore(sources);
    return driver;
  }
}
