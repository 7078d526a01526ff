import { backoffMs, delay } from '../retry.ts';

/**
 * The partition count of a topic that exists. A topic another client created
 * a moment ago is in the metadata before its partitions are, so it reads as
 * 0 partitions; 0 is asked again, with the Kafka clients' backoff (about 4.5 s
 * over `attempts`), before it is taken for the answer.
 */
export async function settledPartitionCount(
  describe: () => Promise<number>,
  options: { attempts?: number; wait?: (ms: number) => Promise<void> } = {},
): Promise<number> {
  const attempts = options.attempts ?? 8;
  const wait = options.wait ?? delay;
  let count = await describe();
  for (let attempt = 1; count === 0 && attempt < attempts; attempt++) {
    await wait(backoffMs(attempt, 1_000));
    count = await describe();
  }
  return count;
}
