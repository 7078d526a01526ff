import { randomBytes } from 'node:crypto';
import { KafkaAdmin } from '../../src/kafka/admin.ts';
import { TransactionalProducer } from '../../src/kafka/transactional-producer.ts';
import { requireEnv } from './cluster.ts';
import { NativeReader } from './native-reader.ts';

export function kafkaBootstrap(): string {
  return requireEnv('WEIR_KAFKA_BOOTSTRAP');
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function createTopics(...topics: { name: string; partitions: number }[]): Promise<void> {
  const admin = new KafkaAdmin(kafkaBootstrap());
  try {
    for (const t of topics) await admin.ensureTopic(t);
  } finally {
    admin.disconnect();
  }
}

/** Every topic of the harness broker (its PLAINTEXT listener's principal is a super user). */
export async function listTopics(): Promise<string[]> {
  const admin = new KafkaAdmin(kafkaBootstrap());
  try {
    return await admin.listTopics();
  } finally {
    admin.disconnect();
  }
}

type InputRecord = { key: string; value: string; partition?: number };

/** A producer kept open across many writes (input that flows for a while); closed by the caller. */
export interface TopicWriter {
  /** Writes records (to the given partition, else by key) and waits until the broker has them all. */
  write(records: InputRecord[]): Promise<void>;
  close(): Promise<void>;
}

export async function openWriter(topic: string): Promise<TopicWriter> {
  const producer = await TransactionalProducer.connect({ bootstrapServers: kafkaBootstrap() });
  return {
    async write(records) {
      for (const r of records) {
        producer.send({
          topic,
          key: r.key,
          value: Buffer.from(r.value),
          ...(r.partition === undefined ? {} : { partition: r.partition }),
        });
      }
      await producer.flush();
    },
    close: () => producer.disconnect(),
  };
}

/** Writes records (not transactionally; to the given partition, else by key) and waits until the broker has them all. */
export async function produce(topic: string, records: InputRecord[]): Promise<void> {
  const writer = await openWriter(topic);
  try {
    await writer.write(records);
  } finally {
    await writer.close();
  }
}

/**
 * Input that keeps flowing while a test changes a job: a batch of `batch(n)`
 * records every `pauseMs`, from one producer, until `finish()` is called, and
 * then `tail` batches more, so that input also arrives after whatever the
 * test waited for. Bounded: at most `maxBatches` batches.
 */
export function flowInput(
  topic: string,
  batch: (n: number) => InputRecord[],
  options: { pauseMs: number; maxBatches: number; tail?: number },
): { finish(): Promise<number> } {
  let batches = 0;
  let stopAt = options.maxBatches;
  const done = (async () => {
    const writer = await openWriter(topic);
    try {
      for (; batches < Math.min(stopAt, options.maxBatches); batches++) {
        await writer.write(batch(batches));
        await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
      }
    } finally {
      await writer.close();
    }
  })();
  return {
    /** Ends the flow after `tail` more batches; resolves to how many batches were written in all. */
    async finish() {
      stopAt = batches + (options.tail ?? 5);
      await done;
      return batches;
    },
  };
}

export interface ReadRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
}

/**
 * Every record a read_committed consumer sees on the topic, read from the
 * beginning until `expected` arrived and the topic then stayed quiet for
 * `quietMs` (so that extra records, such as duplicates, are seen too).
 */
export async function readCommitted(
  topic: string,
  partitions: number,
  options: { expected: number; timeoutMs: number; quietMs?: number },
): Promise<ReadRecord[]> {
  return readRecords(topic, partitions, 'read_committed', options);
}

/**
 * Every record on the topic, committed or not (records inside open or aborted
 * transactions included): what the producers have written so far.
 */
export async function readUncommitted(
  topic: string,
  partitions: number,
  options: { expected: number; timeoutMs: number; quietMs?: number },
): Promise<ReadRecord[]> {
  return readRecords(topic, partitions, 'read_uncommitted', options);
}

async function readRecords(
  topic: string,
  partitions: number,
  isolation: 'read_committed' | 'read_uncommitted',
  options: { expected: number; timeoutMs: number; quietMs?: number },
): Promise<ReadRecord[]> {
  // librdkafka's consumer, not Weir's fetcher: the output is checked by an independent reader.
  const consumer = await NativeReader.connect({
    bootstrapServers: kafkaBootstrap(),
    groupId: uniqueName('weir-e2e-reader'),
    isolation,
  });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: -2 })));
  const records: ReadRecord[] = [];
  const deadline = Date.now() + options.timeoutMs;
  let lastArrival = Date.now();
  try {
    while (Date.now() < deadline) {
      const batch = await consumer.consume(1000);
      for (const m of batch) {
        records.push({
          partition: m.partition,
          offset: m.offset,
          key: m.key === undefined || m.key === null ? null : m.key.toString(),
          value: m.value === null ? null : m.value.toString(),
        });
      }
      if (batch.length) lastArrival = Date.now();
      if (records.length >= options.expected && Date.now() - lastArrival >= (options.quietMs ?? 1500)) break;
    }
  } finally {
    await consumer.disconnect();
  }
  return records;
}
