import { createServer, type Server, type Socket } from 'node:net';
import { crc32c } from '@node-rs/crc32';
import { WireReader } from './wire-reader.ts';
import { WireWriter } from './wire-writer.ts';

/**
 * For unit tests only: a scripted stand-in for a Kafka broker on 127.0.0.1
 * that answers the requests the record fetcher sends (ApiVersions, Metadata,
 * ListOffsets, Fetch, OffsetForLeaderEpoch) from a per-partition log the test
 * fills, with errors the test injects and leader epochs it moves (truncate()).
 * Not a broker: no replication, no transactions.
 */
export class TestingBroker {
  readonly nodeId: number;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  /** Every other broker in the cluster, for Metadata answers. */
  peers: TestingBroker[] = [];
  /** Which broker leads each partition ("topic/partition"): this one unless set. */
  leaders = new Map<string, number>();
  /** Records per partition, by offset from `logStart`. */
  logs = new Map<string, { logStart: number; values: string[] }>();
  /** Each partition's leader epochs, oldest first, with the offset each starts at; epoch 0 from 0 unless set. */
  epochs = new Map<string, { epoch: number; startOffset: number }[]>();
  /** Errors to answer the next Fetch for a partition with, in turn. */
  fetchErrors = new Map<string, number[]>();
  /** Topics every request about answers TOPIC_AUTHORIZATION_FAILED. */
  deniedTopics = new Set<string>();
  /** Requests seen, by API key. */
  readonly requests: number[] = [];
  /** Fetch offsets asked for, per partition, in order. */
  readonly fetchOffsets = new Map<string, number[]>();
  /** Drop the connection instead of answering the next Fetch. */
  dropNextFetch = false;
  /** Errors to answer the next InitProducerId requests with, in turn (then 0: the producer id). */
  initProducerIdErrors: number[] = [];
  /** What ApiVersions answers: [api key, min version, max version]. */
  served: [number, number, number][] = [
    [1, 4, 17],
    [2, 1, 10],
    [3, 0, 13],
    [10, 0, 6],
    [17, 0, 1],
    [18, 0, 4],
    [22, 0, 5],
    [23, 0, 4],
    [36, 0, 2],
  ];

  constructor(nodeId: number) {
    this.nodeId = nodeId;
  }

  async start(): Promise<this> {
    this.server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  append(topic: string, partition: number, ...values: string[]): void {
    const key = `${topic}/${partition}`;
    const log = this.logs.get(key) ?? { logStart: 0, values: [] };
    log.values.push(...values);
    this.logs.set(key, log);
  }

  /**
   * An unclean leader election: the log loses its records from `offset` on,
   * a new leader epoch starts there, and `values` follow in it.
   */
  truncate(topic: string, partition: number, offset: number, ...values: string[]): void {
    const key = `${topic}/${partition}`;
    const log = this.logs.get(key) ?? { logStart: 0, values: [] };
    log.values.splice(offset - log.logStart);
    log.values.push(...values);
    this.logs.set(key, log);
    const history = this.epochHistory(key);
    history.push({ epoch: (history.at(-1)?.epoch ?? 0) + 1, startOffset: offset });
    this.epochs.set(key, history);
  }

  private epochHistory(key: string): { epoch: number; startOffset: number }[] {
    return this.epochs.get(key) ?? [{ epoch: 0, startOffset: 0 }];
  }

  private leaderEpoch(key: string): number {
    return this.epochHistory(key).at(-1)?.epoch ?? 0;
  }

  private epochAt(key: string, offset: number): number {
    let epoch = 0;
    for (const e of this.epochHistory(key)) if (e.startOffset <= offset) epoch = e.epoch;
    return epoch;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
        pending = pending.subarray(4 + frame.length);
        this.answer(socket, new WireReader(frame));
      }
    });
  }

  private answer(socket: Socket, request: WireReader): void {
    const apiKey = request.int16();
    request.int16(); // version: the fetcher's fixed ones
    const correlationId = request.int32();
    request.string(); // client id
    this.requests.push(apiKey);
    const body = new WireWriter().int32(correlationId);
    if (apiKey === 18) this.apiVersions(body);
    else if (apiKey === 3) this.metadata(request, body);
    else if (apiKey === 2) this.listOffsets(request, body);
    else if (apiKey === 10) {
      // FindCoordinator: this broker coordinates everything.
      body.int32(0).int16(0).string(null).int32(this.nodeId).string('127.0.0.1').int32(this.port);
    } else if (apiKey === 22) {
      const error = this.initProducerIdErrors.shift() ?? 0;
      body
        .int32(0)
        .int16(error)
        .int64(error ? -1 : 4242)
        .int16(error ? -1 : 7);
    } else if (apiKey === 23) {
      this.offsetForLeaderEpoch(request, body);
    } else if (apiKey === 1) {
      if (this.dropNextFetch) {
        this.dropNextFetch = false;
        socket.destroy();
        return;
      }
      this.fetch(request, body);
    } else throw new Error(`TestingBroker: no answer for API ${apiKey}`);
    const bytes = body.done();
    const size = Buffer.alloc(4);
    size.writeInt32BE(bytes.length);
    socket.write(Buffer.concat([size, bytes]));
  }

  private apiVersions(out: WireWriter): void {
    out.int16(0).array(this.served, (w, [key, min, max]) => w.int16(key).int16(min).int16(max));
  }

  private metadata(request: WireReader, out: WireWriter): void {
    const topics = request.array((r) => r.string() ?? '');
    const brokers = [this, ...this.peers];
    out.int32(0).array(brokers, (w, b) => w.int32(b.nodeId).string('127.0.0.1').int32(b.port).string(null));
    out.string('testing').int32(this.nodeId);
    out.array(topics, (w, topic) => {
      const partitions = [...this.logs.keys()].filter((k) => k.startsWith(`${topic}/`));
      w.int16(this.deniedTopics.has(topic) ? 29 : 0)
        .string(topic)
        .int8(0);
      w.array(partitions, (pw, key) => {
        const leader = this.leaders.get(key) ?? this.nodeId;
        pw.int16(0)
          .int32(Number(key.slice(topic.length + 1)))
          .int32(leader)
          .int32(this.leaderEpoch(key));
        pw.array([leader], (x, id) => x.int32(id))
          .array([leader], (x, id) => x.int32(id))
          .array([], () => undefined);
      });
    });
  }

  private listOffsets(request: WireReader, out: WireWriter): void {
    request.int32();
    request.int8();
    const asked = request.array((r) => {
      const topic = r.string() ?? '';
      return { topic, partitions: r.array((p) => ({ partition: p.int32(), timestamp: p.int64() })) };
    });
    out.int32(0).array(asked, (w, t) => {
      w.string(t.topic).array(t.partitions, (pw, p) => {
        const log = this.logs.get(`${t.topic}/${p.partition}`);
        const offset = !log ? -1 : p.timestamp === -2 ? log.logStart : log.logStart + log.values.length;
        pw.int32(p.partition)
          .int16(log ? 0 : 3)
          .int64(-1)
          .int64(offset);
      });
    });
  }

  private fetch(request: WireReader, out: WireWriter): void {
    for (let i = 0; i < 7; i++) i === 4 ? request.int8() : request.int32();
    const asked = request.array((r) => {
      const topic = r.string() ?? '';
      return {
        topic,
        partitions: r.array((p) => {
          const partition = p.int32();
          const currentLeaderEpoch = p.int32();
          const offset = p.int64();
          p.int64();
          p.int32();
          return { partition, offset, currentLeaderEpoch };
        }),
      };
    });
    out.int32(0).int16(0).int32(0);
    out.array(asked, (w, t) => {
      w.string(t.topic).array(t.partitions, (pw, p) => {
        const key = `${t.topic}/${p.partition}`;
        this.fetchOffsets.set(key, [...(this.fetchOffsets.get(key) ?? []), p.offset]);
        const log = this.logs.get(key);
        const injected = this.fetchErrors.get(key)?.shift();
        const end = log ? log.logStart + log.values.length : 0;
        let error = injected ?? (this.deniedTopics.has(t.topic) ? 29 : 0);
        if (!error && (this.leaders.get(key) ?? this.nodeId) !== this.nodeId) error = 6;
        const epoch = this.leaderEpoch(key);
        if (!error && p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== epoch) {
          error = p.currentLeaderEpoch < epoch ? 74 : 75; // FENCED_ or UNKNOWN_LEADER_EPOCH
        }
        if (!error && log && (p.offset < log.logStart || p.offset > end)) error = 1;
        pw.int32(p.partition)
          .int16(error)
          .int64(end)
          .int64(end)
          .int64(log?.logStart ?? 0);
        pw.int32(-1).int32(-1); // no aborted transactions; no preferred replica
        // Up to three records, all of one epoch (a batch has one leader epoch).
        const epochEnd =
          this.epochHistory(key).find((e) => e.startOffset > p.offset)?.startOffset ??
          Number.MAX_SAFE_INTEGER;
        const last = Math.min(p.offset + 3, epochEnd);
        const values = !error && log ? log.values.slice(p.offset - log.logStart, last - log.logStart) : [];
        const batch = values.length
          ? testingRecordBatch(p.offset, values, { leaderEpoch: this.epochAt(key, p.offset) })
          : null;
        pw.bytes(batch);
      });
    });
  }

  /** Where each asked epoch ends in this log: the start of the next epoch, or the log's end for the latest. */
  private offsetForLeaderEpoch(request: WireReader, out: WireWriter): void {
    request.int32(); // replica id
    const asked = request.array((r) => {
      const topic = r.string() ?? '';
      return {
        topic,
        partitions: r.array((p) => ({ partition: p.int32(), current: p.int32(), epoch: p.int32() })),
      };
    });
    out.int32(0).array(asked, (w, t) => {
      w.string(t.topic).array(t.partitions, (pw, p) => {
        const key = `${t.topic}/${p.partition}`;
        const log = this.logs.get(key);
        const history = this.epochHistory(key);
        const current = this.leaderEpoch(key);
        const error = !log
          ? 3
          : p.current >= 0 && p.current !== current
            ? p.current < current
              ? 74
              : 75
            : 0;
        const known = history.filter((e) => e.epoch <= p.epoch);
        const found = known.at(-1);
        const next = history.find((e) => e.epoch > p.epoch);
        const end = log ? log.logStart + log.values.length : -1;
        pw.int16(error)
          .int32(p.partition)
          .int32(found && !error ? found.epoch : -1)
          .int64(found && !error ? (next?.startOffset ?? end) : -1);
      });
    });
  }
}

/** A record batch (magic 2, no compression, with its CRC-32C) of values from `baseOffset`. */
export function testingRecordBatch(
  baseOffset: number,
  values: (string | null)[],
  options: {
    producerId?: number;
    transactional?: boolean;
    control?: 'abort' | 'commit';
    leaderEpoch?: number;
  } = {},
): Buffer {
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
  const records = values.map((value, i) => {
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
  header.writeBigInt64BE(BigInt(baseOffset), 0);
  header.writeInt32BE(options.leaderEpoch ?? 0, 12);
  header.writeInt8(2, 16);
  header.writeInt16BE((options.transactional ? 0x10 : 0) | (options.control ? 0x20 : 0), 21);
  header.writeInt32BE(values.length - 1, 23);
  header.writeBigInt64BE(1_000n, 27);
  header.writeBigInt64BE(BigInt(options.producerId ?? -1), 43);
  header.writeInt32BE(values.length, 57);
  const batch = Buffer.concat([header, ...records]);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}
