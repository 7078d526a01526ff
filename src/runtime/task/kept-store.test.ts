import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeCommitMetadata, type PartitionPointer } from '../checkpoint/commit-metadata.ts';
import { DiskStateStore } from '../state/disk-store.ts';
import { PartitionStores } from '../state/partition-stores.ts';
import { adoptKeptStore, keptStoreMismatch, recordKeptStore, takeKeptStoreRecord } from './kept-store.ts';
import { PartitionRuntime } from './partition-runtime.ts';
import { keptRecordPath, openTaskState } from './task-state.ts';

const scratch = mkdtempSync(join(tmpdir(), 'weir-kept-store-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const pointer: PartitionPointer = {
  checkpointId: 7,
  objectKey: 'ns/j/runs/r1/state/s0/t0/7-a.snap',
  start: 0,
  length: 10,
  sha256: 'ab'.repeat(32),
  changelogFrom: 40,
};

/** A store with two partitions' state, kept by a graceful stop at offsets 120 and (none). */
async function keptStore(path: string) {
  const store = DiskStateStore.open({ path, cacheBytes: 1 << 20 });
  const a = PartitionStores.fromSection([], store, 'in/0');
  const b = PartitionStores.fromSection([], store, 'in/1');
  const runtimes = [new PartitionRuntime({ topic: 'in', partition: 0 }, a, 120, pointer)];
  runtimes.push(new PartitionRuntime({ topic: 'in', partition: 1 }, b));
  a.replay('count/counts', 'k1', Buffer.from('3'));
  a.replay('count/sums', 'k1', Buffer.from('12'));
  b.replay('count/counts', 'k2', Buffer.from('5'));
  await store.close({ keep: true });
  recordKeptStore(path, 'r1', runtimes, store);
  return runtimes;
}

const committed = [
  { topic: 'in', partition: 0, offset: 120, metadata: encodeCommitMetadata(pointer) },
  { topic: 'in', partition: 1, offset: -1001 },
];

describe('kept stores (local recovery)', () => {
  it('a store kept by a graceful stop is reused as committed: its maps found again under their tags', async () => {
    const path = join(scratch, 'reuse');
    await keptStore(path);
    const { record, problem } = takeKeptStoreRecord(path);
    assert.equal(problem, undefined);
    assert.ok(record);
    assert.equal(existsSync(keptRecordPath(path)), false, 'the record is taken before anything is written');
    assert.deepEqual(takeKeptStoreRecord(path), {}, 'and cannot be taken twice');
    assert.equal(keptStoreMismatch(record, 'r1', committed), undefined);
    const state = openTaskState(
      { store: 'disk', directory: join(scratch), cacheBytes: 1 << 20 },
      { stage: 0, task: 9, tasksInProcess: 1 },
    );
    await state.close();
    const reopened = DiskStateStore.open({ path, cacheBytes: 1 << 20, reuse: true });
    const [p0, p1] = adoptKeptStore(record, committed, reopened);
    assert.equal(p0?.position, 120);
    assert.deepEqual(p0?.pointer, pointer);
    assert.equal(p0?.stores.stores.get('count/sums')?.get('k1')?.toString(), '12');
    assert.equal(p1?.position, undefined);
    assert.equal(p1?.stores.stores.get('count/counts')?.get('k2')?.toString(), '5');
    // A store opened after the adoption does not reuse an adopted tag.
    const later = reopened.open('in/2', 'count/counts');
    later.set('k9', Buffer.from('1'));
    assert.equal(p1?.stores.stores.get('count/counts')?.get('k9'), undefined);
    await reopened.close();
  });

  const mismatches: [string, string, typeof committed, RegExp][] = [
    ['another run', 'r2', committed, /kept by run r1/],
    [
      'a commit since',
      'r1',
      [{ ...committed[0], offset: 130 } as (typeof committed)[0], committed[1] as (typeof committed)[1]],
      /in\/0 was committed at 130 since \(the store stands on 120\)/,
    ],
    [
      'a partition more',
      'r1',
      [...committed, { topic: 'in', partition: 2, offset: -1001 }],
      /holds 2 partition\(s\), the task owns 3/,
    ],
    [
      'a first commit of a partition it held empty',
      'r1',
      [committed[0] as (typeof committed)[0], { topic: 'in', partition: 1, offset: 5, metadata: 'x' }],
      /in\/1 was committed at 5 since \(the store stands on none\)/,
    ],
  ];
  for (const [why, run, now, message] of mismatches) {
    it(`not reused after ${why}`, async () => {
      const path = join(scratch, `mismatch-${why.replaceAll(' ', '-')}`);
      await keptStore(path);
      const { record } = takeKeptStoreRecord(path);
      assert.match(keptStoreMismatch(record as NonNullable<typeof record>, run, now) ?? '', message);
    });
  }

  it('a record that does not read is a problem named, never a store reused', () => {
    const path = join(scratch, 'garbled');
    writeFileSync(keptRecordPath(path), '{"formatVersion":1,"runId":"r1","partitions":[{"topic":3}]}');
    assert.match(
      takeKeptStoreRecord(path).problem ?? '',
      /garbled\.kept\.json: a partition entry is malformed/,
    );
    writeFileSync(keptRecordPath(path), 'not json');
    assert.match(takeKeptStoreRecord(path).problem ?? '', /not JSON/);
  });

  it('a store opened anew invalidates a record left beside it (a pod that came back as a standby)', () => {
    const state = { store: 'disk' as const, directory: scratch, cacheBytes: 1 << 20 };
    const path = join(scratch, 'stage-1-task-0');
    writeFileSync(keptRecordPath(path), '{}');
    const store = openTaskState(state, { stage: 1, task: 0, tasksInProcess: 1 });
    assert.equal(existsSync(keptRecordPath(path)), false);
    return store.close();
  });
});
