import { connectTo, type ErrorEmitter, errorLogSettings, settle } from './errors.ts';
import { KafkaError, kafkaErrorCodes } from './kafka-error.ts';
import { type IAdminClient, rdkafka, type TopicDescription } from './native.ts';
import { settledPartitionCount } from './settled-partitions.ts';

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor?: number;
  config?: Record<string, string>;
}

export class KafkaAdmin {
  private readonly client: IAdminClient;
  private readonly timeoutMs: number;
  private readonly bootstrapServers: string;
  private pending = 0;
  private disconnectWhenIdle = false;

  constructor(
    bootstrapServers: string,
    options: { timeoutMs?: number; clientId?: string; settings?: Record<string, string> } = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.bootstrapServers = bootstrapServers;
    this.client = rdkafka.AdminClient.create({
      'bootstrap.servers': bootstrapServers,
      'client.id': options.clientId ?? 'weir-admin',
      ...errorLogSettings,
      ...options.settings,
    });
  }

  /** Creates the topic; an existing topic is accepted only when its partition count matches. */
  async ensureTopic(topic: TopicSpec): Promise<void> {
    try {
      await this.call<void>(`create topic ${topic.name}`, (cb) =>
        this.client.createTopic(
          {
            topic: topic.name,
            num_partitions: topic.partitions,
            replication_factor: topic.replicationFactor ?? 1,
            config: topic.config ?? {},
          },
          this.timeoutMs,
          (error) => cb(error, undefined),
        ),
      );
    } catch (error) {
      if (!(error instanceof KafkaError) || error.kafkaCode !== kafkaErrorCodes.topicAlreadyExists)
        throw error;
      // Another TaskManager of the job may have created it a moment ago.
      const existing = await settledPartitionCount(() => this.partitionCount(topic.name));
      if (existing !== topic.partitions) {
        throw new KafkaError(
          `ensure topic ${topic.name}`,
          `exists with ${existing} partitions, expected ${topic.partitions}`,
          {
            kafkaCode: kafkaErrorCodes.topicAlreadyExists,
            retriable: false,
            fatal: false,
            abortable: false,
            code: 'KAFKA_TOPIC_MISMATCH',
          },
        );
      }
    }
  }

  async partitionCount(topic: string): Promise<number> {
    // Often the job's first request to Kafka: when it times out, no broker answered.
    const [description] = await connectTo(
      this.bootstrapServers,
      this.timeoutMs,
      () =>
        this.call<TopicDescription[]>(`describe topic ${topic}`, (cb) =>
          this.client.describeTopics([topic], { timeout: this.timeoutMs }, cb),
        ),
      this.client as unknown as ErrorEmitter,
      `describe topic ${topic}`,
    );
    if (!description)
      throw new KafkaError(`describe topic ${topic}`, 'no description returned', {
        kafkaCode: kafkaErrorCodes.unknownTopicOrPartition,
        retriable: true,
        fatal: false,
        abortable: false,
        code: 'KAFKA_UNKNOWN_TOPIC',
      });
    return description.partitions.length;
  }

  /**
   * Fails with KAFKA_NOT_AUTHORIZED, naming the group, when the principal may
   * not read the group's offsets. A consumer asked the same only times out
   * (librdkafka retries the refused coordinator lookup until its deadline);
   * the admin request gets the broker's answer. Other errors are left to the
   * read itself.
   */
  async checkGroupAccess(groupId: string, partition: { topic: string; partition: number }): Promise<void> {
    const operation = `read the offsets of group ${groupId}`;
    try {
      await this.call<unknown>(operation, (cb) =>
        this.client.listConsumerGroupOffsets(
          [{ groupId, partitions: [partition] }],
          { timeout: this.timeoutMs },
          cb,
        ),
      );
    } catch (error) {
      if (error instanceof KafkaError && error.code === 'KAFKA_NOT_AUTHORIZED') {
        throw new KafkaError(
          operation,
          `${error.detail} (the job's principal needs READ on group ${groupId}, or on its prefix)`,
          {
            kafkaCode: error.kafkaCode,
            retriable: false,
            fatal: false,
            abortable: false,
            code: 'KAFKA_NOT_AUTHORIZED',
          },
        );
      }
    }
  }

  async listTopics(): Promise<string[]> {
    return this.call<string[]>('list topics', (cb) =>
      this.client.listTopics({ timeout: this.timeoutMs }, cb),
    );
  }

  async deleteTopic(topic: string): Promise<void> {
    await this.call<void>(`delete topic ${topic}`, (cb) =>
      this.client.deleteTopic(topic, this.timeoutMs, (error) => cb(error, undefined)),
    );
  }

  /** One request to the brokers, counted while librdkafka has it. */
  private async call<T>(operation: string, request: Parameters<typeof settle<T>>[1]): Promise<T> {
    this.pending++;
    try {
      return await settle<T>(operation, request);
    } finally {
      this.pending--;
      if (this.pending === 0 && this.disconnectWhenIdle) this.client.disconnect();
    }
  }

  /**
   * Closes the client once no request is outstanding. librdkafka's destroy is synchronous here and
   * waits for the admin's outstanding requests to time out: a request left behind by an early
   * failure (a login refused while it waited, see connectTo) would stop the event loop for the rest
   * of its timeout (10 s).
   */
  disconnect(): void {
    if (this.pending > 0) this.disconnectWhenIdle = true;
    else this.client.disconnect();
  }
}
