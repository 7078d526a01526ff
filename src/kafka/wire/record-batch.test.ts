import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ConsumedRecord, decodeRecordBatches } from './record-batch.ts';
import { testingRecordBatch as batch } from './testing-broker.ts';

const decode = (
  data: Buffer,
  fetchOffset: number,
  aborted?: { producerId: number; firstOffset: number }[],
) => {
  const out: ConsumedRecord[] = [];
  const next = decodeRecordBatches(data, 't', 0, fetchOffset, aborted, out);
  return {
    next,
    records: out.map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString() ?? null, r.timestamp]),
  };
};

describe('decodeRecordBatches', () => {
  it('gives offsets, keys, values, nulls and timestamps, from the fetch offset on', () => {
    const data = Buffer.concat([batch(10, ['a', null, 'c']), batch(13, ['d'])]);
    assert.deepEqual(decode(data, 11), {
      next: 14,
      records: [
        [11, 'k1', null, 1010],
        [12, 'k2', 'c', 1020],
        [13, 'k0', 'd', 1000],
      ],
    });
  });

  it('leaves a batch cut off at the end of the data for the next fetch', () => {
    const whole = batch(0, ['a', 'b']);
    const cut = batch(2, ['c', 'd']);
    const data = Buffer.concat([whole, cut.subarray(0, cut.length - 3)]);
    assert.deepEqual(decode(data, 0), {
      next: 2,
      records: [
        [0, 'k0', 'a', 1000],
        [1, 'k1', 'b', 1010],
      ],
    });
  });

  // Producer 7 aborts a transaction at 0-1 (marker at 2); producer 8 commits 3 (marker at 4); producer 7 then commits 5.
  const transactions = Buffer.concat([
    batch(0, ['x1', 'x2'], { producerId: 7, transactional: true }),
    batch(2, [null], { producerId: 7, transactional: true, control: 'abort' }),
    batch(3, ['y'], { producerId: 8, transactional: true }),
    batch(4, [null], { producerId: 8, transactional: true, control: 'commit' }),
    batch(5, ['z'], { producerId: 7, transactional: true }),
    batch(6, [null], { producerId: 7, transactional: true, control: 'commit' }),
  ]);

  it('under read_committed drops aborted transactions and every marker, and keeps a later transaction of the same producer', () => {
    assert.deepEqual(decode(transactions, 0, [{ producerId: 7, firstOffset: 0 }]), {
      next: 7,
      records: [
        [3, 'k0', 'y', 1000],
        [5, 'k0', 'z', 1000],
      ],
    });
  });

  it('under read_uncommitted keeps aborted records and still drops the markers', () => {
    assert.deepEqual(
      decode(transactions, 0).records.map((r) => r[2]),
      ['x1', 'x2', 'y', 'z'],
    );
  });
});
