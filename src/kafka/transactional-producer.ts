import type { AssignedConsumer } from './assigned-consumer.ts';
import {
  connectTo,
  type ErrorEmitter,
  errorLine,
  errorLogSettings,
  settle,
  toKafkaError,
  transactionFailure,
} from './errors.ts';
import { KafkaError, kafkaErrorCodes } from './kafka-error.ts';
import { type LibrdKafkaError, type Producer, type ProducerGlobalConfig, rdkafka } from './native.ts';
import { type FenceResult, fenceTransactionalId } from './wire/transaction-fence.ts';
import { wireSecurity } from './wire/wire-security.ts';

/** RD_KAFKA_RESP_ERR__QUEUE_FULL: the local queue holds queue.buffering.max.messages already. */
const queueFullCode = -184;

export interface TransactionalProducerOptions {
  bootstrapServers: string;
  /** Without one, the producer is idempotent but not transactional (at-least-once mode). */
  transactionalId?: string;
  clientId?: string;
  transactionTimeoutMs?: number;
  operationTimeoutMs?: number;
  /** Extra librdkafka settings, e.g. retry.backoff.ms, measured in bench/. */
  settings?: Record<string, string | number | boolean>;
  /**
   * Fence the transactional id's earlier holder first, with quick retries
   * while its open transaction is aborted (wire/transaction-fence.ts), so
   * that librdkafka's own initialisation does not wait its fixed 500 ms.
   * What it found is told to `onFenced`.
   */
  fenceFirst?: { onFenced(result: FenceResult): void };
}

export interface OffsetWithMetadata {
  topic: string;
  partition: number;
  /** The next offset to read, as Kafka commits it. */
  offset: number;
  metadata?: string;
}

export interface OutgoingRecord {
  topic: string;
  partition?: number;
  key?: Buffer | string | null;
  value: Buffer | null;
  /** Milliseconds since the epoch; the producer's clock when absent. */
  timestamp?: number;
  headers?: Record<string, string | Buffer>[];
}

/**
 * A producer bound to one transactional.id. Initialising it fences every
 * earlier producer with the same id, which is what stops a zombie task.
 */
export class TransactionalProducer {
  private readonly producer: Producer;
  private readonly timeoutMs: number;
  readonly transactionalId: string | undefined;
  /** librdkafka's newest error-level log line: the only place a transaction's failure on the broker is told. */
  private lastErrorLine: string | undefined;
  /** Topics produced to in the open transaction, to name in a topic authorization failure. */
  private readonly written = new Set<string>();
  /** The topic of the last record produced, so that a run of records to one topic skips the set. */
  private lastTopic: string | undefined;
  /** Why the instance became unusable, once librdkafka said so. */
  private fatalReason: string | undefined;

  private constructor(producer: Producer, transactionalId: string | undefined, timeoutMs: number) {
    this.producer = producer;
    this.transactionalId = transactionalId;
    this.timeoutMs = timeoutMs;
    (producer as unknown as ErrorEmitter).on('event.log', (line) => {
      this.lastErrorLine = errorLine(line) ?? this.lastErrorLine;
      if (/Fatal error/i.test(this.lastErrorLine ?? '')) this.fatalReason = this.lastErrorLine;
    });
    // A fatal error (the instance was fenced, say) reaches the error callback with its reason.
    (producer as unknown as { on(event: 'event.error', listener: (error: Error) => void): void }).on(
      'event.error',
      (error) => {
        if ((error as Partial<LibrdKafkaError>).code !== kafkaErrorCodes.fatal) return;
        this.lastErrorLine = error.message;
        this.fatalReason = error.message;
      },
    );
  }

  /**
   * The reason for a "Fatal error" or an "Erroneous state" (a transaction
   * that failed on the broker) reaches the error callback or the log on
   * librdkafka's next poll, which may come after the call that failed: wait
   * for it briefly (the transaction is lost anyway), so that the failure names
   * the reason (fenced, or a refused topic) and not only the state it left.
   */
  private async reasonOfFailure(error: unknown, waitMs = 1_000): Promise<void> {
    if (!(error instanceof KafkaError)) return;
    const reason =
      error.kafkaCode === kafkaErrorCodes.fatal
        ? () => this.fatalReason
        : error.kafkaCode === kafkaErrorCodes.state
          ? () => this.lastErrorLine
          : undefined;
    if (!reason) return;
    const deadline = Date.now() + waitMs;
    while (reason() === undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A failed operation with its cause: the earlier broker refusal, the topics involved. */
  private failed(operation: string, error: unknown): KafkaError {
    const kafkaError = error instanceof KafkaError ? error : toKafkaError(operation, error as Error);
    return transactionFailure(kafkaError, this.lastErrorLine, [...this.written]);
  }

  /** settle(), with a failure's cause named. */
  private async call(
    operation: string,
    run: (callback: (error: LibrdKafkaError | null | undefined, value: undefined) => void) => void,
  ): Promise<void> {
    try {
      await settle<void>(operation, run);
    } catch (error) {
      await this.reasonOfFailure(error);
      throw this.failed(operation, error);
    }
  }

  static async connect(options: TransactionalProducerOptions): Promise<TransactionalProducer> {
    const id = options.transactionalId;
    const config: ProducerGlobalConfig = {
      'bootstrap.servers': options.bootstrapServers,
      'client.id': options.clientId ?? id ?? 'weir-producer',
      ...(id
        ? { 'transactional.id': id, 'transaction.timeout.ms': options.transactionTimeoutMs ?? 60_000 }
        : {}),
      'enable.idempotence': true,
      ...errorLogSettings,
      ...options.settings,
    };
    const producer = new rdkafka.Producer(config);
    const timeoutMs = options.operationTimeoutMs ?? 30_000;
    const fenced =
      id && options.fenceFirst
        ? fenceTransactionalId({
            bootstrapServers: options.bootstrapServers,
            clientId: config['client.id'] as string,
            security: wireSecurity(options.settings ?? {}),
            transactionalId: id,
            transactionTimeoutMs: config['transaction.timeout.ms'] as number,
            budgetMs: timeoutMs,
          }).then(options.fenceFirst.onFenced)
        : undefined;
    await connectTo(
      options.bootstrapServers,
      timeoutMs,
      () => settle(`connect producer ${id ?? ''}`, (cb) => producer.connect({ timeout: timeoutMs }, cb)),
      producer as unknown as ErrorEmitter,
      `connect producer ${id ?? ''}`,
    ).finally(() => fenced);
    producer.setPollInterval(50);
    const wrapped = new TransactionalProducer(producer, id, timeoutMs);
    if (id) {
      await wrapped.call(`init transactions ${id}`, (cb) =>
        producer.initTransactions(timeoutMs, (error) => cb(error, undefined)),
      );
    }
    return wrapped;
  }

  begin(): Promise<void> {
    this.written.clear();
    this.lastTopic = undefined;
    return this.call('begin transaction', (cb) =>
      this.producer.beginTransaction((error) => cb(error, undefined)),
    );
  }

  send(record: OutgoingRecord): void {
    try {
      this.produce(record);
    } catch (error) {
      throw this.failed(`produce to ${record.topic}`, error);
    }
  }

  /** One record into the open transaction; a refusal is thrown as librdkafka gives it. */
  private produce(record: OutgoingRecord): void {
    try {
      this.producer.produce(
        record.topic,
        record.partition ?? null,
        record.value,
        record.key ?? null,
        // 0: librdkafka stamps the record with its own clock, without a call into JavaScript's per record.
        record.timestamp ?? 0,
        undefined,
        record.headers,
      );
    } catch (error) {
      throw error instanceof KafkaError ? error : toKafkaError(`produce to ${record.topic}`, error as Error);
    }
    if (record.topic !== this.lastTopic) {
      this.written.add(record.topic);
      this.lastTopic = record.topic;
    }
  }

  /**
   * Each record into the open transaction, in order, on the hot path: no
   * promise at all while librdkafka's local queue has room; once it is full,
   * the rest wait for room as sendWhenQueued() does, which also fails them
   * as it does. Undefined when all were queued at once.
   */
  sendAll(records: readonly OutgoingRecord[]): Promise<void> | undefined {
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as OutgoingRecord;
      try {
        this.produce(record);
      } catch {
        // A full queue waits for room; any other refusal fails there, with the reason for the failure awaited.
        return this.sendRest(records, i);
      }
    }
    return undefined;
  }

  private async sendRest(records: readonly OutgoingRecord[], from: number): Promise<void> {
    for (let i = from; i < records.length; i++) await this.sendWhenQueued(records[i] as OutgoingRecord);
  }

  /**
   * send(), waiting while librdkafka's local queue is full (the broker is
   * slower than the producer) instead of failing; bounded at `maxWaitMs`.
   */
  async sendWhenQueued(record: OutgoingRecord, maxWaitMs = 30_000): Promise<void> {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      try {
        this.produce(record);
        return;
      } catch (error) {
        await this.reasonOfFailure(error);
        if (!(error instanceof KafkaError) || error.kafkaCode !== queueFullCode || Date.now() > deadline)
          throw this.failed(`produce to ${record.topic}`, error);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }

  /** Adds source offsets (with per-partition metadata) to the open transaction. */
  sendOffsets(offsets: OffsetWithMetadata[], consumer: AssignedConsumer): Promise<void> {
    for (const o of offsets) {
      if (o.metadata !== undefined && Buffer.byteLength(o.metadata) > 4000) {
        throw new KafkaError('send offsets', `metadata for ${o.topic}[${o.partition}] exceeds 4000 bytes`, {
          kafkaCode: -1,
          retriable: false,
          fatal: false,
          abortable: true,
          code: 'KAFKA_OFFSET_METADATA_TOO_LARGE',
        });
      }
    }
    return this.call('send offsets to transaction', (cb) =>
      this.producer.sendOffsetsToTransaction(offsets, consumer.native, this.timeoutMs, (error) =>
        cb(error, undefined),
      ),
    );
  }

  /** Waits until every record sent so far has reached the broker. */
  flush(): Promise<void> {
    return this.call('flush', (cb) => this.producer.flush(this.timeoutMs, (error) => cb(error, undefined)));
  }

  commit(): Promise<void> {
    return this.call('commit transaction', (cb) =>
      this.producer.commitTransaction(this.timeoutMs, (error) => cb(error, undefined)),
    );
  }

  /** Aborts the open transaction, waiting at most `timeoutMs` for the coordinator (the operation timeout by default). */
  abort(timeoutMs = this.timeoutMs): Promise<void> {
    return this.call('abort transaction', (cb) =>
      this.producer.abortTransaction(timeoutMs, (error) => cb(error, undefined)),
    );
  }

  disconnect(): Promise<void> {
    return new Promise((resolve) => {
      this.producer.setPollInterval(0);
      this.producer.disconnect(this.timeoutMs, () => resolve());
    });
  }
}
