import { kafkaBootstrap, uniqueName } from '../e2e/support/kafka-topics.ts';
import { AssignedConsumer } from '../src/kafka/assigned-consumer.ts';
import { TransactionalProducer } from '../src/kafka/transactional-producer.ts';

/**
 * Produces `batch(n)` to `topic` every `periodMs` (n counting batches) until
 * the returned stop is called, bounded at `maxMs`; the stop resolves once the
 * producer is closed.
 */
export function startProbes(
  topic: string,
  batch: (n: number) => { key: string; value: string }[],
  periodMs = 50,
  maxMs = 600_000,
): () => Promise<void> {
  let stopped = false;
  const done = (async () => {
    const producer = await TransactionalProducer.connect({ bootstrapServers: kafkaBootstrap() });
    const until = Date.now() + maxMs;
    for (let n = 0; !stopped && Date.now() < until; n++) {
      for (const r of batch(n)) producer.send({ topic, key: r.key, value: Buffer.from(r.value) });
      await producer.flush();
      await new Promise((resolve) => setTimeout(resolve, periodMs));
    }
    await producer.disconnect();
  })();
  return async () => {
    stopped = true;
    await done;
  };
}

/**
 * Each key's highest emitted count (`{key, count}` output records) as a
 * read_committed reader sees it, and when each first passed a mark; bounded
 * at `maxMs` (10 minutes unless set). With `probeKeys`, a mark copies only
 * theirs: a job holding millions of other keys (recovery --state-mb) made
 * mark() copy them all, holding this process (and the probes it produces) for
 * seconds right after each kill.
 */
export async function countReader(
  topic: string,
  partitions: number,
  keys: number,
  options: { probeKeys?: readonly string[]; maxMs?: number } = {},
) {
  const consumer = await AssignedConsumer.connect({
    bootstrapServers: kafkaBootstrap(),
    groupId: uniqueName('bench-reader'),
    isolation: 'read_committed',
  });
  consumer.setConsumeTimeout(50);
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
  const highest = new Map<string, number>();
  let marks: Map<string, number> | undefined;
  const movedAt = new Map<string, number>();
  let stopped = false;
  const loop = (async () => {
    const until = Date.now() + (options.maxMs ?? 600_000);
    while (!stopped && Date.now() < until) {
      for (const m of await consumer.consume(1000)) {
        const out = JSON.parse(m.value?.toString() ?? '{}') as { key: string; count: number };
        highest.set(out.key, Math.max(highest.get(out.key) ?? 0, out.count));
        const mark = marks?.get(out.key);
        if (mark !== undefined && out.count > mark && !movedAt.has(out.key)) movedAt.set(out.key, Date.now());
      }
    }
    await consumer.disconnect();
  })();
  return {
    /** How many distinct keys have had output. */
    keysSeen: () => highest.size,
    /** From now on, a key moves again when it passes its current highest count. */
    mark: () => {
      marks = options.probeKeys
        ? new Map(options.probeKeys.map((key) => [key, highest.get(key) ?? 0]))
        : new Map(highest);
      movedAt.clear();
    },
    /** When every key had moved again, waiting at most `timeoutMs`. */
    allMoved: async (timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (movedAt.size < keys && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (movedAt.size < keys) throw new Error(`only ${movedAt.size}/${keys} keys moved again`);
      return Math.max(...movedAt.values());
    },
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
