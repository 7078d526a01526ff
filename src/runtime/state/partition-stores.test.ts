import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartitionStores } from './partition-stores.ts';

/** What entries() must return: every stored entry of the key, by a scan of the whole store, sorted. */
function scanned(stores: PartitionStores, store: string, key: string): [string, number][] {
  const prefix = `${key}\u0000`;
  return [...(stores.stores.get(store) ?? new Map<string, Buffer>())]
    .filter(([k]) => k.startsWith(prefix))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => [k.slice(prefix.length), JSON.parse(v.toString('utf8')) as number]);
}

describe('PartitionStores map state', () => {
  it('entries() and clear() see exactly the key’s entries through writes, deletes and rollbacks', () => {
    const stores = new PartitionStores();
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
    const first = new PartitionStores();
    first.begin();
    for (let i = 0; i < 50; i++) first.mapState<number>('op/m', `k${i % 5}`).set(`e${i}`, i);
    const restored = new PartitionStores(first.stores);
    for (let k = 0; k < 5; k++) {
      const entries = restored.mapState<number>('op/m', `k${k}`).entries();
      assert.equal(entries.length, 10);
      assert.deepEqual(entries, scanned(restored, 'op/m', `k${k}`));
    }
  });

  it('a string key holding a NUL still reads its own entries', () => {
    const stores = new PartitionStores();
    stores.begin();
    const odd = stores.mapState<number>('op/m', 'a\u0000b');
    odd.set('e', 1);
    assert.deepEqual(odd.entries(), [['e', 1]]);
    odd.clear();
    assert.deepEqual(odd.entries(), []);
  });
});
