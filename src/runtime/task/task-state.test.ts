import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PartitionStores } from '../state/partition-stores.ts';
import { openTaskState } from './task-state.ts';

const directory = mkdtempSync(join(tmpdir(), 'weir-task-state-test-'));
after(() => rmSync(directory, { recursive: true, force: true }));

describe('openTaskState', () => {
  it("gives a task on disk the store's own snapshot, so a background round keeps no values in the heap", async () => {
    const state = openTaskState(
      { store: 'disk', directory, cacheBytes: 1 << 20 },
      { stage: 0, task: 3, tasksInProcess: 2 },
    );
    assert.equal(typeof state.snapshot, 'function', 'snapshot() reaches the task');
    const stores = new PartitionStores(undefined, state, 'in/0');
    stores.valueState<number>('op/count', 'a').set(1);
    stores.freeze();
    stores.valueState<number>('op/count', 'a').set(2);
    assert.deepEqual(
      [...stores.frozenEntries('op/count')].map(([k, v]) => [k, v.toString()]),
      [['a', '1']],
    );
    stores.thaw();
    assert.equal(state.stats?.().cacheBytes !== undefined, true, 'its figures reach the metrics');
    await state.close();
  });

  it('keeps state in the heap when the spec says heap', async () => {
    const state = openTaskState(
      { store: 'heap', directory, cacheBytes: 0 },
      { stage: 0, task: 0, tasksInProcess: 1 },
    );
    assert.equal(state.snapshot, undefined);
    assert.equal(state.stats, undefined);
    await state.close();
  });
});
