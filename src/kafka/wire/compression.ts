import * as zlib from 'node:zlib';

/** Record batch compression codecs by their attribute bits (0-2). */
export const codecNames = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

/**
 * The uncompressed records of a batch whose attributes name `codec`, at most
 * `maxBytes` of them: the input is untrusted, and more fails instead of
 * filling the heap.
 */
export function decompress(codec: number, data: Buffer, maxBytes: number): Buffer {
  switch (codec) {
    case 1:
      return zlib.gunzipSync(data, { maxOutputLength: maxBytes });
    case 2:
      return snappyDecompress(data, maxBytes);
    case 3:
      return lz4FrameDecompress(data, maxBytes);
    case 4: {
      const zstd = (
        zlib as { zstdDecompressSync?: (data: Buffer, options: { maxOutputLength: number }) => Buffer }
      ).zstdDecompressSync;
      if (!zstd) throw new Error('zstd-compressed records need Node 22.15 or later');
      return zstd(data, { maxOutputLength: maxBytes });
    }
    default:
      throw new Error(`unknown compression codec ${codec} in a record batch`);
  }
}

const xerialMagic = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

/**
 * Snappy as Kafka producers write it: raw snappy (librdkafka), or the xerial
 * framing of the Java client (a 16-byte header, then length-prefixed blocks).
 */
export function snappyDecompress(data: Buffer, maxBytes: number): Buffer {
  if (data.length < 16 || !data.subarray(0, 8).equals(xerialMagic)) return snappyBlock(data, maxBytes);
  const blocks: Buffer[] = [];
  let total = 0;
  let at = 16;
  while (at < data.length) {
    if (at + 4 > data.length) throw new Error('snappy: a block length is cut off');
    const length = data.readInt32BE(at);
    at += 4;
    if (length < 0 || at + length > data.length)
      throw new Error(`snappy: a block of ${length} bytes is out of range`);
    const block = snappyBlock(data.subarray(at, at + length), maxBytes - total);
    total += block.length;
    blocks.push(block);
    at += length;
  }
  return Buffer.concat(blocks);
}

/** One raw snappy block: a varint length, then literals and back-references. */
export function snappyBlock(data: Buffer, maxBytes: number): Buffer {
  let at = 0;
  let length = 0;
  for (let shift = 0; ; shift += 7) {
    const byte = data[at++];
    if (byte === undefined || shift > 28) throw new Error('snappy: bad length header');
    length += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
  }
  if (length > maxBytes)
    throw new Error(`snappy: a block of ${length} bytes is over the limit of ${maxBytes}`);
  const out = Buffer.allocUnsafe(length);
  let pos = 0;
  while (at < data.length) {
    const tag = data[at++] as number;
    const kind = tag & 3;
    if (kind === 0) {
      let literal = tag >>> 2;
      if (literal >= 60) {
        const bytes = literal - 59;
        literal = data.readUIntLE(at, bytes);
        at += bytes;
      }
      literal += 1;
      if (pos + literal > length || at + literal > data.length)
        throw new Error('snappy: literal out of range');
      data.copy(out, pos, at, at + literal);
      at += literal;
      pos += literal;
      continue;
    }
    let copy: number;
    let offset: number;
    if (kind === 1) {
      copy = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | (data[at++] as number);
    } else if (kind === 2) {
      copy = 1 + (tag >>> 2);
      offset = data.readUInt16LE(at);
      at += 2;
    } else {
      copy = 1 + (tag >>> 2);
      offset = data.readUInt32LE(at);
      at += 4;
    }
    pos = backReference(out, pos, offset, copy, length, 'snappy');
  }
  if (pos !== length) throw new Error('snappy: data shorter than its header says');
  return out;
}

/** Copies `count` bytes from `offset` back; the ranges may overlap (a run), so byte by byte then. */
function backReference(
  out: Buffer,
  pos: number,
  offset: number,
  count: number,
  limit: number,
  codec: string,
): number {
  if (offset === 0 || offset > pos) throw new Error(`${codec}: back-reference out of range`);
  if (pos + count > limit)
    throw new Error(`${codec}: back-reference past the end, or the limit of ${limit} bytes`);
  if (offset >= count) {
    out.copy(out, pos, pos - offset, pos - offset + count);
    return pos + count;
  }
  for (let i = 0; i < count; i++) out[pos + i] = out[pos + i - offset] as number;
  return pos + count;
}

/** The LZ4 frame format (Kafka's lz4 codec): blocks may refer back into earlier blocks, so all go into one buffer. */
export function lz4FrameDecompress(data: Buffer, maxBytes: number): Buffer {
  if (data.length < 7 || data.readUInt32LE(0) !== 0x184d2204) throw new Error('lz4: not an LZ4 frame');
  const flags = data[4] as number;
  const blockChecksums = (flags & 0x10) !== 0;
  const contentSize = (flags & 0x08) !== 0;
  let at = 6 + (contentSize ? 8 : 0) + (flags & 0x01 ? 4 : 0) + 1; // FLG, BD, sizes, then the header checksum
  let out = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(64 * 1024, data.length * 4)));
  let pos = 0;
  for (;;) {
    if (at + 4 > data.length) throw new Error('lz4: frame ends without an end mark');
    const word = data.readUInt32LE(at);
    at += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (at + size > data.length) throw new Error(`lz4: a block of ${size} bytes runs past the frame`);
    const block = data.subarray(at, at + size);
    at += size + (blockChecksums ? 4 : 0);
    // A block never holds more than 4 MiB uncompressed (the largest block size LZ4 frames have).
    // At the limit the buffer grows no more: a block that would pass its end fails inside lz4Block.
    if (out.length - pos < 4 * 1024 * 1024 + size && out.length < maxBytes) {
      const grown = Buffer.allocUnsafe(
        Math.min(maxBytes, Math.max(out.length * 2, pos + 4 * 1024 * 1024 + size)),
      );
      out.copy(grown, 0, 0, pos);
      out = grown;
    }
    if (word & 0x80000000) {
      if (pos + size > out.length)
        throw new Error(`lz4: the frame inflates past the limit of ${maxBytes} bytes`);
      block.copy(out, pos);
      pos += size;
    } else {
      pos = lz4Block(block, out, pos);
    }
  }
  return out.subarray(0, pos);
}

/** One LZ4 block into `out` from `pos`; returns the new end. */
export function lz4Block(block: Buffer, out: Buffer, start: number): number {
  let at = 0;
  let pos = start;
  while (at < block.length) {
    const token = block[at++] as number;
    let literal = token >>> 4;
    if (literal === 15) {
      for (;;) {
        const more = lengthByte(block, at++);
        literal += more;
        if (more !== 255) break;
      }
    }
    if (at + literal > block.length) throw new Error('lz4: literal out of range');
    if (pos + literal > out.length)
      throw new Error(`lz4: the frame inflates past the limit of ${out.length} bytes`);
    block.copy(out, pos, at, at + literal);
    at += literal;
    pos += literal;
    if (at >= block.length) break; // the last sequence has literals only
    const offset = block.readUInt16LE(at);
    at += 2;
    let match = token & 15;
    if (match === 15) {
      for (;;) {
        const more = lengthByte(block, at++);
        match += more;
        if (more !== 255) break;
      }
    }
    pos = backReference(out, pos, offset, match + 4, out.length, 'lz4');
  }
  return pos;
}

function lengthByte(block: Buffer, at: number): number {
  const byte = block[at];
  if (byte === undefined) throw new Error('lz4: block ends inside a length');
  return byte;
}
