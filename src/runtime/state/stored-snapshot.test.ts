import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiskStateStore } from './disk-store.ts';
import { heapStateStorage, type StateStorage } from './entry-map.ts';
import { PartitionStores } from './partition-stores.ts';
import { readSnapshotIndex, sectionEntries, verifiedSection } from './snapshot-format.ts';

/**
 * A snapshot object written by Weir e038ed6 (before the changelog and the
 * disk store; testdata/snapshot-e038ed6.snap, made once with that commit's
 * encodeSnapshot): savepoints and checkpoints users already have must restore
 * onto both stores, entry for entry.
 */
const objectKey = 'testdata/snapshot-e038ed6.snap';
const bytes = readFileSync(join(import.meta.dirname, objectKey));

describe('a snapshot stored by an earlier Weir (format version 1, e038ed6)', () => {
  const index = readSnapshotIndex(objectKey, bytes);

  it('reads its index and verifies its checksums', () => {
    assert.equal(index.formatVersion, 1);
    assert.equal(index.attempt, 'e038ed6');
    assert.deepEqual(
      index.sections.map((s) => `${s.topic}/${s.partition}`),
      ['events/0', 'events/1'],
    );
  });

  const path = join(tmpdir(), `weir-stored-snapshot-${process.pid}`);
  for (const [label, storage] of [
    ['heap', () => heapStateStorage],
    ['disk', () => DiskStateStore.open({ path, cacheBytes: 0 })],
  ] as [string, () => StateStorage & { close?: () => Promise<void> }][]) {
    it(`restores onto the ${label} store: counts, window state and timers`, async () => {
      const state = storage();
      const range = index.sections[0];
      assert.ok(range);
      const section = verifiedSection(
        objectKey,
        range,
        bytes.subarray(range.start, range.start + range.length),
      );
      const stores = PartitionStores.fromSection(sectionEntries(objectKey, section), state, 'events/0');
      assert.equal(stores.valueState<number>('count/count', '"k99"').get(), 297);
      assert.equal(stores.valueState<number>('count/count', '"k0"').get(), 0);
      assert.deepEqual(stores.mapState<{ acc: number }>('win/windows', '"k7"').entries(), [
        ['0|60000', { acc: 5, emitted: 0 }],
      ]);
      assert.deepEqual(
        [...(stores.stores.get('win/__timers')?.keys() ?? [])],
        ['e1000000000059999\u0000"k7"'],
      );
      await state.close?.();
      rmSync(path, { recursive: true, force: true });
    });
  }
});
