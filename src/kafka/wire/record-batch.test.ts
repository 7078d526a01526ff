import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ConsumedRecord, decodeRecordBatches } from './record-batch.ts';

/** A record batch (magic 2, no compression) as a broker would send it; CRC left zero, as the decoder does not read it. */
function testingBatch(options: {
  baseOffset: number;
  values: (string | null)[];
  producerId?: number;
  transactional?: boolean;
  control?: 'abort' | 'commit';
  baseTimestamp?: number;
}): Buffer {
  const varint = (n: number) => {
    let zz = (n << 1) ^ (n >> 31);
    const out: number[] = [];
    while (zz >>> 7) {
      out.push((zz & 0x7f) | 0x80);
      zz >>>= 7;
    }
    out.push(zz);
    return Buffer.from(out);
  };
  const records = options.values.map((value, i) => {
    const key = options.control
      ? Buffer.from([0, 0, 0, options.control === 'commit' ? 1 : 0])
      : Buffer.from(`k${i}`);
    const valueBytes = value === null ? null : Buffer.from(value);
    const body = Buffer.concat([
      Buffer.from([0]),
      varint(i * 10), // timestamp delta
      varint(i), // offset delta
      varint(key.length),
      key,
      varint(valueBytes === null ? -1 : valueBytes.length),
      valueBytes ?? Buffer.alloc(0),
      varint(0),
    ]);
    return Buffer.concat([varint(body.length), body]);
  });
  const header = Buffer.alloc(61);
  header.writeBigInt64BE(BigInt(options.baseOffset), 0);
  header.writeInt8(2, 16);
  header.writeInt16BE((options.transactional ? 0x10 : 0) | (options.control ? 0x20 : 0), 21);
  header.writeInt32BE(options.values.length - 1, 23);
  header.writeBigInt64BE(BigInt(options.baseTimestamp ?? 1_000), 27);
  header.writeBigInt64BE(BigInt(options.producerId ?? -1), 43);
  header.writeInt32BE(options.values.length, 57);
  const batch = Buffer.concat([header, ...records]);
  batch.writeInt32BE(batch.length - 12, 8);
  return batch;
}

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
    const data = Buffer.concat([
      testingBatch({ baseOffset: 10, values: ['a', null, 'c'] }),
      testingBatch({ baseOffset: 13, values: ['d'] }),
    ]);
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
    const whole = testingBatch({ baseOffset: 0, values: ['a', 'b'] });
    const cut = testingBatch({ baseOffset: 2, values: ['c', 'd'] });
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
    testingBatch({ baseOffset: 0, values: ['x1', 'x2'], producerId: 7, transactional: true }),
    testingBatch({ baseOffset: 2, values: [null], producerId: 7, transactional: true, control: 'abort' }),
    testingBatch({ baseOffset: 3, values: ['y'], producerId: 8, transactional: true }),
    testingBatch({ baseOffset: 4, values: [null], producerId: 8, transactional: true, control: 'commit' }),
    testingBatch({ baseOffset: 5, values: ['z'], producerId: 7, transactional: true }),
    testingBatch({ baseOffset: 6, values: [null], producerId: 7, transactional: true, control: 'commit' }),
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
