import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { json } from './formats.ts';
import {
  type JobDefinition,
  mapState,
  Pipeline,
  PoisonRecordError,
  string,
  TestDriver,
  valueState,
} from './index.ts';

/** Counts records per key, and remembers each key's distinct values (ValueState and MapState). */
function keyedCount(
  options: Parameters<Pipeline<string | null, string | null>['to']>[2] = {},
): JobDefinition {
  return Pipeline.from('events', { topics: ['events'], key: string, value: string })
    .filter('non-empty', (r) => r.key !== null && r.value !== '')
    .process('count', {
      state: { total: valueState<number>(), values: mapState<number>() },
      process(r, state, emit) {
        if (r.value === 'boom') throw new Error('cannot count boom');
        const total = (state.total.get() ?? 0) + 1;
        state.total.set(total);
        state.values.set(r.value ?? '', (state.values.get(r.value ?? '') ?? 0) + 1);
        emit({
          key: r.key,
          value: { total, distinct: state.values.entries().length },
          timestamp: r.timestamp,
        });
      },
    })
    .to(
      'counts',
      { topic: 'counts', key: string, value: json<{ total: number; distinct: number }>() },
      options,
    );
}

describe('SDK pipeline and test driver', () => {
  it('counts per key with value and map state, and filters', () => {
    const driver = new TestDriver(keyedCount()).send(
      { key: 'a', value: 'x' },
      { key: 'b', value: 'x' },
      { key: 'a', value: 'y' },
      { key: 'a', value: '' },
      { key: 'a', value: 'x' },
    );
    assert.deepEqual(driver.output(), [
      { key: 'a', value: { total: 1, distinct: 1 } },
      { key: 'b', value: { total: 1, distinct: 1 } },
      { key: 'a', value: { total: 2, distinct: 2 } },
      { key: 'a', value: { total: 3, distinct: 2 } },
    ]);
    assert.equal(driver.valueState('count', 'total', 'a'), 3);
  });

  it('keeps state per source partition', () => {
    const driver = new TestDriver(keyedCount()).send(
      { key: 'a', value: 'x', partition: 0 },
      { key: 'a', value: 'x', partition: 1 },
    );
    assert.equal(driver.valueState('count', 'total', 'a', { topic: 'events', partition: 0 }), 1);
    assert.equal(driver.valueState('count', 'total', 'a', { topic: 'events', partition: 1 }), 1);
  });

  it('continues identically after a snapshot and restore', () => {
    const inputs = Array.from({ length: 200 }, (_, i) => ({
      key: `k${i % 7}`,
      value: `v${i % 3}`,
      partition: i % 2,
    }));
    const straight = new TestDriver(keyedCount()).send(...inputs);
    const first = new TestDriver(keyedCount()).send(...inputs.slice(0, 120));
    const restored = TestDriver.restore(keyedCount(), first.snapshot()).send(...inputs.slice(120));
    assert.deepEqual([...first.output(), ...restored.output()], straight.output());
  });

  it('fails the task on a poison record by default, naming record and operator, and keeps no partial state', () => {
    const driver = new TestDriver(keyedCount()).send({ key: 'a', value: 'x' });
    assert.throws(
      () => driver.send({ key: 'a', value: 'boom' }),
      (error: unknown) =>
        error instanceof PoisonRecordError &&
        error.code === 'POISON_RECORD' &&
        error.operatorId === 'count' &&
        /events\/0@1/.test(error.message),
    );
    assert.equal(driver.valueState('count', 'total', 'a'), 1);
  });

  it('sends a poison record with its error to the dead-letter topic and rolls back its state writes', () => {
    const job = Pipeline.from('in', { topics: ['in'], key: string, value: json<{ n: number }>() })
      .process('sum', {
        state: { sum: valueState<number>() },
        process(r, state, emit) {
          state.sum.set((state.sum.get() ?? 0) + (r.value?.n ?? 0));
          if ((r.value?.n ?? 0) < 0) throw new Error('negative');
          emit({ key: r.key, value: state.sum.get() ?? 0, timestamp: r.timestamp });
        },
      })
      .to(
        'out',
        { topic: 'out', key: string, value: json<number>() },
        {
          poisonRecords: { kind: 'dead-letter', topic: 'in-dlq' },
        },
      );
    const driver = new TestDriver(job).send({ key: 'k', value: { n: 2 } }, { key: 'k', value: { n: -5 } });
    driver.send({ key: 'k', value: { n: 3 } });
    assert.deepEqual(driver.output(), [
      { key: 'k', value: 2 },
      { key: 'k', value: 5 },
    ]);
    const [dead] = driver.deadLetters();
    assert.ok(dead);
    assert.equal(dead.value?.toString(), '{"n":-5}');
    assert.equal(dead.headers['weir.error'], 'negative');
    assert.equal(dead.headers['weir.error.operator'], 'sum');
    assert.equal(dead.headers['weir.source'], 'in/0@1');
  });

  it('refuses keyed state after a step that changed the key, even under a dead-letter policy', () => {
    const job = Pipeline.from('in', { topics: ['in'], key: string, value: string })
      .map('rekey', (r) => ({ ...r, key: r.value }))
      .process('count', {
        state: { n: valueState<number>() },
        process(r, state, emit) {
          state.n.set((state.n.get() ?? 0) + 1);
          emit(r);
        },
      })
      .to(
        'out',
        { topic: 'out', key: string, value: string },
        {
          poisonRecords: { kind: 'dead-letter', topic: 'dlq' },
        },
      );
    assert.throws(() => new TestDriver(job).send({ key: 'a', value: 'b' }), /key changed since the source/);
  });

  const invalid: [string, () => unknown, RegExp][] = [
    [
      'a duplicate operator id',
      () => Pipeline.from('a', { topics: ['t'], key: string, value: string }).map('a', (r) => r),
      /used twice/,
    ],
    [
      'an operator id that is not a name',
      () => Pipeline.from('Source 1', { topics: ['t'], key: string, value: string }),
      /operator id "Source 1"/,
    ],
    [
      'a source without topics',
      () => Pipeline.from('s', { topics: [], key: string, value: string }),
      /names no topics/,
    ],
    [
      'a dead-letter topic that is a source',
      () =>
        Pipeline.from('s', { topics: ['t'], key: string, value: string }).to(
          'o',
          { topic: 'u', key: string, value: string },
          { poisonRecords: { kind: 'dead-letter', topic: 't' } },
        ),
      /also a source topic/,
    ],
  ];
  for (const [what, build, message] of invalid) {
    it(`rejects ${what}`, () => assert.throws(build, message));
  }
});
