import { connectTo, KafkaError, kafkaErrorCodes, settle } from './errors.ts';
import { type IAdminClient, rdkafka, type TopicDescription } from './native.ts';

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

  constructor(
    bootstrapServers: string,
    options: { timeoutMs?: number; clientId?: string; settings?: Record<string, string> } = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.bootstrapServers = bootstrapServers;
    this.client = rdkafka.AdminClient.create({
      'bootstrap.servers': bootstrapServers,
      'client.id': options.clientId ?? 'weir-admin',
      log_level: 0,
      ...options.settings,
    });
  }

  /** Creates the topic; an existing topic is accepted only when its partition count matches. */
  async ensureTopic(topic: TopicSpec): Promise<void> {
    try {
      await settle<void>(`create topic ${topic.name}`, (cb) =>
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
      const existing = await this.partitionCount(topic.name);
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
    const [description] = await connectTo(this.bootstrapServers, this.timeoutMs, () =>
      settle<TopicDescription[]>(`describe topic ${topic}`, (cb) =>
        this.client.describeTopics([topic], { timeout: this.timeoutMs }, cb),
      ),
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

  async deleteTopic(topic: string): Promise<void> {
    await settle<void>(`delete topic ${topic}`, (cb) =>
      this.client.deleteTopic(topic, this.timeoutMs, (error) => cb(error, undefined)),
    );
  }

  disconnect(): void {
    this.client.disconnect();
  }
}
