import type { MapState, ValueState } from '../../sdk/state.ts';
import { type EntryMap, heapStateStorage, type StateStorage, type StorageSnapshot } from './entry-map.ts';
import { emptyStoreMarker } from './snapshot-format.ts';

/**
 * Keyed state, stored per input partition: a partition plays the role of
 * Flink's key group, so rescaling moves whole partitions and never splits state.
 * Values are kept as JSON bytes, which is also their snapshot encoding.
 * The entries live where the StateStorage puts them: the heap, or the task's
 * disk store (disk-store.ts).
 */

/** Restored entries per write transaction of a disk store. */
const loadBatch = 10_000;

/** A map-state entry is stored under "<key>\u0000<entry>", so one key's entries sort together. */
const separator = '\u0000';

/** All stores of one source partition, and whether they changed since the last snapshot. */
export class PartitionStores {
  readonly stores = new Map<string, EntryMap>();
  private readonly storage: StateStorage;
  private readonly partition: string;
  dirty = true;
  /** Prior values of entries written by the record in progress, so a poison record leaves no trace. */
  private undo: { store: EntryMap; key: string; prior: Buffer | undefined }[] = [];
  private dirtyBefore = false;
  /**
   * For stores used as map state: each key's stored entry keys, so entries()
   * and clear() cost the key's entries rather than a scan of the whole store.
   * Built on first use of a store, then kept in step by every write and rollback.
   */
  private readonly entryIndex = new WeakMap<EntryMap, Map<string, Set<string>>>();
  /**
   * With a changelog: the entries written since the changes were last taken,
   * by store. The changelog gets each one's value as it is when taken
   * (its last value in the interval), so a key written a thousand times costs
   * one record, and an entry a rolled-back record touched is logged as it is.
   */
  private changed: Map<EntryMap, Set<string>> | undefined;
  /**
   * While a background snapshot encodes (freeze() to thaw()): each entry's
   * value at the freeze, kept at its first write after it (null: it did not
   * exist), so frozenEntries() reads the state as it was while writes go on.
   */
  private frozen: Map<string, Map<string, Buffer | null>> | undefined;
  private frozenNames: string[] = [];
  /** The storage's own snapshot, when it has one (disk): then no values are kept. */
  private frozenView: StorageSnapshot | undefined;

  /**
   * @param restored the state to start from (a decoded section), loaded into `storage`
   * @param partition the source partition's id, for the storage's bookkeeping
   */
  constructor(
    restored?: ReadonlyMap<string, Iterable<[string, Buffer]>>,
    storage: StateStorage = heapStateStorage,
    partition = '',
  ) {
    this.storage = storage;
    this.partition = partition;
    if (restored) {
      for (const [name, entries] of restored) {
        const store = this.store(name);
        for (const [key, value] of entries) store.set(key, value);
      }
      this.dirty = false;
    }
  }

  /**
   * Loads a decoded section's entries (sectionEntries) into fresh stores, one
   * at a time, so a section larger than the heap can go onto disk: the state
   * as its snapshot left it, not a change.
   */
  static fromSection(
    entries: Iterable<[string, string, Buffer]>,
    storage: StateStorage,
    partition: string,
  ): PartitionStores {
    const stores = new PartitionStores(undefined, storage, partition);
    // A disk store takes them in batches straight to disk: through its cache they would wait there, pending,
    // for the first snapshot to write them on the commit path.
    let batch: [string, Buffer][] = [];
    let batchStore: EntryMap | undefined;
    const drain = () => {
      if (batch.length) batchStore?.load?.(batch);
      batch = [];
    };
    for (const [name, key, value] of entries) {
      const store = stores.store(name);
      if (store !== batchStore) {
        drain();
        batchStore = store;
      }
      if (value === emptyStoreMarker) continue;
      if (!store.load) store.set(key, value);
      else if (batch.push([key, value]) >= loadBatch) drain();
    }
    drain();
    stores.dirty = false;
    return stores;
  }

  /**
   * The stores of a partition whose maps a kept disk store still holds
   * (kept-store.ts): the state as it was committed, changed since its
   * section as far as the changelog knows.
   */
  static adopt(
    maps: readonly (readonly [string, EntryMap])[],
    storage: StateStorage,
    partition: string,
  ): PartitionStores {
    const stores = new PartitionStores(undefined, storage, partition);
    for (const [name, map] of maps) {
      stores.stores.set(name, map);
      stores.names.set(map, name);
    }
    stores.dirty = true;
    return stores;
  }

  /** Removes a store and all its entries (state of an operator the pipeline no longer has). */
  dropStore(name: string): void {
    const store = this.stores.get(name);
    if (!store) return;
    this.storage.drop(store);
    this.stores.delete(name);
    this.dirty = true;
  }

  /** Records which entries change from now on, for the changelog (takeChanges). */
  trackChanges(): void {
    this.changed ??= new Map();
  }

  /** Whether any entry changed since the changes were last taken. */
  get hasChanges(): boolean {
    return (this.changed?.size ?? 0) > 0;
  }

  /** The entries changed since the last call, each with its value now (undefined: removed); forgets them. */
  takeChanges(): { store: string; key: string; value: Buffer | undefined }[] {
    const changed = this.changed;
    if (!changed?.size) return [];
    this.changed = new Map();
    const out: { store: string; key: string; value: Buffer | undefined }[] = [];
    for (const [store, keys] of changed) {
      const name = this.names.get(store) as string;
      for (const key of keys) out.push({ store: name, key, value: store.get(key) });
    }
    return out;
  }

  /**
   * One changelog record replayed on restore: the entry set, or removed when
   * `value` is undefined. Not a change to log again; it does make the state
   * differ from its last snapshot.
   */
  replay(name: string, key: string, value: Buffer | undefined): void {
    const store = this.store(name);
    if (this.frozen && !this.frozenView) this.keepFrozen(store, key, store.get(key));
    if (value === undefined) store.delete(key);
    else store.set(key, value);
    this.indexEntry(store, key, value !== undefined);
    this.dirty = true;
  }

  /**
   * Fixes the state as it is now for frozenEntries(): by the storage's own
   * snapshot where it has one (a disk store's read transaction, which costs no
   * heap), else at the cost of one kept value per entry written until thaw().
   */
  /** Writes still held in memory go to the storage now (a batch replayed from a changelog). */
  settle(): void {
    this.storage.settle();
  }

  freeze(): void {
    this.storage.settle();
    this.frozen = new Map();
    this.frozenNames = [...this.stores.keys()].sort();
    this.frozenView = this.storage.snapshot?.();
  }

  thaw(): void {
    this.frozen = undefined;
    this.frozenNames = [];
    this.frozenView?.release();
    this.frozenView = undefined;
  }

  /** The stores that existed at the freeze. */
  get frozenStoreNames(): readonly string[] {
    return this.frozenNames;
  }

  /**
   * A store's entries as they were at the freeze, read lazily (a caller may
   * yield between entries while records are processed): entries untouched
   * since come from the live store, once each; entries written since from
   * the kept values. Map iteration sees a key re-inserted since the freeze
   * again, so every written key is skipped there and given once at the end.
   */
  *frozenEntries(name: string): Generator<[string, Buffer]> {
    const live = this.stores.get(name);
    if (this.frozenView) {
      if (live) yield* this.frozenView.entries(live);
      return;
    }
    const kept = () => this.frozen?.get(name);
    if (live) {
      for (const [key, value] of live) {
        if (kept()?.has(key)) continue;
        yield [key, value];
      }
    }
    for (const [key, value] of kept() ?? []) if (value !== null) yield [key, value];
  }

  private keepFrozen(store: EntryMap, key: string, prior: Buffer | undefined): void {
    const name = this.names.get(store) as string;
    const frozen = this.frozen as Map<string, Map<string, Buffer | null>>;
    let kept = frozen.get(name);
    if (!kept) {
      kept = new Map();
      frozen.set(name, kept);
    }
    if (!kept.has(key)) kept.set(key, prior ?? null);
  }

  /** Starts a record: its writes can be rolled back until the next begin(). */
  begin(): void {
    if (this.undo.length) this.undo = [];
    this.dirtyBefore = this.dirty;
  }

  rollback(): void {
    for (const { store, key, prior } of this.undo.reverse()) {
      if (prior === undefined) store.delete(key);
      else store.set(key, prior);
      this.indexEntry(store, key, prior !== undefined);
    }
    this.undo = [];
    this.dirty = this.dirtyBefore;
  }

  private store(name: string): EntryMap {
    let store = this.stores.get(name);
    if (!store) {
      store = this.storage.open(this.partition, name);
      this.stores.set(name, store);
      this.names.set(store, name);
    }
    return store;
  }

  /** Each store's name, for the changelog. */
  private readonly names = new WeakMap<EntryMap, string>();

  private write(store: EntryMap, key: string, value: Buffer | undefined): void {
    const prior = store.get(key);
    if (value === undefined && prior === undefined) return;
    if (this.frozen && !this.frozenView) this.keepFrozen(store, key, prior);
    this.undo.push({ store, key, prior });
    if (value === undefined) store.delete(key);
    else store.set(key, value);
    this.indexEntry(store, key, value !== undefined);
    this.dirty = true;
    if (this.changed) this.noteChange(store, key);
  }

  private noteChange(store: EntryMap, key: string): void {
    // Keyed by the store itself: one lookup per write on the record path.
    const changed = this.changed as Map<EntryMap, Set<string>>;
    let keys = changed.get(store);
    if (!keys) {
      keys = new Set();
      changed.set(store, keys);
    }
    keys.add(key);
  }

  private indexEntry(store: EntryMap, storedKey: string, present: boolean): void {
    const index = this.entryIndex.get(store);
    const cut = storedKey.indexOf(separator);
    if (!index || cut < 0) return;
    const key = storedKey.slice(0, cut);
    let entries = index.get(key);
    if (present) {
      if (!entries) {
        entries = new Set();
        index.set(key, entries);
      }
      entries.add(storedKey);
    } else if (entries) {
      entries.delete(storedKey);
      if (entries.size === 0) index.delete(key);
    }
  }

  private indexOf(store: EntryMap): Map<string, Set<string>> {
    let index = this.entryIndex.get(store);
    if (!index) {
      index = new Map();
      this.entryIndex.set(store, index);
      for (const storedKey of store.keys()) this.indexEntry(store, storedKey, true);
    }
    return index;
  }

  /** A heap store's keys under `prefix` (one key's map entries), from the entry index. */
  private heapKeysOf(store: EntryMap, key: string, prefix: string): () => string[] {
    const index = this.indexOf(store);
    // The index files stored keys under the text before their first NUL, which is the key itself unless the
    // key holds a NUL; such a key (possible only for string keys) is looked up by prefix instead.
    return key.includes(separator)
      ? () => [...store.keys()].filter((k) => k.startsWith(prefix)).sort()
      : () => [...(index.get(key) ?? [])].sort();
  }

  valueState<T>(name: string, key: string): ValueState<T> {
    const store = this.store(name);
    return {
      get: () => decode<T>(store.get(key)),
      set: (value) => this.write(store, key, encode(value)),
      clear: () => this.write(store, key, undefined),
    };
  }

  mapState<V>(name: string, key: string): KeyedMapState<V> {
    const store = this.store(name);
    const prefix = `${key}${separator}`;
    const ownKeys = store.keysWithPrefix
      ? () => [...(store.keysWithPrefix as (prefix: string) => Iterable<string>)(prefix)]
      : this.heapKeysOf(store, key, prefix);
    return {
      get: (entry) => decode<V>(store.get(prefix + entry)),
      set: (entry, value) => this.write(store, prefix + entry, encode(value)),
      delete: (entry) => this.write(store, prefix + entry, undefined),
      entries: () => ownKeys().map((k) => [k.slice(prefix.length), decode<V>(store.get(k)) as V]),
      names: () => ownKeys().map((k) => k.slice(prefix.length)),
      clear: () => {
        for (const k of ownKeys()) this.write(store, k, undefined);
      },
    };
  }
}

/**
 * A map state as the runtime's own operators use it: also the entry names
 * alone, in order, without reading or decoding their values (a join reads
 * the few entries whose names, which begin with their time, are in range).
 */
export interface KeyedMapState<V> extends MapState<V> {
  names(): string[];
}

function encode(value: unknown): Buffer {
  if (value === undefined) throw new TypeError('state cannot hold undefined; use clear()');
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function decode<T>(raw: Buffer | undefined): T | undefined {
  return raw === undefined ? undefined : (JSON.parse(raw.toString('utf8')) as T);
}
