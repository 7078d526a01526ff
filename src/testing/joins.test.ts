import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import clickAttribution, { type Attribution } from '../jobs/click-attribution.ts';
import orderEnrichment, { type EnrichedOrder } from '../jobs/order-enrichment.ts';
import { bytes, json, Pipeline, PipelineDefinitionError, string } from '../sdk/index.ts';
import { type DriverInput, TestDriver } from './index.ts';

type Input = DriverInput<string, unknown>;

const minute = 60_000;
const order = (customer: string, id: string, time: number, amount = 1): Input => ({
  topic: 'orders',
  key: customer,
  value: { id, customer, amount, time },
});
const customer = (id: string, tier: string | null, since: number): Input => ({
  topic: 'customers',
  key: id,
  value: tier === null ? null : { name: id, tier, since },
  timestamp: since,
});
const click = (user: string, id: string, time: number): Input => ({
  topic: 'clicks',
  key: user,
  value: { id, ad: 'ad', time },
});
const impression = (user: string, id: string, time: number): Input => ({
  topic: 'impressions',
  key: user,
  value: { id, ad: 'ad', time },
});

function enriched(driver: TestDriver): [string, string | null][] {
  return driver.output<string, EnrichedOrder>().map(({ value }) => [value.order, value.tier]);
}

function pairs(driver: TestDriver): string[] {
  return driver
    .output<string, Attribution>()
    .map(({ key, value }) => `${key}:${value.click ?? '-'}×${value.impression ?? '-'}`)
    .sort();
}

describe('stream–table joins through the test driver', () => {
  it('joins each order with the table value as of its processing; inner drops unknown keys, left keeps them', () => {
    for (const kind of ['inner', 'left'] as const) {
      const driver = new TestDriver(orderEnrichment({ kind }));
      driver.send(order('ann', 'o1', 1));
      driver.send(customer('ann', 'gold', 0), order('ann', 'o2', 2));
      driver.send(customer('ann', 'silver', 5), order('ann', 'o3', 3));
      driver.send(customer('ann', null, 9), order('ann', 'o4', 4)); // a tombstone deletes the customer
      const expected: [string, string | null][] = [
        ['o2', 'gold'],
        ['o3', 'silver'],
      ];
      assert.deepEqual(
        enriched(driver),
        kind === 'inner' ? expected : [['o1', null], ...expected, ['o4', null]],
        kind,
      );
    }
  });

  it('a temporal join takes the version valid at the order’s time, whichever topic is read first', () => {
    const waiting = new TestDriver(orderEnrichment({ outOfOrdernessMs: 0 }));
    waiting.send(order('ann', 'o1', 10 * minute), customer('ann', 'silver', 0));
    assert.deepEqual(
      enriched(waiting),
      [],
      'an order waits until the watermark of both sides passes its time',
    );
    waiting.send(customer('ann', 'gold', 15 * minute), order('ann', 'o2', 20 * minute));
    assert.deepEqual(enriched(waiting), [['o1', 'silver']]);
    const orders = [
      order('ann', 'o1', 10 * minute),
      order('ann', 'o2', 20 * minute),
      order('bob', 'o3', 20 * minute),
    ];
    const versions = [
      customer('ann', 'silver', 0),
      customer('ann', 'gold', 15 * minute),
      customer('bob', 'new', 0),
    ];
    const expected = [
      ['o1', 'silver'],
      ['o2', 'gold'],
      ['o3', 'new'],
    ];
    for (const sequence of [
      [...versions, ...orders],
      [...orders, ...versions],
      [versions[0], orders[0], versions[1], orders[1], versions[2], orders[2]],
    ]) {
      const driver = new TestDriver(orderEnrichment({ outOfOrdernessMs: 0 }));
      driver.send(...(sequence as Input[]));
      driver.advanceEventTime(60 * minute);
      assert.deepEqual(enriched(driver).sort(), expected);
    }
  });

  it('a temporal join sends an order already behind the watermark to the late topic, and keeps versions bounded', () => {
    const driver = new TestDriver(orderEnrichment({ outOfOrdernessMs: 0, late: 'late-orders' }));
    for (let i = 0; i < 300; i++) driver.send(customer('ann', `t${i}`, i * minute));
    driver.send(order('ann', 'o1', 299 * minute + 1));
    driver.advanceEventTime(400 * minute);
    assert.deepEqual(enriched(driver), [['o1', 't299']]);
    driver.send(order('ann', 'late', 10 * minute));
    const late = driver.outputOf<string, { id: string }>('late-orders', { key: string, value: json() });
    assert.deepEqual(
      late.map((r) => r.value.id),
      ['late'],
    );
    const snapshot = TestDriver.restore(orderEnrichment({}), driver.snapshot());
    assert.ok(snapshot, 'the state snapshots and restores');
    const versions = driver.stateEntries('enrich', 'versions', 'ann');
    assert.ok(versions.length <= 101, `versions kept per key: ${versions.length}`);
  });
});

describe('stream–stream joins through the test driver', () => {
  it('pairs clicks with the impressions up to ten minutes before them, the same in any read order', () => {
    const clicks = [
      click('u1', 'c1', 12 * minute),
      click('u1', 'c2', 30 * minute),
      click('u2', 'c3', 5 * minute),
    ];
    const impressions = [
      impression('u1', 'i1', 3 * minute), // 9 min before c1: joins
      impression('u1', 'i2', 1 * minute), // 11 min before c1: too early
      impression('u1', 'i3', 13 * minute), // after c1: after = 0, no join
      impression('u2', 'i4', 5 * minute), // same time as c3: joins
      impression('u1', 'i5', 25 * minute), // 5 min before c2
    ];
    const expected = ['u1:c1×i1', 'u1:c2×i5', 'u2:c3×i4'];
    for (const sequence of [
      [...clicks, ...impressions],
      [...impressions, ...clicks],
      [
        impressions[0],
        clicks[0],
        impressions[4],
        clicks[2],
        impressions[3],
        clicks[1],
        impressions[1],
        impressions[2],
      ],
    ]) {
      const driver = new TestDriver(clickAttribution({ outOfOrdernessMs: 60 * minute, graceMs: 0 }));
      driver.send(...(sequence as Input[]));
      assert.deepEqual(pairs(driver), expected);
    }
  });

  it('left and outer joins emit the unmatched once the window and grace have passed, and state is then empty', () => {
    for (const kind of ['left', 'outer'] as const) {
      const driver = new TestDriver(clickAttribution({ kind, outOfOrdernessMs: 0, graceMs: minute }));
      driver.send(impression('u1', 'i1', 0), click('u1', 'c1', 5 * minute), click('u1', 'c2', 20 * minute));
      driver.send(impression('u2', 'i2', 21 * minute));
      assert.deepEqual(pairs(driver), ['u1:c1×i1'], 'unmatched records wait for their window and grace');
      driver.advanceEventTime(40 * minute);
      const unmatched = kind === 'left' ? ['u1:c2×-'] : ['u1:c2×-', 'u2:-×i2'];
      assert.deepEqual(pairs(driver), ['u1:c1×i1', ...unmatched].sort(), kind);
      for (const user of ['u1', 'u2']) {
        assert.deepEqual(driver.stateEntries('attribute', 'left', user), [], `${kind}: left side of ${user}`);
        assert.deepEqual(
          driver.stateEntries('attribute', 'right', user),
          [],
          `${kind}: right side of ${user}`,
        );
      }
    }
  });

  it('sends a record to the late topic when the watermark passed its window and grace, with the join and side named', () => {
    const driver = new TestDriver(clickAttribution({ outOfOrdernessMs: 0, graceMs: 0, late: 'late' }));
    driver.send(click('u1', 'c1', 60 * minute), impression('u2', 'i1', 60 * minute));
    driver.send(click('u1', 'old', 10 * minute)); // watermark ≈ 60 min: past 10 min + 0 + 0
    driver.send(impression('u1', 'iold', 40 * minute)); // past 40 min + 10 min before + 0
    const late = driver.outputOf<string, { id: string }>('late', { key: string, value: json() });
    assert.deepEqual(
      late.map((r) => r.value.id),
      ['old', 'iold'],
    );
  });

  it('an interval join pairs records with other.time − this.time within [lower, upper]', () => {
    const job = Pipeline.from('a', {
      topics: ['a'],
      key: string,
      value: json<number>(),
      watermarks: { timestamp: (r) => r.value ?? 0, maxOutOfOrdernessMs: 0 },
    })
      .intervalJoin(
        'between',
        Pipeline.stream('b', {
          topic: 'b',
          key: string,
          value: json<number>(),
          watermarks: { timestamp: (r) => r.value ?? 0, maxOutOfOrdernessMs: 0 },
        }),
        { lowerMs: 2, upperMs: 5, lateRecords: { topic: 'late' } },
        (a, b) => `${a}-${b}`,
      )
      .to('out', { topic: 'out', key: string, value: string });
    const driver = new TestDriver(job);
    driver.send({ topic: 'b', key: 'k', value: 101 }, { topic: 'b', key: 'k', value: 106 });
    driver.send({ topic: 'b', key: 'k', value: 102 }, { topic: 'a', key: 'k', value: 100 });
    driver.send({ topic: 'b', key: 'k', value: 105 }, { topic: 'b', key: 'k', value: 107 });
    assert.deepEqual(
      driver.output<string, string>().map((r) => r.value),
      ['100-102', '100-105'],
    );
  });

  it('keeps pairs across a snapshot and restore in the middle of a window', () => {
    const job = clickAttribution({ outOfOrdernessMs: 0, kind: 'left' });
    const first = new TestDriver(job);
    first.send(impression('u1', 'i1', 0), click('u1', 'c1', minute));
    const second = TestDriver.restore(job, first.snapshot());
    second.send(impression('u1', 'i2', 2 * minute), click('u1', 'c2', 3 * minute));
    second.advanceEventTime(60 * minute);
    assert.deepEqual(pairs(second), ['u1:c2×i1', 'u1:c2×i2']);
    assert.deepEqual(pairs(first), ['u1:c1×i1']);
  });
});

describe('joins after a keyBy: the other side re-keyed through the same repartition topic', () => {
  type Order = { id: string; customer: string; amount: number; time: number };
  const customers = Pipeline.table('customers', {
    topic: 'customers',
    key: string,
    value: json<{ tier: string }>(),
  });
  /** Orders keyed by their id, re-keyed by customer, then enriched from the customers table. */
  const byOrderId = (kind: 'inner' | 'left') => {
    const rekeyed = Pipeline.from('orders', {
      topics: ['orders-by-id'],
      key: string,
      value: json<Order>(),
    }).keyBy('by-customer', (r) => r.value?.customer ?? '', { key: string, value: json<Order>() });
    const join = (v: Order | null, c: { tier: string } | null) => `${v?.id}:${c?.tier ?? '-'}`;
    return (
      kind === 'inner'
        ? rekeyed.join<{ tier: string } | null, string>('enrich', customers, join)
        : rekeyed.leftJoin<{ tier: string } | null, string>('enrich', customers, join)
    ).to('out', { topic: 'out', key: string, value: string });
  };
  const byId = (id: string, customer: string, partition = 0): Input => ({
    topic: 'orders-by-id',
    key: id,
    value: { id, customer, amount: 1, time: 0 },
    partition,
  });
  const tier = (id: string, value: string | null, partition = 0): Input => ({
    topic: 'customers',
    key: id,
    value: value === null ? null : { tier: value },
    partition,
  });

  it('joins records whose topic key differs from the table’s, whatever partitions both were read from', () => {
    for (const kind of ['inner', 'left'] as const) {
      const driver = new TestDriver(byOrderId(kind), { repartitionPartitions: 3 });
      driver.send(byId('o1', 'ann', 1), tier('ann', 'gold', 2), byId('o2', 'ann', 0), byId('o3', 'bob', 2));
      driver.send(tier('bob', 'silver', 0), byId('o4', 'bob', 1), tier('ann', null, 1), byId('o5', 'ann', 2));
      const joined = driver.output<string, string>().map((r) => `${r.key}/${r.value}`);
      const inner = ['ann/o2:gold', 'bob/o4:silver'];
      assert.deepEqual(
        joined,
        kind === 'inner' ? inner : ['ann/o1:-', 'ann/o2:gold', 'bob/o3:-', 'bob/o4:silver', 'ann/o5:-'],
        kind,
      );
    }
  });

  it('keeps the table in the state after the keyBy, across a snapshot and restore', () => {
    const job = byOrderId('inner');
    const first = new TestDriver(job);
    first.send(tier('ann', 'gold'), tier('bob', 'silver'));
    const second = TestDriver.restore(job, first.snapshot());
    second.send(byId('o1', 'bob'), byId('o2', 'ann'));
    assert.deepEqual(
      second.output<string, string>().map((r) => r.value),
      ['o1:silver', 'o2:gold'],
    );
  });

  it('a window join after a keyBy: clicks keyed by user meet impressions keyed by ad, held by both sides’ watermark', () => {
    type Event = { id: string; ad: string; time: number };
    const impressions = Pipeline.stream('impressions', {
      topic: 'impressions-by-ad',
      key: string,
      value: json<Event>(),
      watermarks: { timestamp: (r) => r.value?.time ?? 0, maxOutOfOrdernessMs: 0 },
    });
    const job = Pipeline.from('clicks', {
      topics: ['clicks-by-user'],
      key: string,
      value: json<Event>(),
      watermarks: { timestamp: (r) => r.value?.time ?? 0, maxOutOfOrdernessMs: 0 },
    })
      .keyBy('by-ad', (r) => r.value?.ad ?? '', { key: string, value: json<Event>() })
      .windowJoin(
        'attribute',
        impressions,
        { beforeMs: 10 * minute, afterMs: 0, kind: 'left', lateRecords: { topic: 'late' } },
        (c, i) => `${c?.id ?? '-'}×${i?.id ?? '-'}`,
      )
      .to('out', { topic: 'out', key: string, value: string });
    const driver = new TestDriver(job);
    const clickOf = (user: string, id: string, ad: string, time: number): Input => ({
      topic: 'clicks-by-user',
      key: user,
      value: { id, ad, time },
    });
    const impressionOf = (id: string, ad: string, time: number): Input => ({
      topic: 'impressions-by-ad',
      key: ad,
      value: { id, ad, time },
    });
    driver.send(impressionOf('i1', 'a1', 0), impressionOf('i2', 'a2', minute));
    driver.send(clickOf('u1', 'c1', 'a1', 5 * minute), clickOf('u2', 'c2', 'a2', 20 * minute));
    driver.send(impressionOf('i3', 'a1', 30 * minute));
    // The watermark (30 min on impressions, 20 on clicks) passed c1's window: c1 matched i1; c2 (a2's
    // impression was 19 minutes before) waits for its own window to close.
    assert.deepEqual(
      driver.output<string, string>().map((r) => `${r.key}:${r.value}`),
      ['a1:c1×i1'],
    );
    driver.advanceEventTime(60 * minute);
    assert.deepEqual(
      driver.output<string, string>().map((r) => `${r.key}:${r.value}`),
      ['a1:c1×i1', 'a2:c2×-'],
    );
  });
});

describe('join definitions that cannot work', () => {
  const orders = () =>
    Pipeline.from('orders', {
      topics: ['orders'],
      key: string,
      value: json(),
      watermarks: { maxOutOfOrdernessMs: 0 },
    });
  const table = Pipeline.table('customers', { topic: 'customers', key: string, value: json() });

  it('refuses a join after a second keyBy, and after a keyBy whose key format differs, naming the join', () => {
    assert.throws(
      () =>
        orders()
          .keyBy('rekey', (r) => r.key, { key: string, value: json() })
          .keyBy('again', (r) => r.key, { key: string, value: json() })
          .join('enrich', table, (v) => v),
      (e: Error) =>
        e instanceof PipelineDefinitionError &&
        /join "enrich" must come before the second keyBy/.test(e.message),
    );
    assert.throws(
      () =>
        orders()
          .keyBy('rekey', (r) => Buffer.from(r.key ?? ''), { key: bytes, value: json() })
          .join('enrich', table as never, (v) => v),
      /"customers" \(topic customers\) has key format string and keyBy "rekey" bytes/,
    );
  });

  it('refuses a topic read twice in the job, naming it', () => {
    const ordersAgain = Pipeline.table('again', { topic: 'orders', key: string, value: json() });
    assert.throws(
      () =>
        orders()
          .keyBy('rekey', (r) => r.key, { key: string, value: json() })
          .join('enrich', ordersAgain, (v) => v),
      /join "enrich": topic orders is read twice in the job/,
    );
  });

  it('refuses sides with different key formats, naming both topics', () => {
    const byBytes = Pipeline.table('raw', { topic: 'raw-customers', key: bytes, value: json() });
    assert.throws(
      () => orders().join('enrich', byBytes as never, (v) => v),
      /"raw" \(topic raw-customers\) has key format bytes and the source \(topic orders\) string/,
    );
  });

  it('refuses a temporal join on a table without versions, and a window join without a late topic', () => {
    assert.throws(
      () => orders().temporalJoin('t', table, (v) => v, { lateRecords: { topic: 'late' } }),
      /table "customers" keeps no versions/,
    );
    const other = Pipeline.stream('other', {
      topic: 'other',
      key: string,
      value: json(),
      watermarks: { maxOutOfOrdernessMs: 0 },
    });
    assert.throws(
      () => orders().windowJoin('w', other, { beforeMs: 1, afterMs: 1 } as never, (v) => v),
      /join "w": lateRecords.topic is required/,
    );
    assert.throws(
      () =>
        orders().intervalJoin('i', other, { lowerMs: 5, upperMs: 1, lateRecords: { topic: 'x' } }, (v) => v),
      /lowerMs 5 is above upperMs 1/,
    );
  });

  it('refuses an event-time join on a source without watermarks', () => {
    const plain = Pipeline.from('orders', { topics: ['orders'], key: string, value: json() });
    const other = Pipeline.stream('other', {
      topic: 'other',
      key: string,
      value: json(),
      watermarks: { maxOutOfOrdernessMs: 0 },
    });
    assert.throws(
      () => plain.windowJoin('w', other, { beforeMs: 1, afterMs: 1, lateRecords: { topic: 'l' } }, (v) => v),
      /join "w" needs event time/,
    );
  });
});
