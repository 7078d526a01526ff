import { settle } from '../../src/kafka/errors.ts';
import { type KafkaConsumer, type Message, rdkafka } from '../../src/kafka/native.ts';

/**
 * A reader on librdkafka's own consumer, independent of Weir's record
 * fetcher: what the tests check output with, so that a flaw in the fetcher
 * (a lost record, an aborted one let through) cannot hide itself by reading
 * its own output the same wrong way. Also the bench's all-Confluent baseline.
 */
export class NativeReader {
  private readonly consumer: KafkaConsumer;

  private constructor(consumer: KafkaConsumer) {
    this.consumer = consumer;
  }

  static async connect(options: {
    bootstrapServers: string;
    groupId: string;
    isolation: 'read_committed' | 'read_uncommitted';
    consumeTimeoutMs?: number;
  }): Promise<NativeReader> {
    const consumer = new rdkafka.KafkaConsumer(
      {
        'bootstrap.servers': options.bootstrapServers,
        'group.id': options.groupId,
        'enable.auto.commit': false,
        'isolation.level': options.isolation,
      },
      { 'auto.offset.reset': 'earliest' },
    );
    await settle('connect reader', (cb) => consumer.connect({ timeout: 30_000 }, cb));
    // Wait the timeout for the first record only, then take what is fetched.
    (
      consumer as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void }
    ).setDefaultIsTimeoutOnlyForFirstMessage(true);
    consumer.setDefaultConsumeTimeout(options.consumeTimeoutMs ?? 200);
    return new NativeReader(consumer);
  }

  /** From these offsets (-2: the earliest). */
  assign(positions: { topic: string; partition: number; offset: number }[]): void {
    this.consumer.assign(positions);
  }

  consume(max: number): Promise<Message[]> {
    return settle('consume', (cb) => this.consumer.consume(max, cb));
  }

  disconnect(): Promise<void> {
    return new Promise((resolve) => this.consumer.disconnect(() => resolve()));
  }
}
