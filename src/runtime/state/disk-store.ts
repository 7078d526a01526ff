import { closeSync, fsyncSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { RuntimeError } from '../errors.ts';
import type { EntryMap, StateStorage, StorageSnapshot } from './entry-map.ts';
import { StateStoreError } from './state-store-error.ts';

/**
 * A task's keyed state on local disk: one LMDB environment (lmdb-js) in the
 * task's directory of the pod's state volume, chosen over classic-level by
 * the benchmark in BENCHMARKS.md (synchronous point reads, consistent
 * snapshots while writes go on).
 *
 * The disk copy is a cache of the committed state, never its record: the
 * changelog in Kafka and the snapshots in S3 are. So the environment is made
 * anew at every task start, written without fsync (noSync), and a write
 * reaching disk before its checkpoint commits is harmless: a failed commit
 * fails the task, whose next attempt rebuilds from snapshot and changelog.
 *
 * In front of it sits a bounded heap cache of the entries last read or
 * written (least recently used leave first). Writes stay in the cache until
 * it is full or a read needs them on disk (a range, a snapshot), then go in
 * one write transaction. Each partition's store is a scope of the one
 * environment: its keys start with a fixed-width tag.
 *
 * Range reads and snapshots hold a read transaction (useReadTransaction)
 * until they end, and close() ends those still open before it closes the
 * environment: closing it under an open cursor aborts the cursor's
 * transaction, and the cursor's later close crashes the process (LMDB:
 * "ensure that cursors are closed before the transaction is closed"). The
 * one cursor lmdb-js keeps for reuse is left to it: closing that one by hand
 * crashed the same way once its transaction had been reset.
 */

/** LMDB's largest key (lmdb-js's build); a scope tag takes part of it. */
const maxKeyBytes = 1978;
const tagLength = 5;
/** Heap a cached entry costs beyond its key and value: Map slot, Buffer object, string header. */
const entryOverhead = 96;
/** After a flush for room, the cache is cut to this share of its budget, so flushes come in batches. */
const refillShare = 0.75;

export interface DiskStateStoreOptions {
  /** The task's own directory; emptied when the store opens. */
  path: string;
  /** Heap budget of the cache, in bytes (spec.taskManager.state.cacheSize). */
  cacheBytes: number;
}

export interface DiskStoreStats {
  /** Entries on disk (those still only in the cache not counted). */
  entries: number;
  /** Bytes of the store file in use (LMDB pages up to the last one written). */
  diskBytes: number;
  cacheBytes: number;
  hits: number;
  misses: number;
}

export class DiskStateStore implements StateStorage {
  readonly path: string;
  private readonly db: RootDatabase<Buffer, Buffer>;
  private readonly cacheBytes: number;
  /** Scoped key → latest value (null: known absent), oldest use first. */
  private readonly cache = new Map<string, Buffer | null>();
  /** Scoped keys whose cached value is not yet on disk. */
  private readonly pending = new Set<string>();
  /**
   * The pending keys of each map-state entry group (the scoped key up to its
   * first NUL: one key's map), so one key's entries are listed without a
   * flush (see keys()).
   */
  private readonly pendingGroups = new Map<string, Set<string>>();
  /**
   * The entry keys of the groups listed lately, sorted, kept in step by every
   * write: a join lists a key's entries at every record, and a read of the
   * disk each time cost a fifth of its time. At most `groupsKept` groups, the
   * least recently listed leaving first.
   */
  private readonly groupNames = new Map<string, string[]>();
  /** Entries added less entries removed since the last flush: LMDB's count lags the cache by this much. */
  private unflushedEntries = 0;
  /** Keys written since the last flush without knowing whether they were there before. */
  private readonly uncounted = new Set<string>();
  private bytes = 0;
  private nextScope = 0;
  private closed = false;
  /** Ranges being read (a background snapshot may read one across many turns): ended before the store closes. */
  private readonly reading = new Set<Generator<unknown>>();
  /** Snapshots not yet released: their transactions end before the store closes. */
  private readonly snapshots = new Set<() => void>();
  /** For metrics: reads answered by the cache, reads that went to disk, write transactions. */
  readonly counts = { hits: 0, misses: 0, flushes: 0 };

  private constructor(options: DiskStateStoreOptions) {
    this.path = options.path;
    this.cacheBytes = options.cacheBytes;
    this.db = open<Buffer, Buffer>({
      path: options.path,
      keyEncoding: 'binary',
      encoding: 'binary',
      compression: false,
      noSync: true,
      cache: false,
    });
  }

  /**
   * Opens the store at `path`, removing whatever an earlier attempt left
   * there; with `reuse`, opens what is there (a store a graceful stop kept on
   * a persistent volume, local-store.ts).
   */
  static open(options: DiskStateStoreOptions & { reuse?: boolean }): DiskStateStore {
    if (!Number.isSafeInteger(options.cacheBytes) || options.cacheBytes < 0)
      throw new RangeError(`state cache budget ${options.cacheBytes}: a whole number of bytes is needed`);
    try {
      if (!options.reuse) rmSync(options.path, { recursive: true, force: true });
      mkdirSync(options.path, { recursive: true });
      return new DiskStateStore(options);
    } catch (error) {
      throw new StateStoreError(
        'STATE_DISK_UNAVAILABLE',
        `cannot open the disk state store at ${options.path}: ${(error as Error).message}`,
        true,
        { cause: error },
      );
    }
  }

  /** What the metrics show: entries and bytes on disk, the cache's heap, and how reads were answered. */
  stats(): DiskStoreStats {
    if (this.closed) return { entries: 0, diskBytes: 0, cacheBytes: 0, hits: 0, misses: 0 };
    const stats = this.db.getStats() as { entryCount: number; lastPageNumber: number; pageSize: number };
    return {
      entries: stats.entryCount + this.unflushedEntries + this.uncountedChange(),
      diskBytes: (stats.lastPageNumber + 1) * stats.pageSize,
      cacheBytes: this.bytes,
      hits: this.counts.hits,
      misses: this.counts.misses,
    };
  }

  /** Heap the cache holds now, in bytes (an estimate). */
  get cachedBytes(): number {
    return this.bytes;
  }

  open(_partition: string, _name: string): EntryMap {
    this.assertOpen();
    const tag = (this.nextScope++).toString(36).padStart(tagLength, '0');
    if (tag.length > tagLength) throw new RangeError('disk state store: too many stores opened by one task');
    return new DiskEntryMap(this, tag);
  }

  /** The map a kept store held under `tag` (tagOf, recorded before it closed); later maps get new tags. */
  adopt(tag: string): EntryMap {
    this.assertOpen();
    if (!/^[0-9a-z]+$/.test(tag) || tag.length !== tagLength)
      throw new RangeError(`disk state store: no tag "${tag}"`);
    this.nextScope = Math.max(this.nextScope, Number.parseInt(tag, 36) + 1);
    return new DiskEntryMap(this, tag);
  }

  /** The tag of a map this store made, for a record of a kept store. */
  tagOf(map: EntryMap): string {
    return (map as DiskEntryMap).tag;
  }

  drop(map: EntryMap): void {
    const tag = (map as DiskEntryMap).tag;
    this.flush();
    this.groupNames.clear();
    for (const key of [...this.cache.keys()]) if (key.startsWith(tag)) this.forget(key);
    // In batches, so a store larger than the heap is removed without listing it whole.
    for (;;) {
      const batch: Buffer[] = [];
      for (const key of this.keys(tag, '')) {
        batch.push(Buffer.from(tag + key, 'utf8'));
        if (batch.length === 10_000) break;
      }
      if (batch.length === 0) return;
      this.db.transactionSync(() => {
        for (const key of batch) this.db.removeSync(key);
      });
    }
  }

  settle(): void {
    this.flush();
  }

  /**
   * A read transaction begun now, after a flush: the entries as they stand,
   * whatever is written later, read while the task goes on. LMDB keeps the
   * pages it sees until release(), so the file may grow meanwhile.
   */
  snapshot(): StorageSnapshot {
    this.flush();
    const transaction = this.db.useReadTransaction();
    const release = () => {
      if (this.snapshots.delete(release)) transaction.done();
    };
    this.snapshots.add(release);
    return {
      entries: (map) =>
        this.tracked(
          function* (this: DiskStateStore) {
            const tag = (map as DiskEntryMap).tag;
            for (const { key, value } of this.db.getRange({ ...scopeRange(tag, ''), transaction }))
              yield [key.toString('utf8', tagLength), value] as [string, Buffer];
          }.call(this),
        ),
      release,
    };
  }

  get(scoped: string): Buffer | undefined {
    const cached = this.cache.get(scoped);
    if (cached !== undefined) {
      this.counts.hits++;
      // Refreshed as the newest use: a Map iterates in insertion order, so its first entries are the coldest.
      this.cache.delete(scoped);
      this.cache.set(scoped, cached);
      return cached ?? undefined;
    }
    this.counts.misses++;
    this.assertOpen();
    let value: Buffer | undefined;
    try {
      value = this.db.getBinary(Buffer.from(scoped, 'utf8'));
    } catch (error) {
      throw this.failed('reading', error);
    }
    this.remember(scoped, value ?? null);
    return value;
  }

  put(scoped: string, value: Buffer | null): void {
    this.assertOpen();
    checkKeyLength(scoped);
    // Whether the entry was there is known when it is cached, as it is after a write's read of its prior
    // value (the undo log); a changelog's replay writes without reading, and those are counted when asked.
    const prior = this.cache.get(scoped); // a Buffer, null (known absent) or undefined (not cached)
    if (prior !== undefined) this.unflushedEntries += (value !== null ? 1 : 0) - (prior ? 1 : 0);
    else this.uncounted.add(scoped);
    this.remember(scoped, value, prior);
    const listed = this.groupNames.size ? groupOf(scoped) : undefined;
    if (listed !== undefined) {
      const names = this.groupNames.get(listed);
      if (names) keepSorted(names, scoped, value !== null);
    }
    if (!this.pending.has(scoped)) {
      this.pending.add(scoped);
      const group = groupOf(scoped);
      if (group !== undefined) {
        let keys = this.pendingGroups.get(group);
        if (!keys) {
          keys = new Set();
          this.pendingGroups.set(group, keys);
        }
        keys.add(scoped);
      }
    }
    if (this.bytes > this.cacheBytes) this.makeRoom();
  }

  /** Restored entries of a scope, straight to disk in one write transaction (the cache forgets their keys). */
  load(tag: string, entries: readonly [string, Buffer][]): void {
    this.assertOpen();
    // Written first, so what is loaded over lands last and the count of entries stays exact.
    this.flush();
    this.groupNames.clear();
    const keys = entries.map(([key]) => {
      const scoped = tag + key;
      checkKeyLength(scoped);
      this.forget(scoped);
      if (this.pending.delete(scoped)) {
        const group = groupOf(scoped);
        if (group !== undefined) this.pendingGroups.get(group)?.delete(scoped);
      }
      return Buffer.from(scoped, 'utf8');
    });
    try {
      this.db.transactionSync(() => {
        for (let i = 0; i < keys.length; i++)
          this.db.putSync(keys[i] as Buffer, (entries[i] as [string, Buffer])[1]);
      });
    } catch (error) {
      throw this.failed('writing', error);
    }
  }

  /** The entries of a scope on disk, in key order, after a flush. */
  entries(tag: string): Generator<[string, Buffer]> {
    return this.tracked(
      function* (this: DiskStateStore) {
        this.flush();
        const transaction = this.db.useReadTransaction();
        try {
          for (const { key, value } of this.db.getRange({ ...scopeRange(tag, ''), transaction }))
            yield [key.toString('utf8', tagLength), value] as [string, Buffer];
        } finally {
          transaction.done();
        }
      }.call(this),
    );
  }

  /** The keys of a scope starting with `prefix`, in order, after a flush. */
  keys(tag: string, prefix: string): Generator<string> {
    if (groupOf(tag + prefix) === tag + prefix) return this.tracked(this.groupKeys(tag, prefix));
    return this.tracked(
      function* (this: DiskStateStore) {
        this.flush();
        const transaction = this.db.useReadTransaction();
        try {
          for (const key of this.db.getKeys({ ...scopeRange(tag, prefix), transaction }))
            yield key.toString('utf8', tagLength);
        } finally {
          transaction.done();
        }
      }.call(this),
    );
  }

  /**
   * One key's map entries, in key order, without a flush: what is on disk,
   * less what is pending removal, merged with what is pending to be written.
   * A map state is listed at every record by a join, where a flush each
   * time (an LMDB write transaction) cost most of the join's time.
   */
  private *groupKeys(tag: string, prefix: string): Generator<string> {
    const scopedPrefix = tag + prefix;
    const known = this.groupNames.get(scopedPrefix);
    if (known) {
      // The most recently listed last: a Map iterates in insertion order.
      this.groupNames.delete(scopedPrefix);
      this.groupNames.set(scopedPrefix, known);
      for (const scoped of [...known]) yield scoped.slice(tagLength);
      return;
    }
    const listed: string[] = [];
    for (const scoped of this.groupKeysFromDisk(tag, prefix)) listed.push(scoped);
    this.groupNames.set(scopedPrefix, listed);
    if (this.groupNames.size > groupsKept)
      this.groupNames.delete(this.groupNames.keys().next().value as string);
    for (const scoped of [...listed]) yield scoped.slice(tagLength);
  }

  /** A group's scoped keys: on disk, less those pending removal, merged with those pending a write. */
  private *groupKeysFromDisk(tag: string, prefix: string): Generator<string> {
    const scopedPrefix = tag + prefix;
    const pending = [...(this.pendingGroups.get(scopedPrefix) ?? [])].filter((k) => this.cache.get(k)).sort();
    const transaction = this.db.useReadTransaction();
    const onDisk: string[] = [];
    try {
      for (const key of this.db.getKeys({ ...scopeRange(tag, prefix), transaction })) {
        const scoped = key.toString('utf8');
        // Pending: written or removed since the flush, and listed (or not) from the pending side.
        if (!this.pending.has(scoped)) onDisk.push(scoped);
      }
    } finally {
      transaction.done();
    }
    let p = 0;
    for (const scoped of onDisk) {
      while (p < pending.length && (pending[p] as string) < scoped) yield pending[p++] as string;
      yield scoped;
    }
    while (p < pending.length) yield pending[p++] as string;
  }

  /** A read of a range, remembered until it ends so close() can end it first (its read transaction with it). */
  private *tracked<T>(range: Generator<T>): Generator<T> {
    this.assertOpen();
    this.reading.add(range);
    try {
      for (const item of range) {
        yield item;
        this.assertOpen();
      }
    } finally {
      this.reading.delete(range);
    }
  }

  /** Writes every pending entry in one transaction. */
  flush(): void {
    if (this.pending.size === 0) return;
    this.assertOpen();
    this.counts.flushes++;
    try {
      this.db.transactionSync(() => {
        for (const scoped of this.pending) {
          const value = this.cache.get(scoped);
          const key = Buffer.from(scoped, 'utf8');
          if (value) this.db.putSync(key, value);
          else this.db.removeSync(key);
        }
      });
    } catch (error) {
      // The transaction is aborted whole: the entries stay pending (and cached), so nothing is lost in memory.
      throw this.failed('writing', error);
    }
    this.pending.clear();
    this.pendingGroups.clear();
    this.unflushedEntries = 0;
    this.uncounted.clear();
  }

  /** What the uncounted writes changed: each now present or not, against whether it is on disk. */
  private uncountedChange(): number {
    let change = 0;
    for (const scoped of this.uncounted) {
      const onDisk = this.db.doesExist(Buffer.from(scoped, 'utf8')) ? 1 : 0;
      change += (this.cache.get(scoped) ? 1 : 0) - onDisk;
    }
    return change;
  }

  /**
   * Closes and removes the store; with `keep`, writes what the cache holds,
   * flushes it to the device, and leaves it for a later open with `reuse`.
   */
  async close(options: { keep?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (options.keep) {
      this.flush();
      await this.db.flushed;
      // noSync leaves the last transactions to the page cache, which a pod's volume outlives only on a clean
      // unmount: they go to the device now.
      syncFile(join(this.path, 'data.mdb'));
    }
    this.closed = true;
    for (const range of [...this.reading]) range.return(undefined);
    for (const release of [...this.snapshots]) release();
    this.cache.clear();
    this.pending.clear();
    this.pendingGroups.clear();
    this.groupNames.clear();
    await this.db.close();
    if (!options.keep) rmSync(this.path, { recursive: true, force: true });
  }

  /** `prior` is the cached value when the caller has just read it (undefined: not cached). */
  private remember(scoped: string, value: Buffer | null, prior = this.cache.get(scoped)): void {
    if (prior !== undefined) {
      this.bytes -= entrySize(scoped, prior);
      this.cache.delete(scoped);
    }
    this.cache.set(scoped, value);
    this.bytes += entrySize(scoped, value);
  }

  private forget(scoped: string): void {
    const prior = this.cache.get(scoped);
    if (prior === undefined) return;
    this.bytes -= entrySize(scoped, prior);
    this.cache.delete(scoped);
  }

  /** The cache is over budget: everything pending goes to disk, then the coldest entries leave. */
  private makeRoom(): void {
    this.flush();
    const target = this.cacheBytes * refillShare;
    for (const scoped of this.cache.keys()) {
      if (this.bytes <= target) break;
      this.forget(scoped);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StateStoreError('STATE_STORE_CLOSED', 'the task state store is closed', true);
  }

  private failed(what: 'reading' | 'writing', error: unknown): StateStoreError {
    return new StateStoreError(
      'STATE_DISK_FAILED',
      `${what} state in the disk store at ${this.path} failed (${(error as Error)?.message ?? error}); the task restarts and rebuilds its state from the changelog and S3`,
      true,
      { cause: error },
    );
  }
}

function checkKeyLength(scoped: string): void {
  // UTF-16 units take at most 3 UTF-8 bytes (a surrogate pair 4 for 2), so most keys need no count.
  if (scoped.length * 3 > maxKeyBytes && Buffer.byteLength(scoped) > maxKeyBytes)
    throw new RuntimeError(
      'STATE_KEY_TOO_LONG',
      `a state key of ${Buffer.byteLength(scoped) - tagLength} bytes is over the disk store's limit of ${maxKeyBytes - tagLength} bytes (LMDB's largest key); key state by something shorter, such as a hash of the key`,
      false,
    );
}

function entrySize(key: string, value: Buffer | null): number {
  return entryOverhead + 2 * key.length + (value?.length ?? 0);
}

/** Keys of a scope starting with `prefix`: UTF-8 has no 0xff byte, so prefix + 0xff bounds them all. */
function scopeRange(tag: string, prefix: string): { start: Buffer; end: Buffer } {
  const start = Buffer.from(tag + prefix, 'utf8');
  return { start, end: Buffer.concat([start, Buffer.of(0xff)]) };
}

/** One partition's store as a scope of the task's disk store. */
class DiskEntryMap implements EntryMap {
  readonly tag: string;
  private readonly store: DiskStateStore;

  constructor(store: DiskStateStore, tag: string) {
    this.store = store;
    this.tag = tag;
  }

  get(key: string): Buffer | undefined {
    return this.store.get(this.tag + key);
  }

  set(key: string, value: Buffer): void {
    this.store.put(this.tag + key, value);
  }

  delete(key: string): void {
    this.store.put(this.tag + key, null);
  }

  load(entries: readonly [string, Buffer][]): void {
    this.store.load(this.tag, entries);
  }

  keys(): Iterable<string> {
    return this.store.keys(this.tag, '');
  }

  keysWithPrefix(prefix: string): Iterable<string> {
    return this.store.keys(this.tag, prefix);
  }

  [Symbol.iterator](): Iterator<[string, Buffer]> {
    return this.store.entries(this.tag);
  }
}

/** fsync of a file, when it exists. */
function syncFile(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A scoped key's entry group: up to and with its first NUL after the tag (a map state's key), if it has one. */
function groupOf(scoped: string): string | undefined {
  const cut = scoped.indexOf('\u0000', tagLength);
  return cut < 0 ? undefined : scoped.slice(0, cut + 1);
}

/** Groups whose entry keys are kept listed in memory: for a join, its keys of both sides (tens of MiB at most). */
const groupsKept = 100_000;

/** Adds (present) or removes a key in a sorted list of keys. */
function keepSorted(names: string[], scoped: string, present: boolean): void {
  let low = 0;
  let high = names.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((names[mid] as string) < scoped) low = mid + 1;
    else high = mid;
  }
  const found = names[low] === scoped;
  if (present && !found) names.splice(low, 0, scoped);
  else if (!present && found) names.splice(low, 1);
}
