import { codecNames, decompress } from './compression.ts';
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
const attributes = { codec: 0x07, logAppendTime: 0x08, transactional: 0x10, control: 0x20 } as const;

/**
 * Decodes the record batches of one partition's fetched data into `out`,
 * dropping records before `fetchOffset` (a compressed batch comes whole), the
 * control batches, and, under read_committed, the batches of aborted
 * transactions (`aborted`, sorted by first offset). A batch cut off at the
 * end of the data is left for the next fetch. Returns the offset to fetch
 * next: after the last whole batch, markers and aborted batches included.
 */
export function decodeRecordBatches(
  data: Buffer,
  topic: string,
  partition: number,
  fetchOffset: number,
  aborted: readonly AbortedTransaction[] | undefined,
  out: ConsumedRecord[],
): number {
  const reader = new WireReader(data);
  let next = fetchOffset;
  let abortedIndex = 0;
  const abortedProducers = new Set<number>();
  while (reader.remaining >= batchHeaderBytes) {
    const start = reader.offset;
    const baseOffset = reader.int64();
    const batchLength = reader.int32();
    const end = start + 12 + batchLength;
    if (end > data.length) break; // cut off: the broker sends whole batches up to its byte limit, then part of one
    reader.int32(); // partition leader epoch
    const magic = reader.int8();
    if (magic !== 2) {
      throw new Error(
        `${topic}[${partition}] at offset ${baseOffset}: message format v${magic} is not read (only v2, Kafka 0.11 and later)`,
      );
    }
    reader.uint32(); // CRC-32C: TCP and the broker's own check cover it, as with librdkafka's default check.crcs=false
    const flags = reader.int16();
    const lastOffsetDelta = reader.int32();
    const baseTimestamp = reader.int64();
    const maxTimestamp = reader.int64();
    const producerId = reader.int64();
    reader.int16(); // producer epoch
    reader.int32(); // base sequence
    const count = reader.int32();
    const lastOffset = baseOffset + lastOffsetDelta;
    reader.offset = end;
    next = Math.max(next, lastOffset + 1);
    if (lastOffset < fetchOffset) continue;
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
          : new WireReader(decompress(codec, data.subarray(start + batchHeaderBytes, end)));
    } catch (error) {
      throw new Error(
        `${topic}[${partition}] at offset ${baseOffset}: cannot decompress a ${codecNames[codec] ?? codec} batch: ${(error as Error).message}`,
      );
    }
    const logAppendTime = (flags & attributes.logAppendTime) !== 0;
    for (let i = 0; i < count; i++) {
      const length = records.varint();
      const recordEnd = records.offset + length;
      records.int8(); // record attributes: unused
      const timestampDelta = records.varlong();
      const offset = baseOffset + records.varint();
      const keyLength = records.varint();
      const key = keyLength < 0 ? null : records.take(keyLength);
      const valueLength = records.varint();
      const value = valueLength < 0 ? null : records.take(valueLength);
      const headerCount = records.varint();
      let headers: RecordHeader[] | undefined;
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
  return next;
}

/** A control record's key is version (int16) then type (int16): 0 abort, 1 commit. */
function isAbortMarker(data: Buffer, recordsStart: number, end: number): boolean {
  const reader = new WireReader(data, recordsStart, end);
  reader.varint(); // length
  reader.int8();
  reader.varlong();
  reader.varint();
  const keyLength = reader.varint();
  if (keyLength < 4) return false;
  const key = reader.take(keyLength);
  return key.readInt16BE(2) === 0;
}
