import type { OffsetOutOfRangePolicy } from '../api/taskmanager-env.ts';
import { connectTo, type ErrorEmitter, errorLogSettings, settle, toKafkaError } from './errors.ts';
import {
  type ConsumerGlobalConfig,
  type KafkaConsumer,
  rdkafka,
  type TopicPartitionOffsetAndMetadata,
  type WatermarkOffsets,
} from './native.ts';
import type { ConsumedRecord } from './wire/record-batch.ts';
import { type OffsetReset, RecordFetcher } from './wire/record-fetcher.ts';
import { wireSecurity } from './wire/wire-security.ts';

export type { ConsumedRecord, RecordHeader } from './wire/record-batch.ts';

export interface AssignedConsumerOptions {
  bootstrapServers: string;
  /** Needed for committed offsets and transactional offset commits; no group membership is used. */
  groupId: string;
  clientId?: string;
  isolation: 'read_committed' | 'read_uncommitted';
  operationTimeoutMs?: number;
  settings?: Record<string, string | number | boolean>;
  /** Where the record fetcher's retried failures (a broker away, a leader moved) are told. */
  warn?: (message: string) => void;
  /** What a position outside its partition's log leads to (record-fetcher.ts); fail unless set. */
  offsetOutOfRange?: OffsetOutOfRangePolicy;
  onReset?: (reset: OffsetReset) => void;
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
 *
 * Records come from Weir's own fetcher (wire/record-fetcher.ts), which
 * decodes each fetch response in place: the native client built every
 * record's object field by field with copies of key and value, a third of
 * the task's main thread at 100-byte records (BENCHMARKS.md). The native
 * consumer stays for the group's committed offsets, the commits outside
 * transactions, end offsets, and the group metadata a transaction's offsets go with.
 */
export class AssignedConsumer {
  readonly native: KafkaConsumer;
  private readonly fetcher: RecordFetcher;
  private readonly timeoutMs: number;
  private consumeTimeoutMs = 1_000;

  private constructor(consumer: KafkaConsumer, fetcher: RecordFetcher, timeoutMs: number) {
    this.native = consumer;
    this.fetcher = fetcher;
    this.timeoutMs = timeoutMs;
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
      `connect consumer ${options.groupId}`,
    );
    const fetcher = new RecordFetcher({
      bootstrapServers: options.bootstrapServers,
      clientId: options.clientId ?? options.groupId,
      readCommitted: options.isolation === 'read_committed',
      security: wireSecurity(options.settings ?? {}),
      connectTimeoutMs: timeoutMs,
      requestTimeoutMs: timeoutMs,
      ...(options.warn ? { warn: options.warn } : {}),
      ...(options.offsetOutOfRange ? { offsetOutOfRange: options.offsetOutOfRange } : {}),
      ...(options.onReset ? { onReset: options.onReset } : {}),
    });
    return new AssignedConsumer(consumer, fetcher, timeoutMs);
  }

  /** Starts reading these partitions from these offsets (-2: the earliest). */
  assign(positions: PartitionPosition[]): void {
    this.fetcher.assign(positions);
  }

  /**
   * Up to `max` records: those already fetched, after waiting at most the
   * consume timeout for the first (never for more: a steady trickle must not
   * hold a batch open, or health by progress sees stalls that are not there).
   */
  consume(max: number): Promise<ConsumedRecord[]> {
    return this.fetcher.consume(max, this.consumeTimeoutMs);
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
    return this.fetcher.highWatermark(topic, partition);
  }

  /** Records fetched and not yet consumed, of every assigned partition. */
  bufferedRecords(): number {
    return this.fetcher.buffered;
  }

  /** The next offset fetched from the partition (records may be fetched and not yet consumed). */
  fetchPosition(topic: string, partition: number): number | undefined {
    return this.fetcher.position(topic, partition);
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

  /** Each partition's log start offset as its leader says it now: where reading from the beginning starts. */
  startOffsets(partitions: { topic: string; partition: number }[], timeoutMs: number): Promise<number[]> {
    return Promise.all(
      partitions.map(async ({ topic, partition }) => {
        const offsets = await settle<WatermarkOffsets>(`query start offset of ${topic}[${partition}]`, (cb) =>
          this.native.queryWatermarkOffsets(topic, partition, timeoutMs, cb),
        );
        return offsets.lowOffset;
      }),
    );
  }

  setConsumeTimeout(ms: number): void {
    this.consumeTimeoutMs = ms;
  }

  async disconnect(): Promise<void> {
    await this.fetcher.close();
    await new Promise<void>((resolve) => this.native.disconnect(() => resolve()));
  }
}

/**
 * A reader of committed records only, with no group and no native client:
 * Weir's fetcher under read_committed, for replaying a changelog on restore.
 * Close it when done.
 */
export function committedRecordReader(options: {
  bootstrapServers: string;
  clientId: string;
  settings?: Record<string, string | number | boolean>;
  timeoutMs?: number;
  warn?: (message: string) => void;
}): RecordFetcher {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new RecordFetcher({
    bootstrapServers: options.bootstrapServers,
    clientId: options.clientId,
    readCommitted: true,
    security: wireSecurity(options.settings ?? {}),
    connectTimeoutMs: timeoutMs,
    requestTimeoutMs: timeoutMs,
    ...(options.warn ? { warn: options.warn } : {}),
  });
}
