import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { PartitionStores } from '../state/partition-stores.ts';
import { provenIdle, unreadRecords } from './idle-proof.ts';
import { PartitionRuntime } from './partition-runtime.ts';
import type { TaskConsumer } from './task-clients.ts';

const log = pino({ level: 'silent' });

/** A consumer whose leaders answer `ends`, whose fetches stand at `fetched`, with `buffered` records not taken. */
function consumer(ends: number[], fetched: (number | undefined)[], buffered: number): TaskConsumer {
  return {
    consume: async () => [],
    highWatermark: () => undefined,
    fetchPosition: (_topic, partition) => fetched[partition],
    bufferedRecords: () => buffered,
    endOffsets: async () => ends,
    commitWithMetadata: () => {},
    disconnect: async () => {},
  };
}

const partitions = (positions: (number | undefined)[]) =>
  positions.map(
    (position, partition) =>
      new PartitionRuntime({ topic: 'weir.ns.job.r1.by-key', partition }, new PartitionStores(), position),
  );

describe('provenIdle: a task that read nothing since its commit is idle only when nothing waits for it', () => {
  const cases: [string, (number | undefined)[], number[], (number | undefined)[], number, boolean][] = [
    ['its position is at every end offset', [10, 20], [10, 20], [10, 20], 0, true],
    [
      'only a commit marker lies past its position (a transactional input): the fetches passed it, nothing is buffered',
      [10, 20],
      [11, 21],
      [11, 21],
      0,
      true,
    ],
    ['records lie past its position, fetched and not yet taken', [10, 20], [11, 21], [11, 21], 3, false],
    ['records lie past its position, not fetched yet (a dead fetch)', [10, 20], [15, 21], [10, 21], 0, false],
    ['a partition never read, its fetch at the end', [undefined, 20], [5, 20], [5, 20], 0, true],
    [
      'a partition never read, with no fetch position yet',
      [undefined, 20],
      [5, 20],
      [undefined, 20],
      0,
      false,
    ],
  ];
  for (const [name, positions, ends, fetched, buffered, idle] of cases)
    it(name, async () =>
      assert.equal(
        await provenIdle(partitions(positions), consumer(ends, fetched, buffered), 10_000, log),
        idle,
      ),
    );

  it('is not idle when the partition leaders do not answer', async () => {
    const silent = { ...consumer([], [], 0), endOffsets: async () => Promise.reject(new Error('timed out')) };
    assert.equal(await provenIdle(partitions([10]), silent, 10_000, log), false);
  });
});

describe('unreadRecords: a partition’s lag', () => {
  it('counts from the position to the high watermark, less the markers the fetches passed once nothing waits', () => {
    assert.equal(unreadRecords(undefined, 5, 5, true), null, 'no fetch saw the high watermark yet');
    assert.equal(unreadRecords(20, 10, 12, false), 10, 'records fetched and not taken are unread');
    assert.equal(unreadRecords(21, 20, 21, true), 0, 'only a commit marker left: nothing to read');
    assert.equal(unreadRecords(30, 20, 21, true), 9);
    assert.equal(unreadRecords(20, undefined, undefined, true), 20, 'a partition never read');
  });
});
