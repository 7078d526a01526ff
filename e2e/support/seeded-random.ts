import { randomInt } from 'node:crypto';
import type { TestContext } from 'node:test';

/**
 * A reproducible random source for tests that pick kill points at random: the
 * seed is printed with the test's output, and WEIR_TEST_SEED=<seed> replays a run.
 */
export function seededRandom(t: TestContext): () => number {
  const fromEnv = process.env.WEIR_TEST_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : randomInt(2 ** 32);
  t.diagnostic(`random seed ${seed} (replay with WEIR_TEST_SEED=${seed})`);
  // mulberry32: small, fast and well distributed for picking delays.
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
