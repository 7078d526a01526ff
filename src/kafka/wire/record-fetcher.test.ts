import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { KafkaError } from '../kafka-error.ts';
import { type OffsetReset, RecordFetcher, type RecordFetcherOptions } from './record-fetcher.ts';
import { TestingBroker } from './testing-broker.ts';

const brokers: TestingBroker[] = [];
const fetchers: RecordFetcher[] = [];

async function cluster(size: number): Promise<TestingBroker[]> {
  const started = await Promise.all(Array.from({ length: size }, (_, i) => new TestingBroker(i + 1).start()));
  for (const broker of started) broker.peers = started.filter((b) => b !== broker);
  brokers.push(...started);
  return started;
}

function fetcher(
  bootstrap: TestingBroker,
  options: Partial<Pick<RecordFetcherOptions, 'maxBufferedRecords' | 'offsetOutOfRange' | 'onReset'>> = {},
): RecordFetcher {
  const f = new RecordFetcher({
    bootstrapServers: bootstrap.address,
    clientId: 'test',
    readCommitted: true,
    security: {},
    limits: { maxWaitMs: 10 },
    ...options,
  });
  fetchers.push(f);
  return f;
}

/** Values consumed until `count` arrived (bounded: a fetcher that stalls fails the test). */
async function consumeValues(f: RecordFetcher, count: number): Promise<string[]> {
  const values: string[] = [];
  for (let tries = 0; values.length < count && tries < 200; tries++) {
    for (const r of await f.consume(100, 50)) values.push(`${r.offset}:${r.value?.toString()}`);
  }
  return values;
}

afterEach(async () => {
  await Promise.all(fetchers.splice(0).map((f) => f.close()));
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
});

describe('RecordFetcher against a scripted broker', () => {
  it('reads from the assigned offset, and from the earliest for -2', async () => {
    const [broker] = (await cluster(1)) as [TestingBroker];
    broker.append('t', 0, 'a', 'b', 'c', 'd', 'e');
    broker.append('t', 1, 'x', 'y');
    const f = fetcher(broker);
    f.assign([
      { topic: 't', partition: 0, offset: 3 },
      { topic: 't', partition: 1, offset: -2 },
    ]);
    const values = await consumeValues(f, 4);
    assert.deepEqual(values.sort(), ['0:x', '1:y', '3:d', '4:e']);
    assert.equal(f.highWatermark('t', 0), 5);
  });

  it('follows a moved leader and goes on from the same offset: nothing lost, nothing twice', async () => {
    const [one, two] = (await cluster(2)) as [TestingBroker, TestingBroker];
    for (const broker of [one, two]) broker.append('t', 0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
    const f = fetcher(one);
    f.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const first = await consumeValues(f, 3);
    // The partition moves to broker 2: broker 1 now answers NOT_LEADER_OR_FOLLOWER.
    for (const broker of [one, two]) broker.leaders.set('t/0', 2);
    const rest = await consumeValues(f, 8 - first.length);
    assert.deepEqual([...first, ...rest], ['0:a', '1:b', '2:c', '3:d', '4:e', '5:f', '6:g', '7:h']);
    assert.equal(
      two.fetchOffsets.get('t/0')?.[0],
      first.length,
      'broker 2 is asked from where broker 1 left off',
    );
  });

  it('fails, naming the offset and the log’s range, when its position is before the log (retention ran) or after it (truncated)', async () => {
    const [broker] = (await cluster(1)) as [TestingBroker];
    broker.logs.set('t/0', { logStart: 10, values: ['k', 'l'] });
    broker.logs.set('t/1', { logStart: 0, values: ['a'] });
    for (const [partition, offset, why] of [
      [0, 2, /before the log starts/],
      [1, 50, /after the log ends/],
    ] as const) {
      const f = fetcher(broker);
      f.assign([{ topic: 't', partition, offset }]);
      await assert.rejects(
        consumeValues(f, 1),
        (error: unknown) =>
          error instanceof KafkaError &&
          error.code === 'KAFKA_OFFSET_OUT_OF_RANGE' &&
          !error.retriable &&
          error.message.includes(
            `t/${partition}: the committed offset ${offset} is outside the partition's log (${partition === 0 ? '10 to 12' : '0 to 1'})`,
          ) &&
          why.test(error.message),
      );
    }
  });

  it('with offsetOutOfRange earliest or latest, moves there and tells onReset', async () => {
    const [broker] = (await cluster(1)) as [TestingBroker];
    broker.logs.set('t/0', { logStart: 10, values: ['k', 'l'] });
    const resets: OffsetReset[] = [];
    const early = fetcher(broker, { offsetOutOfRange: 'earliest', onReset: (r) => resets.push(r) });
    early.assign([{ topic: 't', partition: 0, offset: 2 }]);
    assert.deepEqual(await consumeValues(early, 2), ['10:k', '11:l']);
    const late = fetcher(broker, { offsetOutOfRange: 'latest', onReset: (r) => resets.push(r) });
    late.assign([{ topic: 't', partition: 0, offset: 2 }]);
    assert.deepEqual(await late.consume(10, 100), []);
    broker.append('t', 0, 'm');
    assert.deepEqual(await consumeValues(late, 1), ['12:m']);
    assert.deepEqual(
      resets.map((r) => [r.policy, r.from, r.to, r.logStart, r.logEnd, r.reason]),
      [
        ['earliest', 2, 10, 10, 12, 'out-of-range'],
        ['latest', 2, 12, 10, 12, 'out-of-range'],
      ],
    );
  });

  it('sends the leader epoch: a truncated log under a new leader fails KAFKA_LOG_TRUNCATED, naming where it diverged', async () => {
    const [broker] = (await cluster(1)) as [TestingBroker];
    broker.append('t', 0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
    const f = fetcher(broker);
    f.assign([{ topic: 't', partition: 0, offset: 0 }]);
    assert.equal((await consumeValues(f, 8)).length, 8);
    // An unclean election: the new leader's log ends epoch 0 at 5 and goes on with other records past the
    // position, so a fetch at 8 would find records there and skip 5 to 7 silently.
    broker.truncate('t', 0, 5, 'x5', 'x6', 'x7', 'x8', 'x9');
    await assert.rejects(consumeValues(f, 1), (error: unknown) => {
      assert.ok(error instanceof KafkaError);
      assert.equal(error.code, 'KAFKA_LOG_TRUNCATED');
      assert.equal(error.retriable, false);
      assert.match(
        error.message,
        /^fetch: t\/0: the new leader's log ends epoch 0 at offset 5, below the position 8/,
      );
      return true;
    });
    assert.deepEqual(broker.fetchOffsets.get('t/0')?.includes(8), true);
    assert.ok(broker.requests.includes(23), 'the new leader was asked where epoch 0 ends');
  });

  it('with offsetOutOfRange set, a truncated log is read on from where it diverged, told to onReset', async () => {
    const [broker] = (await cluster(1)) as [TestingBroker];
    broker.append('t', 0, 'a', 'b', 'c', 'd');
    const resets: OffsetReset[] = [];
    const f = fetcher(broker, { offsetOutOfRange: 'earliest', onReset: (r) => resets.push(r) });
    f.assign([{ topic: 't', partition: 0, offset: 0 }]);
    assert.equal((await consumeValues(f, 4)).length, 4);
    broker.truncate('t', 0, 2, 'x2', 'x3', 'x4', 'x5');
    assert.deepEqual(await consumeValues(f, 4), ['2:x2', '3:x3', '4:x4', '5:x5']);
    assert.deepEqual(
      resets.map((r) => [r.reason, r.from, r.to]),
      [['truncated', 4, 2]],
    );
  });

  it('a new leader epoch whose log still holds the position goes on without a reset', async () => {
    const [broker] = (await cluster(1)) as [TestingBroker];
    broker.append('t', 0, 'a', 'b', 'c');
    const f = fetcher(broker);
    f.assign([{ topic: 't', partition: 0, offset: 0 }]);
    assert.equal((await consumeValues(f, 3)).length, 3);
    // A clean leader change: the new epoch starts at the log's end.
    broker.truncate('t', 0, 3, 'd', 'e');
    assert.deepEqual(await consumeValues(f, 2), ['3:d', '4:e']);
  });

  it('reconnects after a dropped connection and re-asks from the same offset', async () => {
    const [broker] = (await cluster(1)) as [TestingBroker];
    broker.append('t', 0, 'a', 'b', 'c', 'd', 'e');
    const f = fetcher(broker);
    f.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const first = await consumeValues(f, 3);
    broker.dropNextFetch = true;
    const rest = await consumeValues(f, 5 - first.length);
    assert.deepEqual([...first, ...rest], ['0:a', '1:b', '2:c', '3:d', '4:e']);
  });

  it('fails consume() naming the topic when its ACL denies reading it', async () => {
    const [broker] = (await cluster(1)) as [TestingBroker];
    broker.append('secret', 0, 'a');
    broker.deniedTopics.add('secret');
    const f = fetcher(broker);
    f.assign([{ topic: 'secret', partition: 0, offset: 0 }]);
    const error = await consumeValues(f, 1).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof KafkaError, `expected a KafkaError, got ${String(error)}`);
    assert.equal(error.code, 'KAFKA_NOT_AUTHORIZED');
    assert.equal(error.retriable, false);
    assert.match(error.message, /not authorized to read secret/);
  });

  it('names a broker that no longer serves the Fetch version it sends', async () => {
    const [broker] = (await cluster(1)) as [TestingBroker];
    broker.append('t', 0, 'a');
    broker.served = broker.served.map(([key, min, max]) => (key === 1 ? [key, 12, max] : [key, min, max]));
    const f = fetcher(broker);
    f.assign([{ topic: 't', partition: 0, offset: 0 }]);
    const error = await consumeValues(f, 1).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof KafkaError, `expected a KafkaError, got ${String(error)}`);
    assert.equal(error.code, 'KAFKA_UNSUPPORTED_VERSION');
    assert.match(error.message, /cannot serve Fetch v11: it serves v12–v17/);
  });

  it('stops fetching while the buffer is full, and goes on once it is consumed', async () => {
    const [broker] = (await cluster(1)) as [TestingBroker];
    broker.append('t', 0, ...Array.from({ length: 30 }, (_, i) => `v${i}`));
    const f = fetcher(broker, { maxBufferedRecords: 6 });
    f.assign([{ topic: 't', partition: 0, offset: 0 }]);
    // Nothing consumed: the fetcher parks once the buffer is full (bounded in turns of the event loop, not time).
    for (let turns = 0; !f.backpressured && turns < 100_000; turns++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(f.backpressured, 'the fetcher waits for room');
    // The broker answers 3 records a fetch: two fetches fill a buffer of 6, and no third is sent.
    assert.deepEqual(broker.fetchOffsets.get('t/0'), [0, 3]);
    const first: string[] = [];
    const rest = await consumeValues(f, 30 - first.length);
    assert.deepEqual(
      [...first, ...rest],
      Array.from({ length: 30 }, (_, i) => `${i}:v${i}`),
    );
  });
});
