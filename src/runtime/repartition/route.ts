/** Where a stage's repartition output goes in this run: the topic, its partition count, and the writing task. */
export interface RepartitionRoute {
  topic: string;
  partitions: number;
  fromTask: number;
  /** How many tasks the writing stage runs: barriers carry it, so a downstream task can tell layouts apart. */
  tasks: number;
}

/**
 * The partition of a repartitioned record: FNV-1a over the encoded key
 * bytes, so every task of the upstream stage sends a key to the same
 * downstream partition whatever its language-level type.
 */
export function partitionOfKey(key: Buffer | null, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of key ?? []) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}
