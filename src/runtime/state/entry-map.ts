/**
 * Where a partition's named stores keep their entries: the heap (a Map per
 * store) or the task's disk store (disk-store.ts). PartitionStores works on
 * this shape alone, so undo, changelog tracking and frozen snapshots are the
 * same whichever holds the bytes.
 */
export interface EntryMap extends Iterable<[string, Buffer]> {
  get(key: string): Buffer | undefined;
  set(key: string, value: Buffer): unknown;
  delete(key: string): unknown;
  keys(): Iterable<string>;
  /**
   * The keys starting with `prefix`, in order, when the store can range over
   * them (disk); absent for heap maps, which PartitionStores indexes instead.
   */
  keysWithPrefix?(prefix: string): Iterable<string>;
  /**
   * Writes restored entries straight to where the map keeps them, past any
   * cache (a disk store's write transaction), when that is cheaper than set()
   * one at a time; absent for heap maps.
   */
  load?(entries: readonly [string, Buffer][]): void;
}

/** Makes and drops the entry maps of one source partition's stores. */
export interface StateStorage {
  /** A new, empty entry map for the store `name` of the partition `partition`. */
  open(partition: string, name: string): EntryMap;
  /** Removes every entry of a map made by open(); it is not used again. */
  drop(map: EntryMap): void;
  /**
   * Called before a snapshot of the partition's stores is fixed (freeze):
   * writes still held in memory go to the store first, so a snapshot read
   * sees them. Nothing to do for the heap.
   */
  settle(): void;
  /**
   * A consistent view of the maps as they are now that later writes do not
   * change (a disk store's read transaction), or undefined when the storage
   * has none: PartitionStores then keeps each written entry's value from the
   * freeze instead. release() ends it.
   */
  snapshot?(): StorageSnapshot;
}

/** The entries of maps as they were when the snapshot was taken. */
export interface StorageSnapshot {
  entries(map: EntryMap): Iterable<[string, Buffer]>;
  release(): void;
}

/** Stores in the JavaScript heap: what the test driver and `state.store: heap` use. */
export const heapStateStorage: StateStorage = {
  open: () => new Map<string, Buffer>(),
  drop: (map) => (map as Map<string, Buffer>).clear(),
  settle: () => undefined,
};
