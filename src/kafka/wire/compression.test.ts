import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { decompress, lz4FrameDecompress, snappyDecompress } from './compression.ts';

const limit = 1024 * 1024;

describe('snappy', () => {
  // "abcd" as a literal, then a copy of 8 bytes from 4 back (overlapping: a run), then "xyz".
  const raw = Buffer.from([15, 0x0c, ...Buffer.from('abcd'), 0x11, 4, 0x08, ...Buffer.from('xyz')]);

  it('decodes a raw block with literals and an overlapping back-reference', () => {
    assert.equal(snappyDecompress(raw, limit).toString(), 'abcdabcdabcdxyz');
  });

  it('decodes the xerial framing of the Java client, block by block', () => {
    const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
    const length = Buffer.alloc(4);
    length.writeInt32BE(raw.length);
    const framed = Buffer.concat([header, length, raw, length, raw]);
    assert.equal(snappyDecompress(framed, limit).toString(), 'abcdabcdabcdxyz'.repeat(2));
  });

  it('rejects a back-reference before the start', () => {
    assert.throws(() => snappyDecompress(Buffer.from([4, 0x05, 9]), limit), /back-reference out of range/);
  });
});

describe('lz4 frames', () => {
  const block = Buffer.from([0x44, ...Buffer.from('abcd'), 4, 0, 0x30, ...Buffer.from('xyz')]);
  const frame = (...blocks: Buffer[]) => {
    const parts: Buffer[] = [Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82])];
    for (const b of blocks) {
      const size = Buffer.alloc(4);
      size.writeUInt32LE(b.length);
      parts.push(size, b);
    }
    return Buffer.concat([...parts, Buffer.alloc(4)]);
  };

  it('decodes compressed blocks with overlapping matches, across blocks', () => {
    assert.equal(lz4FrameDecompress(frame(block, block), limit).toString(), 'abcdabcdabcdxyz'.repeat(2));
  });

  it('takes an uncompressed block as it is', () => {
    const stored = Buffer.from('plain');
    const size = Buffer.alloc(4);
    size.writeUInt32LE((stored.length | 0x80000000) >>> 0);
    const data = Buffer.concat([
      Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]),
      size,
      stored,
      Buffer.alloc(4),
    ]);
    assert.equal(lz4FrameDecompress(data, limit).toString(), 'plain');
  });

  it('rejects data that is not a frame, and a frame cut short', () => {
    assert.throws(() => lz4FrameDecompress(Buffer.from('not lz4 at all'), limit), /not an LZ4 frame/);
    assert.throws(() => lz4FrameDecompress(frame(block).subarray(0, 12), limit), /lz4/);
  });
});

describe('decompression limits (the bytes are untrusted)', () => {
  it('fails a gzip or zstd batch that inflates past the limit instead of filling the heap', () => {
    const bomb = Buffer.alloc(4 * 1024 * 1024);
    assert.throws(() => decompress(1, zlib.gzipSync(bomb), limit), /maxOutputLength|larger than|buffer/i);
    assert.equal(decompress(1, zlib.gzipSync(bomb), 8 * limit).length, bomb.length);
    assert.throws(
      () => decompress(4, zlib.zstdCompressSync(bomb), limit),
      /maxOutputLength|larger than|buffer/i,
    );
  });

  it('fails a snappy block whose header claims more than the limit, before allocating it', () => {
    // A length header of 2^34 bytes and nothing else.
    assert.throws(
      () => snappyDecompress(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x40]), limit),
      /over the limit/,
    );
  });

  it('fails a xerial frame with a negative block length instead of reading backwards forever', () => {
    const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
    assert.throws(
      () => snappyDecompress(Buffer.concat([header, Buffer.from([0xff, 0xff, 0xff, 0xf0])]), limit),
      /out of range/,
    );
  });

  it('fails an lz4 frame that inflates past the limit', () => {
    const stored = Buffer.alloc(64 * 1024);
    const size = Buffer.alloc(4);
    size.writeUInt32LE((stored.length | 0x80000000) >>> 0);
    const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
    const frame = Buffer.concat([
      header,
      ...Array.from({ length: 20 }, () => [size, stored]).flat(),
      Buffer.alloc(4),
    ]);
    assert.throws(() => lz4FrameDecompress(frame, limit), /limit/);
  });
});
