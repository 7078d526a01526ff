import type { ConsumedRecord } from '../../kafka/assigned-consumer.ts';
import type { OutgoingRecord } from '../../kafka/transactional-producer.ts';
import { RuntimeError } from '../errors.ts';
import { decodeChangelogKey, encodeChangelogKey } from './changelog-format.ts';
import type { PartitionStores } from './partition-stores.ts';

/**
 * Compacted: a key's last value is all a restore needs. Tombstones stay a day
 * (Kafka's default) so a restore replaying from an older snapshot still sees
 * a removal; min.compaction.lag keeps the current hour uncompacted, which
 * costs nothing and spares the broker's cleaner.
 */
export const changelogTopicConfig = {
  'cleanup.policy': 'compact',
  'min.compaction.lag.ms': String(3_600_000),
  'delete.retention.ms': String(24 * 3_600_000),
};

/**
 * Where a stage's changelog records go: one changelog partition per input
 * partition of the stage, in the order of the input's topics by name, then
 * partition. A stage reading one topic (every stage after a keyBy, and most
 * sources) logs partition p into changelog partition p.
 */
export class ChangelogRoute {
  readonly topic: string;
  readonly partitions: number;
  private readonly firstOf: ReadonlyMap<string, number>;

  constructor(topic: string, inputCounts: ReadonlyMap<string, number>) {
    this.topic = topic;
    const firstOf = new Map<string, number>();
    let next = 0;
    for (const input of [...inputCounts.keys()].sort()) {
      firstOf.set(input, next);
      next += inputCounts.get(input) as number;
    }
    this.firstOf = firstOf;
    this.partitions = next;
  }

  partitionOf(topic: string, partition: number): number {
    const first = this.firstOf.get(topic);
    if (first === undefined) throw new Error(`${topic} is not an input of the changelog ${this.topic}`);
    return first + partition;
  }
}

/** The records an input partition's changes since the last checkpoint put into its changelog partition. */
export function changelogRecords(
  route: ChangelogRoute,
  input: { topic: string; partition: number },
  stores: PartitionStores,
): OutgoingRecord[] {
  const partition = route.partitionOf(input.topic, input.partition);
  return stores.takeChanges().map(({ store, key, value }) => ({
    topic: route.topic,
    partition,
    key: encodeChangelogKey(store, key),
    value: value ?? null,
  }));
}

/** What a replay reads from: the record fetcher of a read_committed consumer, or a test's stand-in. */
export interface ChangelogReader {
  assign(positions: readonly { topic: string; partition: number; offset: number }[]): void;
  consume(max: number, timeoutMs: number): Promise<ConsumedRecord[]>;
  /** The next offset the partition's fetches ask for. */
  position(topic: string, partition: number): number | undefined;
}

/** One input partition to bring up to date: its stores, and where in its changelog partition to start. */
export interface ReplayTarget {
  changelogPartition: number;
  from: number;
  stores: PartitionStores;
}

/**
 * Replays changelog partitions onto their stores, from each target's offset
 * to `ends` (the committed end of each partition, read after every earlier
 * writer was fenced, so nothing is written meanwhile). read_committed: what
 * aborted transactions logged is skipped. Bounded by `timeoutMs`; returns the
 * records applied.
 */
export async function replayChangelog(
  reader: ChangelogReader,
  topic: string,
  targets: readonly ReplayTarget[],
  ends: ReadonlyMap<number, number>,
  options: { timeoutMs: number; now: () => number },
): Promise<number> {
  const pending = targets.filter((t) => t.from < (ends.get(t.changelogPartition) ?? 0));
  if (pending.length === 0) return 0;
  const byPartition = new Map(pending.map((t) => [t.changelogPartition, t]));
  reader.assign(pending.map((t) => ({ topic, partition: t.changelogPartition, offset: t.from })));
  const deadline = options.now() + options.timeoutMs;
  const caughtUp = () =>
    pending.every(
      (t) => (reader.position(topic, t.changelogPartition) ?? -1) >= (ends.get(t.changelogPartition) ?? 0),
    );
  let applied = 0;
  for (;;) {
    // A short wait: the tail may be only a transaction marker, which moves the position but wakes no consume
    // (a 200 ms wait here cost every restore and promotion 200 ms when nothing was left to replay).
    const records = await reader.consume(10_000, caughtUp() ? 0 : 20);
    for (const record of records) {
      const target = byPartition.get(record.partition);
      const end = ends.get(record.partition) ?? 0;
      if (!target || record.offset >= end) continue;
      const where = `${topic}[${record.partition}]@${record.offset}`;
      const { store, key } = decodeChangelogKey(where, record.key);
      target.stores.replay(store, key, record.value ?? undefined);
      applied++;
    }
    if (records.length === 0 && caughtUp()) return applied;
    if (options.now() > deadline) {
      const behind = pending
        .filter(
          (t) => (reader.position(topic, t.changelogPartition) ?? -1) < (ends.get(t.changelogPartition) ?? 0),
        )
        .map(
          (t) =>
            `${t.changelogPartition} at ${reader.position(topic, t.changelogPartition)} of ${ends.get(t.changelogPartition)}`,
        );
      throw new RuntimeError(
        'CHANGELOG_REPLAY_TIMEOUT',
        `replaying ${topic} did not reach its committed end within ${options.timeoutMs} ms (partitions ${behind.join(', ')})`,
        true,
      );
    }
  }
}
