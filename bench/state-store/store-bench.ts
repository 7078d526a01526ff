/**
 * The embedded store for state beyond the heap (issue 31): lmdb (lmdb-js, a
 * memory-mapped B+tree with MVCC read transactions) against classic-level
 * (LevelDB, an LSM tree), on this machine, at 10^7 keys.
 *
 * Keys look like Weir's: "<partition>/<operator>/<key>" (16 partitions), and
 * values like its keyed count's state (a small JSON number). Measured:
 *   load      10^7 writes in batches of 10,000 (a checkpoint's worth of changes)
 *   get       10^6 point reads of random existing keys (a record's state read)
 *   update    10^6 random updates in batches of 10,000
 *   snapshot  a full scan from a snapshot taken before 10^5 updates land
 *             during it: its rate, and whether it saw exactly the old values
 *   partition a range scan of one of the 16 partitions (a rescale or a
 *             savepoint reads a partition's keys)
 *   disk      bytes on disk after it all
 *
 * Usage: npm install --prefix bench/state-store && node bench/state-store/store-bench.ts [--keys 10000000] [--dir /tmp]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClassicLevel } from 'classic-level';
import { open as openLmdb } from 'lmdb';

const { values } = parseArgs({
  options: { keys: { type: 'string', default: '10000000' }, dir: { type: 'string', default: '/tmp' } },
});
const keys = Number(values.keys);
const partitions = 16;
const batch = 10_000;

const keyOf = (i: number) => `${String(i % partitions).padStart(2, '0')}/count-sum/count/"k${i}"`;
const stateValue = (n: number) => Buffer.from(String(n));

let seed = 42;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};

interface Row {
  store: string;
  loadPerS: number;
  getUs: number;
  updatePerS: number;
  scanPerS: number;
  snapshotConsistent: boolean;
  partitionScanMs: number;
  diskBytes: number;
}

interface Store {
  name: string;
  writeBatch(entries: [string, Buffer][]): Promise<void>;
  get(key: string): Buffer | undefined | Promise<Buffer | undefined>;
  /** Scans every entry as of now, calling `during` once a tenth of the way in (writes land then). */
  snapshotScan(during: () => Promise<void>): Promise<{ entries: number; changedSeen: number }>;
  scanPrefix(prefix: string): Promise<number>;
  close(): Promise<void>;
}

function lmdbStore(path: string): Store {
  const db = openLmdb<Buffer, string>({ path, encoding: 'binary', compression: false, noSync: true });
  return {
    name: 'lmdb 3.5.6',
    async writeBatch(entries) {
      await db.batch(() => {
        for (const [k, v] of entries) db.put(k, v);
      });
    },
    get: (key) => db.get(key),
    async snapshotScan(during) {
      // A read transaction is a consistent snapshot: writes committed after it began are not seen.
      let entries = 0;
      let changedSeen = 0;
      const txn = db.useReadTransaction();
      try {
        for (const { value } of db.getRange({ transaction: txn } as never) as Iterable<{ value: Buffer }>) {
          entries++;
          if (value.length > 8) changedSeen++;
          if (entries === Math.floor(keys / 10)) await during();
        }
      } finally {
        txn.done();
      }
      return { entries, changedSeen };
    },
    async scanPrefix(prefix) {
      let n = 0;
      for (const _ of db.getRange({ start: prefix, end: `${prefix}\uffff` })) n++;
      return n;
    },
    async close() {
      await db.close();
    },
  };
}

function levelStore(path: string): Store {
  const db = new ClassicLevel<string, Buffer>(path, { valueEncoding: 'buffer' });
  return {
    name: 'classic-level 3.0.0',
    async writeBatch(entries) {
      await db.batch(entries.map(([key, value]) => ({ type: 'put' as const, key, value })));
    },
    get: async (key) => db.get(key),
    async snapshotScan(during) {
      // An iterator reads from an implicit snapshot taken when it was made.
      let entries = 0;
      let changedSeen = 0;
      for await (const [, value] of db.iterator()) {
        entries++;
        if (value.length > 8) changedSeen++;
        if (entries === Math.floor(keys / 10)) await during();
      }
      return { entries, changedSeen };
    },
    async scanPrefix(prefix) {
      let n = 0;
      for await (const _ of db.keys({ gte: prefix, lt: `${prefix}\uffff` })) n++;
      return n;
    },
    async close() {
      await db.close();
    },
  };
}

async function measure(make: (path: string) => Store): Promise<Row> {
  const dir = mkdtempSync(join(values.dir ?? '/tmp', 'weir-store-'));
  const store = make(dir);
  try {
    let t = performance.now();
    for (let i = 0; i < keys; i += batch) {
      const entries: [string, Buffer][] = [];
      for (let j = i; j < Math.min(keys, i + batch); j++) entries.push([keyOf(j), stateValue(j % 1000)]);
      await store.writeBatch(entries);
    }
    const loadPerS = keys / ((performance.now() - t) / 1000);
    const reads = 1_000_000;
    t = performance.now();
    for (let i = 0; i < reads; i++) await store.get(keyOf(Math.floor(random() * keys)));
    const getUs = ((performance.now() - t) * 1000) / reads;
    const updates = 1_000_000;
    t = performance.now();
    for (let i = 0; i < updates; i += batch) {
      const entries: [string, Buffer][] = [];
      for (let j = 0; j < batch; j++)
        entries.push([keyOf(Math.floor(random() * keys)), stateValue(j % 1000)]);
      await store.writeBatch(entries);
    }
    const updatePerS = updates / ((performance.now() - t) / 1000);
    // Values written during the scan are 12 bytes, longer than any value before it: a snapshot must see none.
    t = performance.now();
    const scan = await store.snapshotScan(async () => {
      for (let i = 0; i < 100_000; i += batch) {
        const entries: [string, Buffer][] = [];
        for (let j = 0; j < batch; j++)
          entries.push([keyOf(Math.floor(random() * keys)), Buffer.from('during-scan!')]);
        await store.writeBatch(entries);
      }
    });
    const scanPerS = scan.entries / ((performance.now() - t) / 1000);
    t = performance.now();
    const inPartition = await store.scanPrefix('07/');
    const partitionScanMs = performance.now() - t;
    if (inPartition < keys / partitions - 1) throw new Error(`partition scan found ${inPartition}`);
    await store.close();
    const diskBytes = Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0]);
    return {
      store: store.name,
      loadPerS,
      getUs,
      updatePerS,
      scanPerS,
      snapshotConsistent: scan.entries === keys && scan.changedSeen === 0,
      partitionScanMs,
      diskBytes,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = [await measure(lmdbStore), await measure(levelStore)];
const k = (n: number) => Math.round(n).toLocaleString('en');
process.stdout.write(
  `${keys.toLocaleString('en')} keys, ${partitions} partitions, batches of ${batch.toLocaleString('en')}\n`,
);
process.stdout.write(
  '| store | load /s | get µs | update /s | snapshot scan /s | snapshot consistent | one partition scan ms | disk MB |\n|---|---:|---:|---:|---:|---|---:|---:|\n',
);
for (const r of rows) {
  process.stdout.write(
    `| ${r.store} | ${k(r.loadPerS)} | ${r.getUs.toFixed(2)} | ${k(r.updatePerS)} | ${k(r.scanPerS)} | ${r.snapshotConsistent ? 'yes' : 'NO'} | ${k(r.partitionScanMs)} | ${k(r.diskBytes / 1e6)} |\n`,
  );
}
