import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CodedError } from '../../errors.ts';
import { DiskStateStore } from './disk-store.ts';

const scratch = mkdtempSync(join(tmpdir(), 'weir-disk-store-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let made = 0;
const fresh = (cacheBytes: number) =>
  DiskStateStore.open({ path: join(scratch, String(made++)), cacheBytes });

describe('DiskStateStore', () => {
  it('keeps every entry when the cache holds a small part of them, and the cache stays within its budget', async () => {
    const budget = 256 * 1024;
    const store = fresh(budget);
    const counts = store.open('t/0', 'op/count');
    for (let i = 0; i < 20_000; i++) counts.set(`key-${i}`, Buffer.from(String(i)));
    for (let i = 0; i < 20_000; i += 2) counts.delete(`key-${i}`);
    assert.ok(store.cachedBytes <= budget, `cache ${store.cachedBytes} B over its ${budget} B budget`);
    for (let i = 0; i < 20_000; i++)
      assert.equal(counts.get(`key-${i}`)?.toString(), i % 2 ? String(i) : undefined, `key-${i}`);
    assert.ok(store.counts.misses > 0 && store.counts.flushes > 0, 'reads went to disk');
    assert.equal([...counts.keys()].length, 10_000);
    assert.equal(
      store.stats().entries,
      10_000,
      'the count of entries includes what the cache has not flushed',
    );
    counts.set('late-1', Buffer.from('x'));
    counts.delete('key-1');
    counts.delete('key-0'); // already gone
    assert.equal(store.stats().entries, 10_000);
    await store.close();
  });

  it('keeps an entry read between evictions in the cache while colder ones leave (second chance)', async () => {
    const store = fresh(64 * 1024);
    const counts = store.open('t/0', 'op/count');
    counts.set('hot', Buffer.from('h'));
    for (let i = 0; i < 20_000; i++) {
      counts.set(`cold-${i}`, Buffer.from(String(i)));
      if (i % 100 === 0) counts.get('hot');
    }
    const { misses } = store.counts;
    assert.equal(counts.get('hot')?.toString(), 'h');
    assert.equal(store.counts.misses, misses, 'the hot entry was still cached');
    assert.equal(counts.get('cold-0')?.toString(), '0');
    assert.equal(store.counts.misses, misses + 1, 'the coldest entry had left the cache');
    await store.close();
  });

  it('keeps the stores of partitions apart and ranges over one key prefix in order', async () => {
    const store = fresh(1 << 20);
    const a = store.open('t/0', 'op/m');
    const b = store.open('t/1', 'op/m');
    a.set('k\u0000y', Buffer.from('1'));
    a.set('k\u0000x', Buffer.from('2'));
    a.set('kk\u0000x', Buffer.from('3'));
    b.set('k\u0000z', Buffer.from('4'));
    assert.deepEqual([...(a.keysWithPrefix?.('k\u0000') ?? [])], ['k\u0000x', 'k\u0000y']);
    assert.deepEqual(
      [...b].map(([k, v]) => [k, v.toString()]),
      [['k\u0000z', '4']],
    );
    store.drop(a);
    assert.equal(a.get('k\u0000y'), undefined);
    assert.deepEqual([...b.keys()], ['k\u0000z'], 'dropping one store leaves the others');
    await store.close();
  });

  it('lists one key’s map entries in order through writes, removals, flushes and a full cache, as a join reads them', async () => {
    const store = fresh(8 * 1024);
    const m = store.open('t/0', 'join/left');
    const list = () => [...(m.keysWithPrefix?.('k\u0000') ?? [])].map((k) => k.slice(2));
    const expected = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const name = String((i * 37) % 1000).padStart(4, '0');
      m.set(`k\u0000${name}`, Buffer.from('v'));
      expected.add(name);
      m.set(`other-${i}`, Buffer.alloc(64)); // fills the cache: flushes happen between listings
      if (i % 3 === 0) {
        const gone = [...expected].sort()[0] as string;
        m.delete(`k\u0000${gone}`);
        expected.delete(gone);
      }
      if (i % 50 === 0) assert.deepEqual(list(), [...expected].sort(), `after write ${i}`);
    }
    store.settle();
    assert.deepEqual(list(), [...expected].sort(), 'after a flush');
    m.load?.([['k\u0000zz', Buffer.from('r')]]);
    assert.deepEqual(list(), [...expected, 'zz'].sort(), 'after a restore into the store');
    await store.close();
  });

  it('refuses a key over LMDB’s limit with a coded error naming the limit', async () => {
    const store = fresh(1 << 20);
    const map = store.open('t/0', 'op/v');
    assert.throws(
      () => map.set('x'.repeat(3000), Buffer.from('1')),
      (error: unknown) =>
        error instanceof CodedError &&
        error.code === 'STATE_KEY_TOO_LONG' &&
        /1973 bytes/.test(error.message),
    );
    map.set('é'.repeat(600), Buffer.from('1')); // 1,200 bytes: within the limit
    assert.equal(map.get('é'.repeat(600))?.toString(), '1');
    await store.close();
  });

  it('starts empty over what an earlier attempt left, and removes its directory when closed', async () => {
    const path = join(scratch, 'reused');
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, 'stale'), 'left by a killed attempt');
    const store = DiskStateStore.open({ path, cacheBytes: 1 << 20 });
    assert.equal(existsSync(join(path, 'stale')), false);
    store.open('t/0', 'op/v').set('a', Buffer.from('1'));
    await store.close();
    assert.equal(existsSync(path), false);
    assert.throws(() => store.open('t/0', 'op/v'), /closed/);
  });

  it('ends a range read still in progress when it closes: the reader gets STATE_STORE_CLOSED, not a crash', async () => {
    const store = fresh(1 << 20);
    const map = store.open('t/0', 'op/v');
    for (let i = 0; i < 100; i++) map.set(`k${String(i).padStart(3, '0')}`, Buffer.from(String(i)));
    const reading = map[Symbol.iterator]();
    assert.equal(reading.next().value?.[0], 'k000');
    await store.close();
    assert.throws(
      () => reading.next(),
      (error: unknown) => error instanceof CodedError && error.code === 'STATE_STORE_CLOSED',
    );
  });

  it('reads a snapshot as it was while writes go to disk, and closes cleanly with one being read', async () => {
    const store = fresh(0); // every write flushed: the snapshot must not see them
    const map = store.open('t/0', 'op/v');
    for (let i = 0; i < 50; i++) map.set(`k${String(i).padStart(2, '0')}`, Buffer.from('before'));
    const snapshot = store.snapshot();
    for (let i = 0; i < 50; i++) map.set(`k${String(i).padStart(2, '0')}`, Buffer.from('after'));
    map.set('new', Buffer.from('after'));
    const seen = [...snapshot.entries(map)];
    assert.equal(seen.length, 50);
    assert.ok(seen.every(([, v]) => v.toString() === 'before'));
    const reading = snapshot.entries(map)[Symbol.iterator]();
    reading.next();
    await store.close(); // with the snapshot unreleased and a read of it in progress
    assert.throws(() => reading.next(), /closed/);
    snapshot.release();
  });
});
