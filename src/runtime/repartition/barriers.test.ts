import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BarrierAlignment } from './barriers.ts';

/** A task owning partitions 0 and 2, fed by 2 upstream tasks: aligned after 4 (partition, task) barriers. */
function alignment() {
  return new BarrierAlignment<string>([0, 2], 2);
}

describe('BarrierAlignment', () => {
  it('is aligned only once every upstream task’s barrier arrived in every owned partition', () => {
    const a = alignment();
    a.request('sp', 0);
    const steps: [number, number][] = [
      [0, 0],
      [0, 1],
      [2, 0],
    ];
    for (const [partition, from] of steps) {
      assert.equal(a.admit(partition, from, 'sp', 'B', 1), 'barrier');
      assert.equal(a.aligned('sp'), false);
    }
    assert.equal(a.admit(2, 1, 'sp', 'B', 1), 'barrier');
    assert.equal(a.aligned('sp'), true);
  });

  it('holds a task’s records after its barrier in that partition, processes the others, and releases in order', () => {
    const a = alignment();
    a.request('sp', 0);
    const admitted = [
      a.admit(0, 0, undefined, 'u0-before', 1),
      a.admit(0, 0, 'sp', 'B', 1),
      a.admit(0, 0, undefined, 'u0-after-1', 1),
      a.admit(0, 1, undefined, 'u1-before', 1),
      a.admit(2, 0, undefined, 'u0-other-partition', 1),
      a.admit(0, 0, undefined, 'u0-after-2', 1),
    ];
    assert.deepEqual(admitted, ['process', 'barrier', 'held', 'process', 'process', 'held']);
    assert.equal(a.holding, true);
    assert.deepEqual(a.release('sp'), ['u0-after-1', 'u0-after-2']);
    assert.equal(a.holding, false);
    assert.equal(a.admit(0, 0, undefined, 'later', 2), 'process', 'nothing is held once the cut is taken');
  });

  it('expires barriers nobody asked for soon, and requested ones at the timeout', () => {
    const a = alignment();
    a.admit(0, 0, 'stale', 'B', 1_000);
    a.request('asked', 1_000);
    assert.deepEqual(a.expired(3_000, 10_000, 5_000), []);
    assert.deepEqual(a.expired(6_001, 10_000, 5_000), ['stale']);
    assert.deepEqual(a.expired(11_001, 10_000, 5_000), ['stale', 'asked']);
  });

  it('ending one of two open alignments releases only the records the other does not hold back', () => {
    // A barrier re-read after a restart (nobody asks for it) and a savepoint asked for now, in flight together.
    const a = alignment();
    a.request('asked', 0);
    const admitted = [
      a.admit(0, 0, 'stale', 'B', 0),
      a.admit(0, 0, undefined, 'u0-after-stale', 0),
      a.admit(0, 1, 'asked', 'B', 0),
      a.admit(0, 1, undefined, 'u1-after-asked', 0),
      a.admit(0, 0, undefined, 'u0-after-stale-2', 0),
    ];
    assert.deepEqual(admitted, ['barrier', 'held', 'barrier', 'held', 'held']);
    assert.deepEqual(a.expired(6_000, 60_000, 5_000), ['stale']);
    // u1's record follows the barrier of the savepoint still aligning: released now it would enter that cut.
    assert.deepEqual(a.release('stale'), ['u0-after-stale', 'u0-after-stale-2']);
    assert.equal(a.heldCount, 1);
    assert.equal(a.admit(0, 0, undefined, 'u0-later', 6_000), 'process');
    assert.equal(
      a.admit(0, 1, undefined, 'u1-later', 6_000),
      'held',
      'its channel is still behind a barrier',
    );
    assert.deepEqual(a.release('asked'), ['u1-after-asked', 'u1-later']);
    assert.equal(a.holding, false);
  });

  it('on a stop, releases every held record of every alignment, in the order read', () => {
    const a = alignment();
    a.admit(0, 0, 'one', 'B', 0);
    a.admit(2, 1, 'two', 'B', 0);
    a.admit(0, 0, undefined, 'first', 0);
    a.admit(2, 1, undefined, 'second', 0);
    assert.deepEqual(a.releaseAll(), ['first', 'second']);
    assert.equal(a.holding, false);
    assert.equal(a.admit(0, 0, undefined, 'after', 0), 'process', 'no alignment is open any more');
  });

  it('ignores a barrier written by an upstream stage of another parallelism (a layout before a rescale)', () => {
    const a = alignment();
    assert.equal(a.admit(0, 0, 'old', 'B', 0, 3), 'barrier');
    assert.equal(a.admit(0, 0, undefined, 'next', 0), 'process');
    assert.equal(a.admit(0, 0, 'now', 'B', 0, 2), 'barrier');
    assert.equal(a.admit(0, 0, undefined, 'held', 0), 'held');
  });
});
