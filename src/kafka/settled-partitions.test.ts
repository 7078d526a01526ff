import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settledPartitionCount } from './settled-partitions.ts';

/** Answers the counts in turn, then the last one again; records the waits asked for. */
function testingDescribe(counts: number[]) {
  const waits: number[] = [];
  let calls = 0;
  return {
    waits,
    calls: () => calls,
    describe: async () => counts[Math.min(calls++, counts.length - 1)] as number,
    wait: async (ms: number) => {
      waits.push(ms);
    },
  };
}

describe('settledPartitionCount', () => {
  it('asks again while a topic just created by another client shows no partitions', async () => {
    const t = testingDescribe([0, 0, 4]);
    assert.equal(await settledPartitionCount(t.describe, { wait: t.wait }), 4);
    assert.equal(t.calls(), 3);
    assert.deepEqual(t.waits, [100, 200]);
  });

  it('takes a count other than 0 at once, a mismatch included', async () => {
    const t = testingDescribe([2]);
    assert.equal(await settledPartitionCount(t.describe, { wait: t.wait }), 2);
    assert.deepEqual(t.waits, []);
  });

  it('gives up after its attempts and answers 0, with waits capped at 1 s', async () => {
    const t = testingDescribe([0]);
    assert.equal(await settledPartitionCount(t.describe, { wait: t.wait, attempts: 8 }), 0);
    assert.equal(t.calls(), 8);
    assert.deepEqual(t.waits, [100, 200, 400, 800, 1000, 1000, 1000]);
  });
});
