/** Writes Kafka's wire types into a growing buffer: requests are small, so simplicity wins over speed here. */
export class WireWriter {
  private buffer = Buffer.allocUnsafe(256);
  private length = 0;

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  int8(value: number): this {
    this.room(1);
    this.length = this.buffer.writeInt8(value, this.length);
    return this;
  }

  int16(value: number): this {
    this.room(2);
    this.length = this.buffer.writeInt16BE(value, this.length);
    return this;
  }

  int32(value: number): this {
    this.room(4);
    this.length = this.buffer.writeInt32BE(value, this.length);
    return this;
  }

  int64(value: number): this {
    this.room(8);
    this.length = this.buffer.writeBigInt64BE(BigInt(value), this.length);
    return this;
  }

  /** An int16-length string; null writes length -1. */
  string(value: string | null): this {
    if (value === null) return this.int16(-1);
    const bytes = Buffer.from(value, 'utf8');
    this.int16(bytes.length);
    return this.raw(bytes);
  }

  /** An int32-length byte string; null writes length -1. */
  bytes(value: Buffer | null): this {
    if (value === null) return this.int32(-1);
    this.int32(value.length);
    return this.raw(value);
  }

  raw(bytes: Buffer): this {
    this.room(bytes.length);
    bytes.copy(this.buffer, this.length);
    this.length += bytes.length;
    return this;
  }

  array<T>(items: readonly T[], item: (writer: this, value: T) => void): this {
    this.int32(items.length);
    for (const value of items) item(this, value);
    return this;
  }

  /** The bytes written so far (a view: the writer must not be used afterwards). */
  done(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}
