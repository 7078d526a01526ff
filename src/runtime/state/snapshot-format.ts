import { createHash } from 'node:crypto';
import { SnapshotCorruptError } from '../errors.ts';

/**
 * The snapshot object: one per task per checkpoint attempt.
 *
 *   header   "WEIRSNAP" | u16 format version | u16 reserved
 *   sections one per changed source partition, each checked by its own sha256
 *   index    JSON: format version, what the object belongs to, and every section's range and sha256
 *   trailer  u32 index length | 32-byte sha256 of header, sections and index | "WEIRSEND"
 *
 * A partition is restored with one ranged GET of its section, verified by the
 * sha256 its commit metadata carries; the trailer lets a whole-object read
 * (inspection, retention) verify everything at once.
 */
export const snapshotFormatVersion = 1;

const headerMagic = Buffer.from('WEIRSNAP', 'ascii');
const trailerMagic = Buffer.from('WEIRSEND', 'ascii');
const headerLength = headerMagic.length + 4;
const trailerLength = 4 + 32 + trailerMagic.length;

/** A store's entries as the encoder reads them: a heap Map or a disk store's scope. */
export interface EntrySource {
  keys(): Iterable<string>;
  get(key: string): Buffer | undefined;
}

/** The state of one source partition: named stores (one per stateful operator and state name) of byte entries. */
export interface PartitionState {
  topic: string;
  partition: number;
  stores: ReadonlyMap<string, EntrySource>;
}

export interface SectionRange {
  topic: string;
  partition: number;
  /** Byte offset of the section in the object. */
  start: number;
  length: number;
  sha256: string;
}

export interface SnapshotIndex {
  formatVersion: number;
  task: string;
  checkpointId: number;
  attempt: string;
  sections: SectionRange[];
}

function sha256(...chunks: Buffer[]): Buffer {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest();
}

/**
 * A section written a field at a time into off-heap chunks of a MiB, so a
 * large partition costs no per-entry JavaScript objects while it is encoded
 * (a store's entry count goes in front of its entries: its place is kept and
 * filled in when the store ends).
 */
class SectionWriter {
  private readonly chunks: Buffer[] = [];
  private chunk = Buffer.allocUnsafe(0);
  private at = 0;
  private countAt: { chunk: Buffer; at: number } | undefined;
  private count = 0;

  constructor(stores: number) {
    this.u32(stores);
  }

  beginStore(name: string): void {
    this.string(name);
    this.room(4);
    this.countAt = { chunk: this.chunk, at: this.at };
    this.at += 4;
    this.count = 0;
  }

  entry(key: string, value: Buffer): void {
    this.string(key);
    this.u32(value.length);
    this.room(value.length);
    this.chunk.set(value, this.at);
    this.at += value.length;
    this.count++;
  }

  endStore(): void {
    const place = this.countAt as { chunk: Buffer; at: number };
    place.chunk.writeUInt32BE(this.count, place.at);
    this.countAt = undefined;
  }

  /** The section as its chunks, in order (each filled to where it was written). */
  finish(): Buffer[] {
    this.chunks.push(this.chunk.subarray(0, this.at));
    return this.chunks;
  }

  private u32(value: number): void {
    this.room(4);
    this.at = this.chunk.writeUInt32BE(value, this.at);
  }

  private string(value: string): void {
    // A UTF-16 unit takes at most 3 UTF-8 bytes.
    this.room(4 + value.length * 3);
    const length = this.chunk.write(value, this.at + 4, 'utf8');
    this.chunk.writeUInt32BE(length, this.at);
    this.at += 4 + length;
  }

  /** Makes sure the current chunk has `bytes` free, so no field is split between chunks. */
  private room(bytes: number): void {
    if (this.at + bytes <= this.chunk.length) return;
    if (this.at > 0) this.chunks.push(this.chunk.subarray(0, this.at));
    this.chunk = Buffer.allocUnsafe(Math.max(1 << 20, bytes));
    this.at = 0;
  }
}

/** A store's entries as the encoder reads them, in the order they are to be written. */
function orderedEntries(entries: EntrySource): Iterable<[string, Buffer]> {
  // A disk store iterates in key order already; a heap Map in insertion order, so it is sorted.
  if ('keysWithPrefix' in entries) return entries as unknown as Iterable<[string, Buffer]>;
  const keys = [...entries.keys()].sort();
  return keys.map((key) => [key, entries.get(key) as Buffer]);
}

/**
 * Stores and entries are written in key order, so equal state in the same
 * kind of store gives byte-equal sections.
 */
export function encodeSection(stores: ReadonlyMap<string, EntrySource>): Buffer {
  const names = [...stores.keys()].sort();
  const writer = new SectionWriter(names.length);
  for (const name of names) {
    writer.beginStore(name);
    for (const [key, value] of orderedEntries(stores.get(name) as EntrySource)) writer.entry(key, value);
    writer.endStore();
  }
  const chunks = writer.finish();
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

/**
 * A section encoded from entries read lazily, in the source's order (not
 * sorted: the decoder does not care), pausing every `slice` entries so a
 * large partition is encoded without stopping the task's records for long.
 * The values must not change in place meanwhile (stores replace buffers).
 * The section comes as its chunks of about a MiB, in order, never copied
 * into one buffer: a large state's section is held once, off the heap.
 */
export async function encodeSectionInSlices(
  names: readonly string[],
  entries: (name: string) => Iterable<[string, Buffer]>,
  pause: () => Promise<void>,
  slice = 4096,
): Promise<Buffer[]> {
  const writer = new SectionWriter(names.length);
  let seen = 0;
  for (const name of names) {
    writer.beginStore(name);
    for (const [key, value] of entries(name)) {
      writer.entry(key, value);
      if (++seen % slice === 0) await pause();
    }
    writer.endStore();
  }
  return writer.finish();
}

class Reader {
  private offset = 0;
  private readonly bytes: Buffer;
  private readonly fail: (problem: string) => never;

  constructor(bytes: Buffer, fail: (problem: string) => never) {
    this.bytes = bytes;
    this.fail = fail;
  }

  u32(): number {
    if (this.offset + 4 > this.bytes.length) this.fail(`section truncated at byte ${this.offset}`);
    const value = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  take(length: number): Buffer {
    if (this.offset + length > this.bytes.length) this.fail(`section truncated at byte ${this.offset}`);
    const value = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  get done(): boolean {
    return this.offset === this.bytes.length;
  }
}

/**
 * A section's entries one at a time, checked as they are read: every length
 * and count is bounded by the bytes that are there, so a corrupt section fails
 * naming its object instead of allocating what a count claims.
 */
export function* sectionEntries(objectKey: string, bytes: Buffer): Generator<[string, string, Buffer]> {
  const fail = (problem: string): never => {
    throw new SnapshotCorruptError(objectKey, problem);
  };
  const reader = new Reader(bytes, fail);
  const storeCount = reader.u32();
  for (let s = 0; s < storeCount; s++) {
    const name = reader.take(reader.u32()).toString('utf8');
    const entryCount = reader.u32();
    for (let e = 0; e < entryCount; e++) {
      const key = reader.take(reader.u32()).toString('utf8');
      yield [name, key, Buffer.from(reader.take(reader.u32()))];
    }
    // A store with no entries still names itself: it is yielded with none, so the caller may make it.
    if (entryCount === 0) yield [name, '', emptyStoreMarker];
  }
  if (!reader.done) fail('trailing bytes after the last store of a section');
}

/** Given in place of an entry for a store that has none (sectionEntries). */
export const emptyStoreMarker = Buffer.alloc(0);

export function decodeSection(objectKey: string, bytes: Buffer): Map<string, Map<string, Buffer>> {
  const stores = new Map<string, Map<string, Buffer>>();
  for (const [name, key, value] of sectionEntries(objectKey, bytes)) {
    let entries = stores.get(name);
    if (!entries) {
      entries = new Map();
      stores.set(name, entries);
    }
    if (value !== emptyStoreMarker) entries.set(key, value);
  }
  return stores;
}

/** Builds a snapshot object from the task's changed partitions. */
export function encodeSnapshot(
  owner: { task: string; checkpointId: number; attempt: string },
  partitions: readonly PartitionState[],
): { bytes: Buffer; index: SnapshotIndex } {
  const header = snapshotHeader();
  const chunks: Buffer[] = [header];
  const sections: SectionRange[] = [];
  let offset = header.length;
  for (const p of partitions) {
    const section = encodeSection(p.stores);
    sections.push({
      topic: p.topic,
      partition: p.partition,
      start: offset,
      length: section.length,
      sha256: sha256(section).toString('hex'),
    });
    chunks.push(section);
    offset += section.length;
  }
  const index: SnapshotIndex = { formatVersion: snapshotFormatVersion, ...owner, sections };
  const indexBytes = Buffer.from(JSON.stringify(index), 'utf8');
  chunks.push(indexBytes);
  chunks.push(snapshotTrailer(indexBytes.length, sha256(...chunks)));
  return { bytes: Buffer.concat(chunks), index };
}

/**
 * A snapshot object around sections already encoded (header, sections,
 * index, trailer), hashed a MiB at a time with a pause between: a background
 * snapshot of a large state, which must not stop the task's records for the
 * length of two hashes over the whole object.
 */
export async function assembleSnapshotInSlices(
  owner: { task: string; checkpointId: number; attempt: string },
  encoded: readonly { topic: string; partition: number; section: readonly Buffer[] }[],
  pause: () => Promise<void>,
): Promise<{ bytes: Buffer[]; index: SnapshotIndex }> {
  const header = snapshotHeader();
  const whole = createHash('sha256').update(header);
  const sections: SectionRange[] = [];
  const parts: Buffer[] = [header];
  let offset = header.length;
  for (const { topic, partition, section } of encoded) {
    const own = createHash('sha256');
    let length = 0;
    for (const chunk of section) {
      for (let at = 0; at < chunk.length; at += 1 << 20) {
        const part = chunk.subarray(at, at + (1 << 20));
        own.update(part);
        whole.update(part);
        await pause();
      }
      parts.push(chunk);
      length += chunk.length;
    }
    sections.push({ topic, partition, start: offset, length, sha256: own.digest('hex') });
    offset += length;
  }
  const index: SnapshotIndex = { formatVersion: snapshotFormatVersion, ...owner, sections };
  const indexBytes = Buffer.from(JSON.stringify(index), 'utf8');
  whole.update(indexBytes);
  parts.push(indexBytes, snapshotTrailer(indexBytes.length, whole.digest()));
  return { bytes: parts, index };
}

function snapshotHeader(): Buffer {
  const header = Buffer.alloc(headerLength);
  headerMagic.copy(header, 0);
  header.writeUInt16BE(snapshotFormatVersion, headerMagic.length);
  return header;
}

function snapshotTrailer(indexLength: number, digest: Buffer): Buffer {
  const trailer = Buffer.alloc(trailerLength);
  trailer.writeUInt32BE(indexLength, 0);
  digest.copy(trailer, 4);
  trailerMagic.copy(trailer, 36);
  return trailer;
}

/** Reads and verifies a whole snapshot object: header, checksum and index. */
export function readSnapshotIndex(objectKey: string, bytes: Buffer): SnapshotIndex {
  const fail = (problem: string): never => {
    throw new SnapshotCorruptError(objectKey, problem);
  };
  if (bytes.length < headerLength + trailerLength)
    fail(`only ${bytes.length} bytes, too short for a snapshot`);
  if (!bytes.subarray(0, headerMagic.length).equals(headerMagic)) fail('not a Weir snapshot (bad header)');
  const version = bytes.readUInt16BE(headerMagic.length);
  if (version !== snapshotFormatVersion) {
    fail(`format version ${version}; this Weir reads version ${snapshotFormatVersion}`);
  }
  const trailer = bytes.subarray(bytes.length - trailerLength);
  if (!trailer.subarray(36).equals(trailerMagic)) fail('truncated (no trailer)');
  const indexLength = trailer.readUInt32BE(0);
  const indexStart = bytes.length - trailerLength - indexLength;
  if (indexStart < headerLength) fail('index length out of range');
  const expected = trailer.subarray(4, 36);
  if (!sha256(bytes.subarray(0, bytes.length - trailerLength)).equals(expected)) fail('sha256 mismatch');
  let index: SnapshotIndex;
  try {
    index = JSON.parse(
      bytes.subarray(indexStart, indexStart + indexLength).toString('utf8'),
    ) as SnapshotIndex;
  } catch (error) {
    return fail(`unreadable index (${(error as Error).message})`);
  }
  for (const s of index.sections) {
    if (s.start < headerLength || s.start + s.length > indexStart) {
      fail(`section ${s.topic}/${s.partition} lies outside the section area`);
    }
  }
  return index;
}

/** Verifies one section, read by itself with a ranged GET, against the checksum its pointer carries. */
export function verifiedSection(objectKey: string, range: SectionRange, bytes: Buffer): Buffer {
  if (bytes.length !== range.length) {
    throw new SnapshotCorruptError(
      objectKey,
      `section ${range.topic}/${range.partition} is ${bytes.length} bytes, expected ${range.length}`,
    );
  }
  if (sha256(bytes).toString('hex') !== range.sha256) {
    throw new SnapshotCorruptError(objectKey, `section ${range.topic}/${range.partition} fails its sha256`);
  }
  return bytes;
}
