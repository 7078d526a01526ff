import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PartitionPointer } from './commit-metadata.ts';
import { offsetsToCommit, type PartitionProgress, planCheckpoint } from './plan.ts';

const pointer = (id: number): PartitionPointer => ({
  checkpointId: id,
  objectKey: `o${id}`,
  start: 12,
  length: 3,
  sha256: 'ab'.repeat(32),
});
const p = (id: string, s: Partial<PartitionProgress>): PartitionProgress => ({
  id,
  dirty: false,
  advanced: false,
  position: undefined,
  pointer: undefined,
  ...s,
});

describe('planCheckpoint', () => {
  const table: [string, PartitionProgress[], boolean, string[], boolean][] = [
    ['nothing happened: nothing to do', [p('a', { position: 5, pointer: pointer(1) })], false, [], true],
    [
      'changed state is snapshotted',
      [p('a', { dirty: true, advanced: true, position: 6, pointer: pointer(1) })],
      false,
      ['a'],
      false,
    ],
    [
      'an unchanged partition that only advanced keeps its section',
      [p('a', { advanced: true, position: 6, pointer: pointer(1) })],
      false,
      [],
      false,
    ],
    [
      'a stateless partition gets a first (empty) section',
      [p('a', { advanced: true, position: 1 })],
      false,
      ['a'],
      false,
    ],
    [
      'a savepoint takes every partition with anything to restore',
      [p('a', { position: 5, pointer: pointer(1) }), p('b', {}), p('c', { dirty: true })],
      true,
      ['a', 'c'],
      false,
    ],
  ];
  for (const [what, partitions, savepoint, snapshot, empty] of table) {
    it(what, () => {
      const plan = planCheckpoint(partitions, savepoint);
      assert.deepEqual(
        plan.snapshot.map((x) => x.id),
        snapshot,
      );
      assert.equal(plan.empty, empty);
    });
  }
});

describe('planCheckpoint with a changelog', () => {
  const table: [string, PartitionProgress[], string[], boolean][] = [
    [
      'changed state goes to the changelog, not to a section',
      [p('a', { dirty: true, changed: true, advanced: true, position: 6, pointer: pointer(1) })],
      [],
      false,
    ],
    [
      'a change without a read (a timer fired) still commits',
      [p('a', { dirty: true, changed: true, position: 6, pointer: pointer(1) })],
      [],
      false,
    ],
    [
      'a section materialized in the background is committed',
      [p('a', { position: 6, pointer: pointer(1), materialized: pointer(2) })],
      [],
      false,
    ],
    [
      'a partition with no section yet gets one',
      [p('a', { dirty: true, changed: true, advanced: true, position: 1 })],
      ['a'],
      false,
    ],
    [
      'state restored from a savepoint gets a section of the run',
      [p('a', { position: 5, pointer: pointer(1), snapshotRequired: true })],
      ['a'],
      false,
    ],
    ['nothing happened: nothing to do', [p('a', { position: 5, pointer: pointer(1) })], [], true],
  ];
  for (const [what, partitions, snapshot, empty] of table) {
    it(what, () => {
      const plan = planCheckpoint(partitions, false, true);
      assert.deepEqual(
        plan.snapshot.map((x) => x.id),
        snapshot,
      );
      assert.equal(plan.empty, empty);
    });
  }
});

describe('offsetsToCommit', () => {
  it('commits moved partitions with their new or existing pointer, never one without a pointer', () => {
    const partitions = [
      p('moved-new', { advanced: true, position: 10, pointer: pointer(1) }),
      p('moved-old', { advanced: true, position: 20, pointer: pointer(1) }),
      p('still', { position: 30, pointer: pointer(1) }),
      p('never-read', {}),
    ];
    const fresh = new Map([['moved-new', pointer(2)]]);
    assert.deepEqual(
      offsetsToCommit(partitions, fresh, false).map((o) => [
        o.partition.id,
        o.offset,
        o.pointer.checkpointId,
      ]),
      [
        ['moved-new', 10, 2],
        ['moved-old', 20, 1],
      ],
    );
    assert.deepEqual(
      offsetsToCommit(partitions, fresh, true).map((o) => o.partition.id),
      ['moved-new', 'moved-old', 'still'],
    );
  });
});
