import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pipeline, string, valueState } from '../../sdk/index.ts';
import { type EntryMap, heapStateStorage, type StateStorage } from '../state/entry-map.ts';
import { PartitionStores } from '../state/partition-stores.ts';
import { StateStoreError } from '../state/state-store-error.ts';
import { StageExecutor } from './stage-executor.ts';

/** A job that counts per key and rejects values starting with "bad", with poison records to a dead-letter topic. */
const job = Pipeline.from('events', { topics: ['in'], key: string, value: string })
  .process('count', {
    state: { count: valueState<number>() },
    process(record, state, emit) {
      if (record.value?.startsWith('bad')) throw new Error('a bad value');
      const count = (state.count.get() ?? 0) + 1;
      state.count.set(count);
      emit({ key: record.key, value: String(count), timestamp: record.timestamp });
    },
  })
  .to(
    'out',
    { topic: 'out', key: string, value: string },
    { poisonRecords: { kind: 'dead-letter', topic: 'dlq' } },
  );

/** Storage whose writes fail as a full disk's would (TestingFailingStorage: a unit-test stand-in). */
class TestingFailingStorage implements StateStorage {
  open(): EntryMap {
    const map = new Map<string, Buffer>();
    return {
      get: (key) => map.get(key),
      set: () => {
        throw new StateStoreError('STATE_DISK_FAILED', 'writing state failed (ENOSPC)', true);
      },
      delete: (key) => map.delete(key),
      keys: () => map.keys(),
      [Symbol.iterator]: () => map[Symbol.iterator](),
    };
  }
  drop(): void {}
  settle(): void {}
}

describe('StageExecutor and the state store', () => {
  const stage = job.stages[0];
  assert.ok(stage);
  const executor = new StageExecutor(job, stage, undefined);
  const position = { topic: 'in', partition: 0, offset: '7' };
  const run = (stores: PartitionStores, value: string) =>
    executor.process(position, 0, Buffer.from('k'), Buffer.from(value), stores);

  it('sends a record its own code rejects to the dead-letter topic', () => {
    const out = run(new PartitionStores(undefined, heapStateStorage, 'in/0'), 'bad one');
    assert.deepEqual(
      out.map((o) => o.topic),
      ['dlq'],
    );
  });

  it('fails the task when the store fails, whatever the poison policy: the record is not at fault', () => {
    const stores = new PartitionStores(undefined, new TestingFailingStorage(), 'in/0');
    assert.throws(
      () => run(stores, 'good'),
      (error: unknown) => error instanceof StateStoreError && error.code === 'STATE_DISK_FAILED',
    );
  });
});
