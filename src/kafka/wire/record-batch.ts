import { crc32c } from '@node-rs/crc32';
import { codecNames, decompress } from './compression.ts';
import { WireFormatError } from './wire-error.ts';
import { WireReader } from './wire-reader.ts';

/** A record as the task reads it: key, value and header values are views of the fetch response (or its decompressed batch). */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[] | undefined;
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** A transaction the partition's leader says was aborted, from its first offset on. */
export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
}

const batchHeaderBytes = 61;
/** Where the bytes the batch's CRC-32C covers begin: its attributes, up to the batch's end. */
const crcFrom = 21;
/** The smallest record: length, attributes, timestamp and offset deltas, key and value lengths, header count. */
const minRecordBytes = 7;
/**
 * The most a compressed batch may inflate to. Producers cap a batch at
 * max.message.bytes (1 MiB by default) compressed; 128 MiB covers any real
 * ratio and keeps a decompression bomb from taking the heap.
 */
export const maxDecompressedBatchBytes = 128 * 1024 * 1024;
const attributes = { codec: 0x07, logAppendTime: 0x08, transactional: 0x10, control: 0x20 } as const;

/**
 * Decodes the record batches of one partition's fetched data into `out`,
 * dropping records before `fetchOffset` (a compressed batch comes whole), the
 * control batches, and, under read_committed, the batches of aborted
 * transactions (`aborted`, sorted by first offset). A batch cut off at the
 * end of the data is left for the next fetch. Returns the offset to fetch
 * next: after the last whole batch, markers and aborted batches included.
 * `epoch.last` becomes the partition leader epoch of the last batch it moved
 * past, which a fetcher asks a new leader about to find a truncated log.
 *
 * The bytes are untrusted: every batch's CRC-32C is checked, and every length
 * and count is bounded by the bytes that hold it. What does not decode throws
 * WireFormatError naming the topic, partition and offset.
 */
export function decodeRecordBatches(
  data: Buffer,
  topic: string,
  partition: number,
  fetchOffset: number,
  aborted: readonly AbortedTransaction[] | undefined,
  out: ConsumedRecord[],
  epoch?: { last: number },
): number {
  const reader = new WireReader(data);
  let next = fetchOffset;
  let abortedIndex = 0;
  const abortedProducers = new Set<number>();
  while (reader.remaining >= batchHeaderBytes) {
    const start = reader.offset;
    const baseOffset = reader.int64();
    const batchLength = reader.int32();
    const at = `${topic}[${partition}] at offset ${baseOffset}`;
    if (baseOffset < 0 || batchLength < batchHeaderBytes - 12) {
      throw new WireFormatError(
        `${at}: a record batch of length ${batchLength} (at least ${batchHeaderBytes - 12})`,
      );
    }
    const end = start + 12 + batchLength;
    if (end > data.length) break; // cut off: the broker sends whole batches up to its byte limit, then part of one
    const leaderEpoch = reader.int32();
    const magic = reader.int8();
    if (magic !== 2) {
      throw new WireFormatError(
        `${at}: message format v${magic} is not read (only v2, Kafka 0.11 and later)`,
        'KAFKA_UNSUPPORTED_MESSAGE_FORMAT',
      );
    }
    const crc = reader.uint32();
    const computed = crc32c(data.subarray(start + crcFrom, end));
    if (computed !== crc) {
      throw new WireFormatError(
        `${at}: the record batch's CRC-32C is ${crc.toString(16)} but its bytes give ${computed.toString(16)} (corrupt in the log or on the way)`,
        'KAFKA_CORRUPT_RECORD_BATCH',
      );
    }
    const flags = reader.int16();
    const lastOffsetDelta = reader.int32();
    const baseTimestamp = reader.int64();
    const maxTimestamp = reader.int64();
    const producerId = reader.int64();
    reader.int16(); // producer epoch
    reader.int32(); // base sequence
    const count = reader.int32();
    if (lastOffsetDelta < 0 || count < 0 || count > lastOffsetDelta + 1) {
      throw new WireFormatError(
        `${at}: a record batch of ${count} records with last offset delta ${lastOffsetDelta}`,
      );
    }
    const lastOffset = baseOffset + lastOffsetDelta;
    reader.offset = end;
    next = Math.max(next, lastOffset + 1);
    if (lastOffset < fetchOffset) continue;
    if (epoch) epoch.last = leaderEpoch;
    if (aborted) {
      while (
        abortedIndex < aborted.length &&
        (aborted[abortedIndex] as AbortedTransaction).firstOffset <= lastOffset
      ) {
        abortedProducers.add((aborted[abortedIndex] as AbortedTransaction).producerId);
        abortedIndex++;
      }
    }
    if (flags & attributes.control) {
      // The marker ends the producer's transaction: records after it are a new one.
      if (aborted && isAbortMarker(data, start + batchHeaderBytes, end)) abortedProducers.delete(producerId);
      continue;
    }
    if (aborted && flags & attributes.transactional && abortedProducers.has(producerId)) continue;
    const codec = flags & attributes.codec;
    let records: WireReader;
    try {
      records =
        codec === 0
          ? new WireReader(data, start + batchHeaderBytes, end)
          : new WireReader(
              decompress(codec, data.subarray(start + batchHeaderBytes, end), maxDecompressedBatchBytes),
            );
    } catch (error) {
      throw new WireFormatError(
        `${at}: cannot decompress a ${codecNames[codec] ?? codec} batch: ${(error as Error).message}`,
      );
    }
    if (count * minRecordBytes > records.remaining) {
      throw new WireFormatError(
        `${at}: ${count} records cannot fit in a batch of ${records.remaining} bytes`,
      );
    }
    const logAppendTime = (flags & attributes.logAppendTime) !== 0;
    try {
      decodeRecords(
        records,
        count,
        topic,
        partition,
        baseOffset,
        fetchOffset,
        logAppendTime,
        baseTimestamp,
        maxTimestamp,
        out,
      );
    } catch (error) {
      if (error instanceof WireFormatError) throw new WireFormatError(`${at}: ${error.message}`, error.code);
      throw error;
    }
  }
  return next;
}

/** The `count` records of one batch, from `fetchOffset` on, into `out`. */
function decodeRecords(
  records: WireReader,
  count: number,
  topic: string,
  partition: number,
  baseOffset: number,
  fetchOffset: number,
  logAppendTime: boolean,
  baseTimestamp: number,
  maxTimestamp: number,
  out: ConsumedRecord[],
): void {
  for (let i = 0; i < count; i++) {
    const length = records.varint();
    const recordEnd = records.offset + length;
    if (length < minRecordBytes - 1 || recordEnd > records.end) {
      throw new WireFormatError(`record ${i} of ${length} bytes runs past its batch`);
    }
    records.int8(); // record attributes: unused
    const timestampDelta = records.varlong();
    const offset = baseOffset + records.varint();
    const keyLength = records.varint();
    const key = keyLength < 0 ? null : records.take(keyLength);
    const valueLength = records.varint();
    const value = valueLength < 0 ? null : records.take(valueLength);
    const headerCount = records.varint();
    let headers: RecordHeader[] | undefined;
    if (headerCount > recordEnd - records.offset) {
      throw new WireFormatError(
        `record ${i} has ${headerCount} headers in ${recordEnd - records.offset} bytes`,
      );
    }
    if (headerCount > 0) {
      headers = [];
      for (let h = 0; h < headerCount; h++) {
        const name = records.take(records.varint()).toString('utf8');
        const headerLength = records.varint();
        headers.push({ key: name, value: headerLength < 0 ? null : records.take(headerLength) });
      }
    }
    records.offset = recordEnd;
    if (offset < fetchOffset) continue;
    out.push({
      topic,
      partition,
      offset,
      timestamp: logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    });
  }
}

/** A control record's key is version (int16) then type (int16): 0 abort, 1 commit. */
function isAbortMarker(data: Buffer, recordsStart: number, end: number): boolean {
  const reader = new WireReader(data, recordsStart, end);
  if (reader.remaining < minRecordBytes) return false;
  reader.varint(); // length
  reader.int8();
  reader.varlong();
  reader.varint();
  const keyLength = reader.varint();
  if (keyLength < 4) return false;
  const key = reader.take(keyLength);
  return key.readInt16BE(2) === 0;
}
