import type { ConsumedRecord } from '../../kafka/assigned-consumer.ts';
import type { OffsetWithMetadata, OutgoingRecord } from '../../kafka/transactional-producer.ts';

/**
 * The Kafka clients a running task uses, by what it calls on them: the
 * adapter's AssignedConsumer and TransactionalProducer in a TaskManager, and
 * `Testing*` stand-ins in the task's unit tests (stream-task.test.ts).
 */
export interface TaskConsumer {
  consume(max: number): Promise<ConsumedRecord[]>;
  highWatermark(topic: string, partition: number): number | undefined;
  fetchPosition(topic: string, partition: number): number | undefined;
  /** Records fetched and not yet consumed, of every partition. */
  bufferedRecords(): number;
  endOffsets(partitions: { topic: string; partition: number }[], timeoutMs: number): Promise<number[]>;
  commitWithMetadata(offsets: { topic: string; partition: number; offset: number; metadata: string }[]): void;
  disconnect(): Promise<void>;
}

export interface TaskProducer {
  readonly transactionalId: string | undefined;
  begin(): Promise<void>;
  sendAll(records: readonly OutgoingRecord[]): Promise<void> | undefined;
  sendWhenQueued(record: OutgoingRecord): Promise<void>;
  /** The source offsets into the open transaction; `consumer` is the one that read them (its group metadata). */
  sendOffsets(offsets: OffsetWithMetadata[], consumer: TaskConsumer): Promise<void>;
  flush(): Promise<void>;
  commit(): Promise<void>;
  abort(timeoutMs?: number): Promise<void>;
  disconnect(): Promise<void>;
}
