import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c } from '@node-rs/crc32';
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

  it('fails a batch whose CRC-32C does not match its bytes, naming topic, partition and offset', () => {
    const corrupt = batch(40, ['a', 'b']);
    corrupt.writeUInt8((corrupt.readUInt8(corrupt.length - 2) ^ 0x01) & 0xff, corrupt.length - 2);
    assert.throws(() => decode(corrupt, 40), {
      code: 'KAFKA_CORRUPT_RECORD_BATCH',
      retriable: false,
      message: /^t\[0\] at offset 40: the record batch's CRC-32C is [0-9a-f]+ but its bytes give [0-9a-f]+/,
    });
  });

  it('fails a negative or too short batch length at once instead of looping on it', () => {
    for (const length of [-1, -61, 0, 48]) {
      const bad = batch(7, ['a']);
      bad.writeInt32BE(length, 8);
      assert.throws(() => decode(bad, 7), {
        code: 'KAFKA_MALFORMED_RESPONSE',
        message: /offset 7: a record batch of length/,
      });
    }
  });

  it('fails a record count or a record length past the batch, and a header count past the record', () => {
    const many = batch(0, ['a']);
    many.writeInt32BE(1_000_000, 57);
    many.writeInt32BE(999_999, 23);
    many.writeUInt32BE(crc32c(many.subarray(21)), 17);
    assert.throws(() => decode(many, 0), {
      code: 'KAFKA_MALFORMED_RESPONSE',
      message: /1000000 records cannot fit/,
    });
    const long = batch(0, ['a']);
    long[61] = 0x7e; // the record's length varint: 63 bytes, in a batch that holds 9
    long.writeUInt32BE(crc32c(long.subarray(21)), 17);
    assert.throws(() => decode(long, 0), {
      code: 'KAFKA_MALFORMED_RESPONSE',
      message: /record 0 of 63 bytes runs past/,
    });
  });
});
