import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { KafkaAdmin } from '../../../src/kafka/admin.ts';
import { AssignedConsumer } from '../../../src/kafka/assigned-consumer.ts';
import { KafkaError } from '../../../src/kafka/kafka-error.ts';
import { TransactionalProducer } from '../../../src/kafka/transactional-producer.ts';
import { requireEnv } from '../../support/cluster.ts';

async function readAll(
  consumer: AssignedConsumer,
  expectAtLeast: number,
  timeoutMs: number,
): Promise<string[]> {
  const values: string[] = [];
  const deadline = Date.now() + timeoutMs;
  // Keep reading past the expected count for a moment, so extra records would be seen.
  let quietUntil = 0;
  while (Date.now() < deadline) {
    const batch = await consumer.consume(100);
    for (const message of batch) values.push(message.value?.toString() ?? '');
    if (values.length >= expectAtLeast) {
      quietUntil ||= Date.now() + 1500;
      if (Date.now() >= quietUntil) break;
    }
  }
  return values;
}

describe('local harness: Kafka transactions', () => {
  const bootstrap = () => requireEnv('WEIR_KAFKA_BOOTSTRAP');
  const topic = `smoke-txn-${randomBytes(4).toString('hex')}`;
  let admin: KafkaAdmin;

  before(async () => {
    admin = new KafkaAdmin(bootstrap());
    await admin.ensureTopic({ name: topic, partitions: 1 });
  });
  after(async () => {
    await admin.deleteTopic(topic).catch(() => undefined);
    admin.disconnect();
  });

  it('shows committed records to read_committed readers and hides aborted ones', async () => {
    const producer = await TransactionalProducer.connect({
      bootstrapServers: bootstrap(),
      transactionalId: `${topic}-producer`,
    });
    try {
      await producer.begin();
      for (const v of ['c1', 'c2', 'c3']) producer.send({ topic, partition: 0, value: Buffer.from(v) });
      await producer.commit();
      await producer.begin();
      for (const v of ['a1', 'a2']) producer.send({ topic, partition: 0, value: Buffer.from(v) });
      // Without a flush, abort would drop the records client-side and prove nothing about the broker.
      await producer.flush();
      await producer.abort();
      await producer.begin();
      producer.send({ topic, partition: 0, value: Buffer.from('c4') });
      await producer.commit();
    } finally {
      await producer.disconnect();
    }

    const committedReader = await AssignedConsumer.connect({
      bootstrapServers: bootstrap(),
      groupId: `${topic}-rc`,
      isolation: 'read_committed',
    });
    const uncommittedReader = await AssignedConsumer.connect({
      bootstrapServers: bootstrap(),
      groupId: `${topic}-ru`,
      isolation: 'read_uncommitted',
    });
    try {
      for (const reader of [committedReader, uncommittedReader]) {
        reader.setConsumeTimeout(200);
        reader.assign([{ topic, partition: 0, offset: 0 }]);
      }
      assert.deepEqual(await readAll(committedReader, 4, 20_000), ['c1', 'c2', 'c3', 'c4']);
      // The aborted records were written: a read_uncommitted reader sees them, so the
      // check above proves filtering, not a lost write.
      assert.deepEqual(await readAll(uncommittedReader, 6, 20_000), ['c1', 'c2', 'c3', 'a1', 'a2', 'c4']);
    } finally {
      await committedReader.disconnect();
      await uncommittedReader.disconnect();
    }
  });

  it('fences the older of two producers with the same transactional.id', async () => {
    const transactionalId = `${topic}-fenced`;
    const zombie = await TransactionalProducer.connect({ bootstrapServers: bootstrap(), transactionalId });
    await zombie.begin();
    zombie.send({ topic, partition: 0, value: Buffer.from('zombie') });
    const successor = await TransactionalProducer.connect({ bootstrapServers: bootstrap(), transactionalId });
    try {
      const error = await zombie.commit().then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error instanceof KafkaError, `the zombie's commit must fail, got ${String(error)}`);
      assert.equal(error.retriable, false);
    } finally {
      await zombie.disconnect();
      await successor.disconnect();
    }
  });
});
