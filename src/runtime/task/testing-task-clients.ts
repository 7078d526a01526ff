import type { OffsetWithMetadata, OutgoingRecord } from '../../kafka/transactional-producer.ts';
import type { TaskProducer } from './task-clients.ts';

/** What one committed transaction made visible. */
export interface TestingTransaction {
  records: OutgoingRecord[];
  offsets: OffsetWithMetadata[];
}

/**
 * A task's producer for unit tests: keeps what each transaction would make
 * visible, the records sent and the offsets committed with them; `onCommit`
 * hears each committed transaction (a test's stand-in for a topic's log).
 */
export class TestingProducer implements TaskProducer {
  readonly transactionalId: string;
  readonly committed: TestingTransaction[] = [];
  private open: TestingTransaction = { records: [], offsets: [] };
  private readonly onCommit: (transaction: TestingTransaction) => void;

  constructor(
    transactionalId: string,
    onCommit: (transaction: TestingTransaction) => void = () => undefined,
  ) {
    this.transactionalId = transactionalId;
    this.onCommit = onCommit;
  }

  async begin(): Promise<void> {
    this.open = { records: [], offsets: [] };
  }
  /** How many records the open transaction holds so far. */
  get openRecords(): number {
    return this.open.records.length;
  }

  sendAll(records: readonly OutgoingRecord[]): undefined {
    this.open.records.push(...records);
    return undefined;
  }
  async sendWhenQueued(record: OutgoingRecord): Promise<void> {
    this.open.records.push(record);
  }
  async sendOffsets(offsets: OffsetWithMetadata[]): Promise<void> {
    this.open.offsets.push(...offsets);
  }
  async flush(): Promise<void> {}
  async commit(): Promise<void> {
    this.committed.push(this.open);
    this.onCommit(this.open);
  }
  async abort(): Promise<void> {
    this.open = { records: [], offsets: [] };
  }
  async disconnect(): Promise<void> {}

  /** The last committed offset of the partition. */
  committedOffset(partition: number): number | undefined {
    return this.committed
      .flatMap((t) => t.offsets)
      .filter((o) => o.partition === partition)
      .at(-1)?.offset;
  }

  /** The metadata of the last offset committed. */
  lastMetadata(): string | undefined {
    return this.committed.flatMap((t) => t.offsets).at(-1)?.metadata;
  }
}
