import { kafkaBootstrap } from '../e2e/support/kafka-topics.ts';
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
