import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as zlib from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { CodedError } from '../../errors.ts';
import { BrokerConnection } from './broker-connection.ts';
import { decompress } from './compression.ts';
import { readFetch, readMetadata, readOffsetForLeaderEpoch } from './messages.ts';
import { type ConsumedRecord, decodeRecordBatches } from './record-batch.ts';
import { testingRecordBatch } from './testing-broker.ts';
import { WireReader } from './wire-reader.ts';
import { WireWriter } from './wire-writer.ts';

/**
 * Seeded fuzzing of everything the fetcher decodes from the network: record
 * batches (plain and compressed), the Fetch response, the codecs and the
 * frame receiver. Every input must end in a value or a coded error, within a
 * time and heap budget: never a hang, a crash or a plain Error.
 *
 *   npm test runs a bounded count; a longer run by hand:
 *   WEIR_FUZZ_ITERATIONS=200000 node --test src/kafka/wire/wire-fuzz.test.ts
 *   and a failure is replayed with the seed it prints: WEIR_FUZZ_SEED=<seed>.
 */
const iterations = Number(process.env.WEIR_FUZZ_ITERATIONS ?? 3_000);
const seed = Number(process.env.WEIR_FUZZ_SEED ?? randomInt(2 ** 31));
/** Per input: what a decode may take, far above a real batch's microseconds. */
const perInputMs = 250;
/** Heap growth allowed over the whole run once garbage is collected (the decoders keep nothing). */
const heapBudgetBytes = 64 * 1024 * 1024;

/** mulberry32: small, fast, and the same sequence for the same seed. */
function prng(start: number): () => number {
  let a = start >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A full collection, so the heap budget measures what the decoders keep, not garbage not yet collected. */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const random = prng(seed);
const below = (n: number) => Math.floor(random() * n);

/** Byte flips, truncation, extension, and int32 fields set to extreme values. */
function mutate(input: Buffer): Buffer {
  let data = Buffer.from(input);
  const edits = 1 + below(4);
  for (let e = 0; e < edits; e++) {
    const kind = below(5);
    if (kind === 0 && data.length) data[below(data.length)] = below(256);
    else if (kind === 1 && data.length) data = data.subarray(0, below(data.length));
    else if (kind === 2)
      data = Buffer.concat([data, Buffer.from(Array.from({ length: below(32) }, () => below(256)))]);
    else if (kind === 3 && data.length >= 4) {
      const extremes = [-1, 0, 0x7fffffff, -0x80000000, 1, 61, 0x100000];
      data.writeInt32BE(extremes[below(extremes.length)] as number, below(data.length - 3));
    } else if (data.length) {
      // A varint made long or negative.
      data[below(data.length)] = 0x80 | below(128);
    }
  }
  return data;
}

/** A batch's CRC made right again after a mutation, so the decoder behind the check is reached too. */
function fixCrc(batch: Buffer): Buffer {
  if (batch.length >= 21) batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

/** A batch whose records section is compressed with `codec` (1 gzip, 4 zstd). */
function compressedBatch(baseOffset: number, values: string[], codec: 1 | 4): Buffer {
  const plain = testingRecordBatch(baseOffset, values);
  const records = plain.subarray(61);
  const packed = codec === 1 ? zlib.gzipSync(records) : zlib.zstdCompressSync(records);
  const batch = Buffer.concat([plain.subarray(0, 61), packed]);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt16BE(codec, 21);
  return fixCrc(batch);
}

function fetchResponse(records: Buffer): Buffer {
  return new WireWriter()
    .int32(0)
    .int16(0)
    .int32(0)
    .array([0], (w) => {
      w.string('t').array([0], (pw) =>
        pw.int32(0).int16(0).int64(100).int64(100).int64(0).int32(-1).int32(-1).bytes(records),
      );
    })
    .done();
}

const seeds: Buffer[] = [
  testingRecordBatch(0, ['a', null, 'c']),
  Buffer.concat([
    testingRecordBatch(5, ['x']),
    testingRecordBatch(6, ['y', 'z'], { transactional: true, producerId: 7 }),
  ]),
  testingRecordBatch(9, [null], { control: 'abort', producerId: 7 }),
  compressedBatch(20, ['gzip', 'me'], 1),
  compressedBatch(30, ['zstd', 'me', 'too'], 4),
];

/** Runs `decode` on `input`: it must return, or throw a CodedError, quickly. */
function expectValueOrCodedError(what: string, input: Buffer, decode: (data: Buffer) => unknown): void {
  const started = performance.now();
  try {
    decode(input);
  } catch (error) {
    assert.ok(
      error instanceof CodedError,
      `${what} (seed ${seed}): a plain ${(error as Error)?.name} instead of a coded error: ${(error as Error)?.message}; input ${input.toString('hex').slice(0, 400)}`,
    );
  }
  const ms = performance.now() - started;
  assert.ok(
    ms < perInputMs,
    `${what} (seed ${seed}): took ${ms.toFixed(0)} ms on input ${input.toString('hex').slice(0, 400)}`,
  );
}

const decodeBatches = (data: Buffer) => {
  const out: ConsumedRecord[] = [];
  decodeRecordBatches(data, 't', 0, 0, below(2) ? [{ producerId: 7, firstOffset: 6 }] : undefined, out);
  return out;
};

describe(`wire decoding fuzz (seed ${seed}, ${iterations} inputs per target; replay with WEIR_FUZZ_SEED=${seed})`, () => {
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;

  it('record batches: every mutated batch decodes or fails coded', () => {
    for (let i = 0; i < iterations; i++) {
      const base = seeds[below(seeds.length)] as Buffer;
      const input = below(2) ? fixCrc(mutate(base)) : mutate(base);
      expectValueOrCodedError('decodeRecordBatches', input, decodeBatches);
    }
  });

  it('record batches: a flipped byte anywhere in a batch is caught by its CRC-32C or the format checks', () => {
    const batch = testingRecordBatch(0, ['checksummed', 'records']);
    for (let i = 0; i < Math.min(iterations, 2_000); i++) {
      const corrupt = Buffer.from(batch);
      const at = 17 + below(batch.length - 17);
      corrupt[at] = ((corrupt[at] as number) ^ (1 + below(255))) & 0xff;
      assert.throws(
        () => decodeBatches(corrupt),
        CodedError,
        `a flip at byte ${at} went unnoticed (seed ${seed})`,
      );
    }
  });

  it('Fetch responses: every mutated response reads or fails coded', () => {
    for (let i = 0; i < iterations; i++) {
      const input = mutate(fetchResponse(seeds[below(seeds.length)] as Buffer));
      expectValueOrCodedError('readFetch', input, (data) => {
        for (const p of readFetch(new WireReader(data)).partitions) if (p.records) decodeBatches(p.records);
      });
    }
  });

  it('Metadata and OffsetForLeaderEpoch responses: every mutated response reads or fails coded', () => {
    const metadata = new WireWriter()
      .int32(0)
      .array([1, 2], (w, id) => w.int32(id).string('127.0.0.1').int32(9092).string(null))
      .string('cluster')
      .int32(1)
      .array(['t'], (w, topic) =>
        w
          .int16(0)
          .string(topic)
          .int8(0)
          .array([0, 1], (pw, partition) =>
            pw
              .int16(0)
              .int32(partition)
              .int32(1)
              .int32(3)
              .array([1, 2], (x, id) => x.int32(id))
              .array([1], (x, id) => x.int32(id))
              .array([], () => undefined),
          ),
      )
      .done();
    const epochs = new WireWriter()
      .int32(0)
      .array(['t'], (w, topic) =>
        w.string(topic).array([0, 1], (pw, partition) => pw.int16(0).int32(partition).int32(2).int64(40)),
      )
      .done();
    for (let i = 0; i < iterations; i++) {
      expectValueOrCodedError('readMetadata', mutate(metadata), (data) => readMetadata(new WireReader(data)));
      expectValueOrCodedError('readOffsetForLeaderEpoch', mutate(epochs), (data) =>
        readOffsetForLeaderEpoch(new WireReader(data)),
      );
    }
  });

  it('codecs: every mutated compressed input inflates or fails, within the limit', async () => {
    const plain = Buffer.from('weir '.repeat(200));
    const inputs = [zlib.gzipSync(plain), zlib.zstdCompressSync(plain)];
    for (let i = 0; i < iterations; i++) {
      // zlib frees a failed inflate's native handle on a later turn of the event loop: let it, now and then.
      if (i % 1_000 === 999) await new Promise((resolve) => setImmediate(resolve));
      const codec = 1 + below(4);
      const input = mutate(inputs[below(inputs.length)] as Buffer);
      const started = performance.now();
      try {
        const out = decompress(codec, input, 1024 * 1024);
        assert.ok(
          out.length <= 1024 * 1024,
          `codec ${codec} (seed ${seed}): ${out.length} bytes past the limit`,
        );
      } catch (error) {
        assert.ok(error instanceof Error, `codec ${codec} (seed ${seed}): threw a non-Error`);
      }
      assert.ok(performance.now() - started < perInputMs, `codec ${codec} (seed ${seed}): too slow`);
    }
  });

  it('stays within its heap budget', async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    collectGarbage();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(grown < heapBudgetBytes, `heap grew by ${grown} bytes (seed ${seed})`);
  });
});

describe(`frame receiver fuzz (seed ${seed})`, () => {
  let server: Server;
  let port = 0;
  /** What the server answers the next connection's first request with. */
  let answer = Buffer.alloc(0);
  before(async () => {
    server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        socket.end(answer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('every answer (frames too short, too long, cut off, or garbage) ends the request with a value or an error, never a crash', async () => {
    const count = Math.min(200, Math.max(20, Math.floor(iterations / 20)));
    for (let i = 0; i < count; i++) {
      const body = mutate(fetchResponse(seeds[below(seeds.length)] as Buffer));
      const frame = Buffer.alloc(8);
      const sizes = [body.length + 4, -1, 0, 3, 0x7fffffff, 200 * 1024 * 1024, below(body.length + 8)];
      frame.writeInt32BE(sizes[below(sizes.length)] as number, 0);
      frame.writeInt32BE(below(4) ? 1 : below(1_000), 4); // the correlation id of the first request, mostly
      answer = Buffer.concat([frame, body]).subarray(0, below(4) ? undefined : below(body.length + 8));
      const connection = await BrokerConnection.open('127.0.0.1', port, {
        clientId: 'fuzz',
        security: {},
        connectTimeoutMs: 2_000,
        requestTimeoutMs: 2_000,
      });
      const outcome = await connection.request(1, 11, Buffer.alloc(0)).then(
        (reader) => {
          try {
            readFetch(reader);
            return 'read';
          } catch (error) {
            assert.ok(error instanceof CodedError, `(seed ${seed}) ${(error as Error).message}`);
            return 'coded';
          }
        },
        (error: unknown) => (error instanceof Error ? 'failed' : 'non-error'),
      );
      assert.notEqual(outcome, 'non-error');
      connection.close();
    }
  });
});
