import { WireFormatError } from './wire-error.ts';
import type { WireReader } from './wire-reader.ts';
import { WireWriter } from './wire-writer.ts';

/**
 * The requests the fetch path sends, each at one version that every Kafka
 * since 2.3 and through 4.x serves (none of them flexible, so no tagged
 * fields). ApiVersions at connect checks that the broker still does.
 */
export const apis = {
  fetch: { key: 1, version: 11 },
  listOffsets: { key: 2, version: 2 },
  metadata: { key: 3, version: 7 },
  findCoordinator: { key: 10, version: 1 },
  saslHandshake: { key: 17, version: 1 },
  apiVersions: { key: 18, version: 0 },
  initProducerId: { key: 22, version: 1 },
  offsetForLeaderEpoch: { key: 23, version: 3 },
  saslAuthenticate: { key: 36, version: 1 },
} as const;

export const apiNames: Record<number, string> = {
  1: 'Fetch',
  2: 'ListOffsets',
  3: 'Metadata',
  10: 'FindCoordinator',
  17: 'SaslHandshake',
  18: 'ApiVersions',
  22: 'InitProducerId',
  23: 'OffsetForLeaderEpoch',
  36: 'SaslAuthenticate',
};

export function readApiVersions(reader: WireReader): {
  errorCode: number;
  versions: Map<number, [number, number]>;
} {
  const errorCode = reader.int16();
  const versions = new Map<number, [number, number]>();
  for (const [key, min, max] of reader.array((r) => [r.int16(), r.int16(), r.int16()] as const)) {
    versions.set(key, [min, max]);
  }
  return { errorCode, versions };
}

export function saslHandshakeRequest(mechanism: string): Buffer {
  return new WireWriter().string(mechanism).done();
}

export function readSaslHandshake(reader: WireReader): { errorCode: number; mechanisms: string[] } {
  const errorCode = reader.int16();
  return { errorCode, mechanisms: reader.array((r) => r.string() ?? '') };
}

export function saslAuthenticateRequest(bytes: Buffer): Buffer {
  return new WireWriter().bytes(bytes).done();
}

export function readSaslAuthenticate(reader: WireReader): {
  errorCode: number;
  message: string | null;
  bytes: Buffer;
} {
  const errorCode = reader.int16();
  const message = reader.string();
  const bytes = reader.bytes() ?? Buffer.alloc(0);
  return { errorCode, message, bytes };
}

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

export interface PartitionMetadata {
  errorCode: number;
  partition: number;
  leader: number;
  /** The leader's epoch: each new leader of a partition has a higher one (KIP-320). */
  leaderEpoch: number;
}

export interface TopicMetadata {
  errorCode: number;
  name: string;
  partitions: PartitionMetadata[];
}

export function metadataRequest(topics: readonly string[]): Buffer {
  return new WireWriter()
    .array(topics, (w, topic) => w.string(topic))
    .int8(0) // never create topics by reading them
    .done();
}

export function readMetadata(reader: WireReader): { brokers: BrokerAddress[]; topics: TopicMetadata[] } {
  reader.int32(); // throttle time
  const brokers = reader.array((r) => {
    const nodeId = r.int32();
    const host = r.string() ?? '';
    const port = r.int32();
    r.string(); // rack
    return { nodeId, host, port };
  });
  reader.string(); // cluster id
  reader.int32(); // controller id
  const topics = reader.array((r) => {
    const errorCode = r.int16();
    const name = r.string() ?? '';
    r.int8(); // is internal
    const partitions = r.array((p) => {
      const partitionError = p.int16();
      const partition = p.int32();
      const leader = p.int32();
      const leaderEpoch = p.int32();
      p.array((x) => x.int32()); // replicas
      p.array((x) => x.int32()); // in-sync replicas
      p.array((x) => x.int32()); // offline replicas
      return { errorCode: partitionError, partition, leader, leaderEpoch };
    });
    return { errorCode, name, partitions };
  });
  return { brokers, topics };
}

export interface PartitionRequest {
  topic: string;
  partition: number;
}

/** -2 asks for the earliest offset, -1 for the latest (the last stable one under read_committed). */
export function listOffsetsRequest(
  partitions: readonly (PartitionRequest & { timestamp: number })[],
  readCommitted: boolean,
): Buffer {
  const writer = new WireWriter().int32(-1).int8(readCommitted ? 1 : 0);
  return writer
    .array([...groupByTopic(partitions)], (w, [topic, list]) => {
      w.string(topic).array(list, (pw, p) => pw.int32(p.partition).int64(p.timestamp));
    })
    .done();
}

export function readListOffsets(
  reader: WireReader,
): { topic: string; partition: number; errorCode: number; offset: number }[] {
  reader.int32(); // throttle time
  return reader
    .array((r) => {
      const topic = r.string() ?? '';
      return r.array((p) => {
        const partition = p.int32();
        const errorCode = p.int16();
        p.int64(); // timestamp
        const offset = p.int64();
        return { topic, partition, errorCode, offset };
      });
    })
    .flat();
}

export interface FetchPartitionRequest extends PartitionRequest {
  offset: number;
  /** The leader epoch metadata named (-1: unknown): a broker that leads another epoch refuses the fetch. */
  currentLeaderEpoch: number;
}

export interface FetchLimits {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  partitionMaxBytes: number;
  readCommitted: boolean;
}

/** A full fetch (no fetch session): a task fetches few partitions, so the session's saving is small. */
export function fetchRequest(partitions: readonly FetchPartitionRequest[], limits: FetchLimits): Buffer {
  const writer = new WireWriter()
    .int32(-1) // replica id: a consumer
    .int32(limits.maxWaitMs)
    .int32(limits.minBytes)
    .int32(limits.maxBytes)
    .int8(limits.readCommitted ? 1 : 0)
    .int32(0) // session id
    .int32(-1); // session epoch: no session
  writer.array([...groupByTopic(partitions)], (w, [topic, list]) => {
    w.string(topic).array(list, (pw, p) =>
      pw
        .int32(p.partition)
        .int32(p.currentLeaderEpoch)
        .int64(p.offset)
        .int64(-1) // log start offset: a consumer's is not used
        .int32(limits.partitionMaxBytes),
    );
  });
  return writer
    .array([], () => undefined) // forgotten topics
    .string('') // rack id
    .done();
}

export interface FetchedPartition {
  topic: string;
  partition: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  aborted: { producerId: number; firstOffset: number }[] | undefined;
  records: Buffer | null;
}

export function readFetch(reader: WireReader): { errorCode: number; partitions: FetchedPartition[] } {
  reader.int32(); // throttle time
  const errorCode = reader.int16();
  reader.int32(); // session id
  const partitions = reader
    .array((r) => {
      const topic = r.string() ?? '';
      return r.array((p): FetchedPartition => {
        const partition = p.int32();
        const partitionError = p.int16();
        const highWatermark = p.int64();
        const lastStableOffset = p.int64();
        p.int64(); // log start offset
        const count = p.int32();
        let aborted: FetchedPartition['aborted'];
        if (count * 16 > p.remaining) {
          throw new WireFormatError(
            `${count} aborted transactions cannot fit in the ${p.remaining} bytes left`,
          );
        }
        if (count >= 0) {
          aborted = [];
          for (let i = 0; i < count; i++) aborted.push({ producerId: p.int64(), firstOffset: p.int64() });
          aborted.sort((a, b) => a.firstOffset - b.firstOffset);
        }
        p.int32(); // preferred read replica
        const records = p.bytes();
        return {
          topic,
          partition,
          errorCode: partitionError,
          highWatermark,
          lastStableOffset,
          aborted,
          records,
        };
      });
    })
    .flat();
  return { errorCode, partitions };
}

function groupByTopic<T extends PartitionRequest>(partitions: readonly T[]): Map<string, T[]> {
  const byTopic = new Map<string, T[]>();
  for (const p of partitions) {
    const list = byTopic.get(p.topic);
    if (list) list.push(p);
    else byTopic.set(p.topic, [p]);
  }
  return byTopic;
}

export interface EpochPartitionRequest extends PartitionRequest {
  /** The leader epoch metadata named; the broker refuses another one. */
  currentLeaderEpoch: number;
  /** The epoch whose end offset is asked: that of the last batch fetched. */
  leaderEpoch: number;
}

/** Where each partition's log ends for an epoch (the first offset of the next epoch), to find a truncation. */
export function offsetForLeaderEpochRequest(partitions: readonly EpochPartitionRequest[]): Buffer {
  const writer = new WireWriter().int32(-1); // replica id: a consumer
  return writer
    .array([...groupByTopic(partitions)], (w, [topic, list]) => {
      w.string(topic).array(list, (pw, p) =>
        pw.int32(p.partition).int32(p.currentLeaderEpoch).int32(p.leaderEpoch),
      );
    })
    .done();
}

export interface EpochEndOffset {
  topic: string;
  partition: number;
  errorCode: number;
  /** The largest epoch at or below the one asked that the leader has (-1: none). */
  leaderEpoch: number;
  /** Where that epoch's records end in the leader's log (-1: the epoch is unknown). */
  endOffset: number;
}

export function readOffsetForLeaderEpoch(reader: WireReader): EpochEndOffset[] {
  reader.int32(); // throttle time
  return reader
    .array((r) => {
      const topic = r.string() ?? '';
      return r.array((p) => {
        const errorCode = p.int16();
        const partition = p.int32();
        const leaderEpoch = p.int32();
        const endOffset = p.int64();
        return { topic, partition, errorCode, leaderEpoch, endOffset };
      });
    })
    .flat();
}

/** The coordinator of a transactional id (key type 1). */
export function findCoordinatorRequest(transactionalId: string): Buffer {
  return new WireWriter().string(transactionalId).int8(1).done();
}

export function readFindCoordinator(
  reader: WireReader,
): { errorCode: number; message: string | null } & BrokerAddress {
  reader.int32(); // throttle time
  const errorCode = reader.int16();
  const message = reader.string();
  const nodeId = reader.int32();
  const host = reader.string() ?? '';
  const port = reader.int32();
  return { errorCode, message, nodeId, host, port };
}

export function initProducerIdRequest(transactionalId: string, transactionTimeoutMs: number): Buffer {
  return new WireWriter().string(transactionalId).int32(transactionTimeoutMs).done();
}

export function readInitProducerId(reader: WireReader): {
  errorCode: number;
  producerId: number;
  epoch: number;
} {
  reader.int32(); // throttle time
  const errorCode = reader.int16();
  const producerId = reader.int64();
  const epoch = reader.int16();
  return { errorCode, producerId, epoch };
}
