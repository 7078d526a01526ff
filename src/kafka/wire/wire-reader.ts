import { WireFormatError } from './wire-error.ts';

/**
 * Reads Kafka's wire types from one buffer, front to back, never past `end`:
 * every read is bounded, and one that would pass it throws WireFormatError. Everything a fetch
 * returns is read in place: keys and values come out as views of the response
 * buffer, never copies.
 */
export class WireReader {
  offset: number;
  readonly buffer: Buffer;
  readonly end: number;

  constructor(buffer: Buffer, offset = 0, end = buffer.length) {
    this.buffer = buffer;
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Fails unless `bytes` more are there to read. */
  private need(bytes: number, what: string): void {
    if (this.offset + bytes > this.end) {
      throw new WireFormatError(`${what} at byte ${this.offset} runs past the end (${this.end})`);
    }
  }

  int8(): number {
    this.need(1, 'an int8');
    const value = this.buffer.readInt8(this.offset);
    this.offset += 1;
    return value;
  }

  int16(): number {
    this.need(2, 'an int16');
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(): number {
    this.need(4, 'an int32');
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  uint32(): number {
    this.need(4, 'a uint32');
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  /** An int64 as a number: offsets, timestamps and producer ids stay far below 2^53. */
  int64(): number {
    this.need(8, 'an int64');
    const high = this.buffer.readInt32BE(this.offset);
    const low = this.buffer.readUInt32BE(this.offset + 4);
    this.offset += 8;
    return high * 0x1_0000_0000 + low;
  }

  /** A zigzag varint (records' lengths and deltas); values fit in 32 bits. */
  varint(): number {
    const { buffer, end } = this;
    let shift = 0;
    let raw = 0;
    for (;;) {
      if (this.offset >= end) throw new WireFormatError('a varint runs past the end');
      const byte = buffer[this.offset++] as number;
      raw |= (byte & 0x7f) << shift;
      if (byte < 0x80) break;
      shift += 7;
      if (shift > 28) throw new WireFormatError('a varint is longer than 5 bytes');
    }
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** A zigzag varlong (timestamp deltas), as a number. */
  varlong(): number {
    const { buffer, end } = this;
    let raw = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (this.offset >= end) throw new WireFormatError('a varlong runs past the end');
      const byte = buffer[this.offset++] as number;
      raw += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
      if (i >= 9) throw new WireFormatError('a varlong is longer than 10 bytes');
    }
    // Zigzag without 32-bit operators, which would cut a long to 32 bits.
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  /** An int16-length string; null for length -1. */
  string(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    return this.take(length).toString('utf8');
  }

  /** An int32-length byte string, as a view; null for length -1. */
  bytes(): Buffer | null {
    const length = this.int32();
    if (length < 0) return null;
    return this.take(length);
  }

  /** `length` bytes as a view of the buffer. */
  take(length: number): Buffer {
    if (length < 0 || this.offset + length > this.end) {
      throw new WireFormatError(
        `a field of ${length} bytes at byte ${this.offset} runs past the end (${this.end})`,
      );
    }
    const view = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return view;
  }

  /** An int32-counted array; a null array (-1) reads as empty. Every item takes a byte at least. */
  array<T>(item: (reader: WireReader) => T): T[] {
    const count = this.int32();
    if (count > this.remaining) {
      throw new WireFormatError(`an array of ${count} items cannot fit in the ${this.remaining} bytes left`);
    }
    const items: T[] = [];
    for (let i = 0; i < count; i++) items.push(item(this));
    return items;
  }
}
