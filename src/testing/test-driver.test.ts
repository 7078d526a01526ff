import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import wordCount from '../jobs/word-count.ts';
import { type JobDefinition, json, mapState, Pipeline, string, valueState } from '../sdk/index.ts';
import { PoisonRecordError, TestDriver } from './index.ts';

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
    assert.equal(dead.headers?.['weir.error'], 'negative');
    assert.equal(dead.headers?.['weir.error.operator'], 'sum');
    assert.equal(dead.headers?.['weir.source'], 'in/0@1');
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
    assert.throws(
      () => new TestDriver(job).send({ key: 'a', value: 'b' }),
      /key changed since the stage.s input/,
    );
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
      /also an input topic/,
    ],
  ];
  for (const [what, build, message] of invalid) {
    it(`rejects ${what}`, () => assert.throws(build, message));
  }
});

describe('multi-stage pipelines in the test driver', () => {
  const lines = ['the quick brown fox', 'The lazy dog', 'a fox, a dog: the end', "don't panic"];

  it('counts words across a keyBy, whatever source partition each line came from', () => {
    const driver = new TestDriver(wordCount({})).send(
      ...lines.map((value, i) => ({ key: `line-${i}`, value, partition: i % 3 })),
    );
    const final = new Map<string, number>();
    for (const { value } of driver.output<string, { word: string; count: number }>()) {
      final.set(value.word, value.count);
    }
    assert.deepEqual(Object.fromEntries(final), {
      the: 3,
      quick: 1,
      brown: 1,
      fox: 2,
      lazy: 1,
      dog: 2,
      a: 2,
      end: 1,
      "don't": 1,
      panic: 1,
    });
    // After the keyBy, state is found by the word alone: its partition follows from the key.
    assert.equal(driver.valueState('count', 'count', 'the'), 3);
  });

  it('keeps every word in one repartition partition, so its counts are 1..n in order', () => {
    const driver = new TestDriver(wordCount({}), { repartitionPartitions: 3 }).send(
      ...Array.from({ length: 60 }, (_, i) => ({
        key: null,
        value: `w${i % 7} w${i % 5}`,
        partition: i % 4,
      })),
    );
    const perWord = new Map<string, number[]>();
    for (const { value } of driver.output<string, { word: string; count: number }>()) {
      perWord.set(value.word, [...(perWord.get(value.word) ?? []), value.count]);
    }
    for (const [word, counts] of perWord) {
      assert.deepEqual(
        counts,
        counts.map((_, i) => i + 1),
        `counts of ${word}`,
      );
    }
  });

  it('restores both stages from a snapshot and continues as a run without one', () => {
    const inputs = Array.from({ length: 80 }, (_, i) => ({ key: `l${i}`, value: `a b${i % 3} c${i % 4}` }));
    const straight = new TestDriver(wordCount({})).send(...inputs).output();
    const first = new TestDriver(wordCount({})).send(...inputs.slice(0, 50));
    const restored = TestDriver.restore(wordCount({}), first.snapshot()).send(...inputs.slice(50));
    assert.deepEqual([...first.output(), ...restored.output()], straight);
  });

  it('refuses keyed state after a key change within a stage, and points to keyBy', () => {
    const job = Pipeline.from('in', { topics: ['in'], key: string, value: string })
      .map('rekey', (r) => ({ ...r, key: `${r.key}!` }))
      .process('count', {
        state: { n: valueState<number>() },
        process(r, state, emit) {
          state.n.set((state.n.get() ?? 0) + 1);
          emit(r);
        },
      })
      .to('out', { topic: 'out', key: string, value: string });
    assert.throws(
      () => new TestDriver(job).send({ key: 'k', value: 'v' }),
      (error: Error) => /"count" keeps keyed state/.test(error.message) && /keyBy/.test(error.message),
    );
  });

  it('refuses an operator id used twice across stages, naming it', () => {
    assert.throws(
      () =>
        Pipeline.from('in', { topics: ['in'], key: string, value: string })
          .keyBy('k', (r) => r.value, { key: string, value: string })
          .map('k', (r) => r),
      /operator id "k" is used twice/,
    );
  });

  it('splits the job into stages at each keyBy, naming the repartitions', () => {
    const job = wordCount({});
    assert.deepEqual(
      job.stages.map((s) => [s.input.id, s.steps.map((step) => step.id), s.output.id]),
      [
        ['lines', ['words'], 'by-word'],
        ['by-word', ['count'], 'counts'],
      ],
    );
  });
});
