import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DiskStateStore } from './disk-store.ts';
import { heapStateStorage, type StateStorage } from './entry-map.ts';
import { PartitionStores } from './partition-stores.ts';
import { decodeSection, encodeSection, sectionEntries } from './snapshot-format.ts';

const scratch = mkdtempSync(join(tmpdir(), 'weir-stores-test-'));
const opened: DiskStateStore[] = [];
after(async () => {
  for (const store of opened) await store.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** The same behaviour whichever holds the entries: the heap, or disk with a cache too small for them or big enough. */
const storages: [string, () => StateStorage][] = [
  ['heap', () => heapStateStorage],
  ...[0, 64 * 1024].map((cacheBytes): [string, () => StateStorage] => [
    `disk, ${cacheBytes} B cache`,
    () => {
      const store = DiskStateStore.open({ path: join(scratch, String(opened.length)), cacheBytes });
      opened.push(store);
      return store;
    },
  ]),
];

/** What entries() must return: every stored entry of the key, by a scan of the whole store, sorted. */
function scanned(stores: PartitionStores, store: string, key: string): [string, number][] {
  const prefix = `${key}\u0000`;
  return [...(stores.stores.get(store) ?? new Map<string, Buffer>())]
    .filter(([k]) => k.startsWith(prefix))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => [k.slice(prefix.length), JSON.parse(v.toString('utf8')) as number]);
}

for (const [label, storage] of storages) {
  describe(`PartitionStores map state (${label})`, () => {
    it('entries() and clear() see exactly the key’s entries through writes, deletes and rollbacks', () => {
      const stores = new PartitionStores(undefined, storage(), 'p');
      const a = stores.mapState<number>('op/m', 'a');
      const ab = stores.mapState<number>('op/m', 'ab');
      stores.begin();
      a.set('x', 1);
      a.set('y', 2);
      ab.set('x', 3);
      assert.deepEqual(a.entries(), [
        ['x', 1],
        ['y', 2],
      ]);
      assert.deepEqual(ab.entries(), [['x', 3]]);

      stores.begin();
      a.delete('x');
      a.set('z', 4);
      ab.clear();
      stores.rollback(); // a poison record: none of it happened
      assert.deepEqual(a.entries(), scanned(stores, 'op/m', 'a'));
      assert.deepEqual(a.entries(), [
        ['x', 1],
        ['y', 2],
      ]);
      assert.deepEqual(ab.entries(), [['x', 3]]);

      stores.begin();
      a.clear();
      assert.deepEqual(a.entries(), []);
      assert.deepEqual(ab.entries(), [['x', 3]]);
    });

    it('restored state is indexed on first use', () => {
      const first = new PartitionStores(undefined, storage(), 'p');
      first.begin();
      for (let i = 0; i < 50; i++) first.mapState<number>('op/m', `k${i % 5}`).set(`e${i}`, i);
      const restored = new PartitionStores(first.stores, storage(), 'p');
      for (let k = 0; k < 5; k++) {
        const entries = restored.mapState<number>('op/m', `k${k}`).entries();
        assert.equal(entries.length, 10);
        assert.deepEqual(entries, scanned(restored, 'op/m', `k${k}`));
      }
    });

    it('a string key holding a NUL still reads its own entries', () => {
      const stores = new PartitionStores(undefined, storage(), 'p');
      stores.begin();
      const odd = stores.mapState<number>('op/m', 'a\u0000b');
      odd.set('e', 1);
      assert.deepEqual(odd.entries(), [['e', 1]]);
      odd.clear();
      assert.deepEqual(odd.entries(), []);
    });
  });

  describe(`PartitionStores frozen for a background snapshot (${label})`, () => {
    const snapshotOf = (stores: PartitionStores) =>
      new Map(stores.frozenStoreNames.map((name) => [name, new Map(stores.frozenEntries(name))] as const));
    const copyOf = (stores: PartitionStores) =>
      new Map([...stores.stores].map(([name, entries]) => [name, new Map(entries)] as const));

    it('reads the state as it was at the freeze while writes, removals, new stores and rollbacks go on', () => {
      const stores = new PartitionStores(undefined, storage(), 'p');
      stores.valueState<number>('op/count', 'a').set(1);
      stores.valueState<number>('op/count', 'b').set(2);
      stores.mapState<number>('op/map', 'k').set('x', 7);
      const before = copyOf(stores);
      stores.freeze();
      stores.valueState<number>('op/count', 'a').set(10);
      stores.valueState<number>('op/count', 'b').clear();
      stores.valueState<number>('op/count', 'c').set(3);
      stores.valueState<number>('op/count', 'b').set(20); // re-inserted: seen again by a live iteration
      stores.valueState<number>('op/other', 'z').set(9); // a store made after the freeze
      stores.begin();
      stores.mapState<number>('op/map', 'k').set('x', 8);
      stores.rollback();
      assert.deepEqual(snapshotOf(stores), before);
      stores.thaw();
      assert.equal(stores.valueState<number>('op/count', 'a').get(), 10, 'the live state moved on');
    });

    it('matches a copy taken at the freeze under random writes interleaved with the read (seeded)', () => {
      let seed = 7;
      const random = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        return seed / 2_147_483_648;
      };
      for (let round = 0; round < 20; round++) {
        const stores = new PartitionStores(undefined, storage(), 'p');
        for (let i = 0; i < 200; i++)
          stores.valueState<number>('op/v', `k${Math.floor(random() * 100)}`).set(i);
        const before = copyOf(stores);
        stores.freeze();
        const read = new Map<string, Buffer>();
        for (const [key, value] of stores.frozenEntries('op/v')) {
          read.set(key, value);
          // Writes land between the reads, as records do between a background snapshot's slices.
          for (let w = 0; w < 3; w++) {
            const key2 = `k${Math.floor(random() * 150)}`;
            if (random() < 0.3) stores.valueState<number>('op/v', key2).clear();
            else stores.valueState<number>('op/v', key2).set(Math.floor(random() * 1000));
          }
        }
        assert.deepEqual(read, before.get('op/v') ?? new Map(), `round ${round}`);
        stores.thaw();
      }
    });
  });
}

describe('a section moves between stores (a savepoint upgrade that changes spec.taskManager.state.store)', () => {
  it('state written on the heap restores onto disk and back, entry for entry', () => {
    const heap = new PartitionStores(undefined, heapStateStorage, 'in/0');
    for (let i = 0; i < 500; i++) heap.valueState<number>('op/count', `k${i}`).set(i);
    heap.mapState<string>('op/map', 'k1').set('e', 'x');
    const section = encodeSection(heap.stores);
    const [, disk] = storages[1] as [string, () => StateStorage];
    const onDisk = PartitionStores.fromSection(sectionEntries('s', section), disk(), 'in/0');
    assert.equal(onDisk.valueState<number>('op/count', 'k499').get(), 499);
    assert.deepEqual(onDisk.mapState<string>('op/map', 'k1').entries(), [['e', 'x']]);
    const back = PartitionStores.fromSection(
      sectionEntries('s', encodeSection(onDisk.stores)),
      heapStateStorage,
      'in/0',
    );
    assert.deepEqual(decodeSection('s', encodeSection(back.stores)), decodeSection('s', section));
  });
});
