import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ownedPartitions, partitionId } from './assignment.ts';

describe('ownedPartitions (task i of N owns p mod N = i)', () => {
  const table: [string, Record<string, number>, number, number, string[]][] = [
    ['one task owns everything', { a: 3 }, 0, 1, ['a/0', 'a/1', 'a/2']],
    ['two tasks split evenly', { a: 4 }, 1, 2, ['a/1', 'a/3']],
    ['more tasks than partitions leaves a task idle', { a: 2 }, 3, 4, []],
    ['every source topic is split the same way', { b: 2, a: 3 }, 0, 2, ['a/0', 'a/2', 'b/0']],
  ];
  for (const [what, counts, task, n, expected] of table) {
    it(what, () => {
      assert.deepEqual(ownedPartitions(new Map(Object.entries(counts)), task, n).map(partitionId), expected);
    });
  }

  it('assigns every partition to exactly one task', () => {
    const counts = new Map([
      ['x', 7],
      ['y', 12],
    ]);
    const all = Array.from({ length: 5 }, (_, t) => ownedPartitions(counts, t, 5).map(partitionId)).flat();
    assert.equal(all.length, 19);
    assert.equal(new Set(all).size, 19);
  });
});
