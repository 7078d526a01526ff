import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { KafkaAdmin } from '../../../src/kafka/admin.ts';
import { AssignedConsumer, type ConsumedRecord } from '../../../src/kafka/assigned-consumer.ts';
import { KafkaError } from '../../../src/kafka/kafka-error.ts';
import { TransactionalProducer } from '../../../src/kafka/transactional-producer.ts';
import { RecordFetcher } from '../../../src/kafka/wire/record-fetcher.ts';
import { wireSecurity } from '../../../src/kafka/wire/wire-security.ts';
import { requireEnv } from '../../support/cluster.ts';
import { allow, scramUser } from '../../support/kafka-security.ts';
import { uniqueName } from '../../support/kafka-topics.ts';
import { NativeReader } from '../../support/native-reader.ts';

interface Seen {
  offset: number;
  key: string | null;
  value: string | null;
  headers: string;
}

const seen = (m: {
  offset: number;
  key?: Buffer | string | null;
  value: Buffer | null;
  headers?: ConsumedRecord['headers'] | Record<string, unknown>[];
}): Seen => ({
  offset: m.offset,
  key: m.key === undefined || m.key === null ? null : m.key.toString(),
  value: m.value === null ? null : m.value.toString(),
  headers: JSON.stringify(
    (m.headers ?? []).map((h) =>
      'key' in h && typeof h.key === 'string' && !Buffer.isBuffer(h.key)
        ? [h.key, String(h.value)]
        : Object.entries(h).map(([k, v]) => [k, String(v)])[0],
    ),
  ),
});

/** Reads until `expected` records arrived and then nothing more for a while (so extra records show). */
async function readAll(
  reader: { consume(max: number): Promise<Parameters<typeof seen>[0][]> },
  expected: number,
): Promise<Seen[]> {
  const records: Seen[] = [];
  const deadline = Date.now() + 30_000;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    const batch = await reader.consume(1000);
    for (const m of batch) records.push(seen(m));
    if (batch.length) quietSince = Date.now();
    if (records.length >= expected && Date.now() - quietSince > 1500) break;
  }
  return records;
}

/**
 * Weir's own record fetcher (src/kafka/wire) against the harness broker:
 * every compression codec as librdkafka writes it, transactions committed
 * and aborted in between, and SCRAM over TLS. The reference is librdkafka's
 * own consumer reading the same partition.
 */
describe("local harness: Weir's record fetcher", () => {
  const bootstrap = () => requireEnv('WEIR_KAFKA_BOOTSTRAP');
  const topic = uniqueName('fetcher');
  let admin: KafkaAdmin;

  before(async () => {
    admin = new KafkaAdmin(bootstrap());
    await admin.ensureTopic({ name: topic, partitions: 1 });
  });
  after(async () => {
    await admin.deleteTopic(topic).catch(() => undefined);
    admin.disconnect();
  });

  async function read(isolation: 'read_committed' | 'read_uncommitted', expected: number, from = 0) {
    const fetcher = await AssignedConsumer.connect({
      bootstrapServers: bootstrap(),
      groupId: uniqueName('f'),
      isolation,
    });
    const native = await NativeReader.connect({
      bootstrapServers: bootstrap(),
      groupId: uniqueName('n'),
      isolation,
    });
    try {
      fetcher.setConsumeTimeout(200);
      fetcher.assign([{ topic, partition: 0, offset: from }]);
      native.assign([{ topic, partition: 0, offset: from }]);
      return { ours: await readAll(fetcher, expected), theirs: await readAll(native, expected) };
    } finally {
      await fetcher.disconnect();
      await native.disconnect();
    }
  }

  it('reads every codec, keys, values, nulls and headers as librdkafka does, from any offset', async () => {
    let written = 0;
    for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
      const producer = await TransactionalProducer.connect({
        bootstrapServers: bootstrap(),
        settings: { 'compression.codec': codec, 'linger.ms': 20 },
      });
      try {
        for (let i = 0; i < 400; i++) {
          producer.send({
            topic,
            partition: 0,
            ...(i % 7 === 0 ? {} : { key: `${codec}-k${i % 13}` }),
            value: i % 11 === 0 ? null : Buffer.from(`${codec}-${i}-${'x'.repeat(i % 50)}`),
            ...(i % 5 === 0 ? { headers: [{ h1: `v${i}` }, { h2: Buffer.from('bytes') }] } : {}),
          });
        }
        await producer.flush();
        written += 400;
      } finally {
        await producer.disconnect();
      }
    }
    const { ours, theirs } = await read('read_uncommitted', written);
    assert.equal(theirs.length, written);
    assert.deepEqual(ours, theirs);
    // From the middle of a compressed batch: the records before the position are not returned.
    const middle = 1234;
    const partial = await read('read_uncommitted', written - middle, middle);
    assert.equal(partial.ours[0]?.offset, middle);
    assert.deepEqual(partial.ours, partial.theirs);
  });

  it('under read_committed skips aborted transactions interleaved with committed ones and plain writes', async () => {
    const before = (await read('read_uncommitted', 0)).theirs.length;
    const a = await TransactionalProducer.connect({
      bootstrapServers: bootstrap(),
      transactionalId: uniqueName('ta'),
    });
    const b = await TransactionalProducer.connect({
      bootstrapServers: bootstrap(),
      transactionalId: uniqueName('tb'),
      settings: { 'compression.codec': 'lz4' },
    });
    const plain = await TransactionalProducer.connect({ bootstrapServers: bootstrap() });
    try {
      for (let round = 0; round < 6; round++) {
        await a.begin();
        await b.begin();
        for (let i = 0; i < 50; i++) {
          a.send({ topic, partition: 0, value: Buffer.from(`a${round}-${i}`) });
          b.send({ topic, partition: 0, value: Buffer.from(`b${round}-${i}`) });
          if (i % 10 === 0) plain.send({ topic, partition: 0, value: Buffer.from(`p${round}-${i}`) });
        }
        // Flushed before the end, so aborted records are on the broker, not dropped by the client.
        await Promise.all([a.flush(), b.flush(), plain.flush()]);
        await (round % 2 === 0 ? a.commit() : a.abort());
        await (round % 3 === 0 ? b.abort() : b.commit());
      }
    } finally {
      await Promise.all([a.disconnect(), b.disconnect(), plain.disconnect()]);
    }
    // a commits rounds 0, 2, 4; b commits 1, 2, 4, 5; plain writes show always: 6 × 5.
    const committed = 3 * 50 + 4 * 50 + 30;
    const { ours, theirs } = await read('read_committed', before + committed);
    const fresh = theirs.slice(before);
    assert.equal(fresh.length, committed);
    assert.ok(
      !fresh.some((r) => /^a[135]-|^b[03]-/.test(r.value ?? '')),
      'librdkafka shows no aborted record',
    );
    assert.deepEqual(ours, theirs);
  });

  it('reads over SASL_SSL with SCRAM-SHA-256, and names a refused login', async () => {
    const user = uniqueName('fetch-scram');
    const password = uniqueName('pw');
    await scramUser(user, 'SCRAM-SHA-256', password);
    await allow(`User:${user}`, 'TOPIC', 'LITERAL', topic, ['READ', 'DESCRIBE']);
    await allow(`User:${user}`, 'GROUP', 'PREFIXED', 'fetch-sasl', ['READ']);
    const settings = (pw: string) => ({
      'security.protocol': 'sasl_ssl',
      'sasl.mechanisms': 'SCRAM-SHA-256',
      'sasl.username': user,
      'sasl.password': pw,
      'ssl.ca.pem': readFileSync(requireEnv('WEIR_KAFKA_CA'), 'utf8'),
    });
    const expected = (await read('read_uncommitted', 0)).theirs.slice(0, 100);
    const consumer = await AssignedConsumer.connect({
      bootstrapServers: requireEnv('WEIR_KAFKA_SASL_SSL_BOOTSTRAP'),
      groupId: uniqueName('fetch-sasl'),
      isolation: 'read_uncommitted',
      settings: settings(password),
    });
    try {
      consumer.setConsumeTimeout(200);
      consumer.assign([{ topic, partition: 0, offset: 0 }]);
      const ours = (await readAll(consumer, 100)).slice(0, 100);
      assert.deepEqual(ours, expected);
    } finally {
      await consumer.disconnect();
    }
    const refused = new RecordFetcher({
      bootstrapServers: requireEnv('WEIR_KAFKA_SASL_SSL_BOOTSTRAP'),
      clientId: 'fetch-refused',
      readCommitted: false,
      security: wireSecurity(settings('not-the-password')),
    });
    try {
      refused.assign([{ topic, partition: 0, offset: 0 }]);
      const error = await refused.consume(10, 10_000).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof KafkaError, `a refused login must fail the fetch, got ${String(error)}`);
      assert.equal(error.code, 'KAFKA_AUTHENTICATION_FAILED');
      assert.equal(error.retriable, false);
      assert.match(error.message, new RegExp(`SCRAM-SHA-256 login of "${user}"`));
    } finally {
      await refused.close();
    }
  });
});
