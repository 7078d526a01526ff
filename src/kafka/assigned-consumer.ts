import { connectTo, type ErrorEmitter, errorLogSettings, settle, toKafkaError } from './errors.ts';
import {
  type ConsumerGlobalConfig,
  type KafkaConsumer,
  type Message,
  rdkafka,
  type TopicPartitionOffsetAndMetadata,
  type WatermarkOffsets,
} from './native.ts';

export interface AssignedConsumerOptions {
  bootstrapServers: string;
  /** Needed for committed offsets and transactional offset commits; no group membership is used. */
  groupId: string;
  clientId?: string;
  isolation: 'read_committed' | 'read_uncommitted';
  operationTimeoutMs?: number;
  settings?: Record<string, string | number | boolean>;
}

export interface PartitionPosition {
  topic: string;
  partition: number;
  offset: number;
}

export interface CommittedOffset {
  topic: string;
  partition: number;
  /** -1001 (invalid) when nothing is committed. */
  offset: number;
  metadata?: string;
}

/**
 * A consumer whose partitions are set with assign(): Weir's tasks own fixed
 * partitions, so group rebalancing would only get in the way.
 */
export class AssignedConsumer {
  readonly native: KafkaConsumer;
  private readonly timeoutMs: number;

  private constructor(consumer: KafkaConsumer, timeoutMs: number) {
    this.native = consumer;
    this.timeoutMs = timeoutMs;
    // consume(max) waits the consume timeout for the first record only, then takes what is already fetched.
    // The binding's default waits that long for each of the `max` records, so a steady trickle (a record every
    // few ms, never a pause as long as the timeout) held a batch open until `max` arrived: measured, 2.6 s
    // between 1 s checkpoints at 160 records/s, which made health by progress see stalls that were not there.
    (
      consumer as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void }
    ).setDefaultIsTimeoutOnlyForFirstMessage(true);
  }

  static async connect(options: AssignedConsumerOptions): Promise<AssignedConsumer> {
    const config: ConsumerGlobalConfig = {
      'bootstrap.servers': options.bootstrapServers,
      'group.id': options.groupId,
      'client.id': options.clientId ?? options.groupId,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'isolation.level': options.isolation,
      'enable.partition.eof': false,
      ...errorLogSettings,
      ...options.settings,
    };
    const consumer = new rdkafka.KafkaConsumer(config, { 'auto.offset.reset': 'earliest' });
    const timeoutMs = options.operationTimeoutMs ?? 30_000;
    await connectTo(
      options.bootstrapServers,
      timeoutMs,
      () =>
        settle(`connect consumer ${options.groupId}`, (cb) => consumer.connect({ timeout: timeoutMs }, cb)),
      consumer as unknown as ErrorEmitter,
    );
    return new AssignedConsumer(consumer, timeoutMs);
  }

  assign(positions: PartitionPosition[]): void {
    this.native.assign(positions);
  }

  /** Up to `max` records: those already fetched, after waiting at most the consume timeout for the first. */
  consume(max: number): Promise<Message[]> {
    return settle('consume', (cb) => this.native.consume(max, cb));
  }

  async committed(partitions: { topic: string; partition: number }[]): Promise<CommittedOffset[]> {
    const offsets = await settle<TopicPartitionOffsetAndMetadata[]>('read committed offsets', (cb) =>
      this.native.committed(partitions, this.timeoutMs, cb),
    );
    // The client leaves `offset` out, rather than -1001, for a partition with nothing committed.
    return offsets.map(({ topic, partition, offset, metadata }) => ({
      topic,
      partition,
      offset: typeof offset === 'number' ? offset : -1001,
      ...(metadata ? { metadata } : {}),
    }));
  }

  /**
   * Commits offsets with metadata outside any transaction (at-least-once
   * mode). Synchronous in librdkafka: it returns once the broker answered.
   */
  commitWithMetadata(
    offsets: { topic: string; partition: number; offset: number; metadata: string }[],
  ): void {
    try {
      this.native.commitSync(offsets);
    } catch (error) {
      throw toKafkaError('commit offsets', error as Error);
    }
  }

  /** The partition's high watermark as last seen by a fetch, for lag; undefined before the first fetch. */
  highWatermark(topic: string, partition: number): number | undefined {
    try {
      const { highOffset } = this.native.getWatermarkOffsets(topic, partition);
      return highOffset >= 0 ? highOffset : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Each partition's end offset as its leader says it now (the high
   * watermark, or under read_committed the last stable offset), not as the
   * last fetch saw it. Rejects when a leader does not answer within `timeoutMs`.
   */
  endOffsets(partitions: { topic: string; partition: number }[], timeoutMs: number): Promise<number[]> {
    return Promise.all(
      partitions.map(async ({ topic, partition }) => {
        const offsets = await settle<WatermarkOffsets>(`query end offset of ${topic}[${partition}]`, (cb) =>
          this.native.queryWatermarkOffsets(topic, partition, timeoutMs, cb),
        );
        return offsets.highOffset;
      }),
    );
  }

  setConsumeTimeout(ms: number): void {
    this.native.setDefaultConsumeTimeout(ms);
  }

  disconnect(): Promise<void> {
    return new Promise((resolve) => this.native.disconnect(() => resolve()));
  }
}
