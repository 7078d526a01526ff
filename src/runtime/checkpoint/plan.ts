import type { PartitionPointer } from './commit-metadata.ts';

/** What a checkpoint needs to know of one partition. */
export interface PartitionProgress {
  id: string;
  /** State changed since the last commit. */
  dirty: boolean;
  /** The position moved since the last commit. */
  advanced: boolean;
  /** Next offset to read; undefined until something was read or restored. */
  position: number | undefined;
  /** The committed section holding this partition's state. */
  pointer: PartitionPointer | undefined;
}

export interface CheckpointPlan<P extends PartitionProgress> {
  /** Partitions whose state goes into this checkpoint's snapshot object. */
  snapshot: P[];
  /** Whether anything needs committing at all. */
  empty: boolean;
}

/**
 * Which partitions a checkpoint snapshots. Periodic: those whose state
 * changed, and those that advanced without ever having had a section (a
 * committed offset always needs a pointer). Savepoint: every partition with
 * anything to restore, so the savepoint stands alone.
 */
export function planCheckpoint<P extends PartitionProgress>(
  partitions: readonly P[],
  savepoint: boolean,
): CheckpointPlan<P> {
  const snapshot = partitions.filter((p) =>
    savepoint ? p.pointer || p.position !== undefined || p.dirty : p.dirty || (p.advanced && !p.pointer),
  );
  return { snapshot, empty: !savepoint && snapshot.length === 0 && !partitions.some((p) => p.advanced) };
}

/**
 * The offsets a checkpoint commits, each with the pointer to its state:
 * the new section when one was written, else the one it already has.
 * Periodic checkpoints commit only partitions that moved or got a new
 * section; a savepoint commits every partition with a position.
 */
export function offsetsToCommit<P extends PartitionProgress>(
  partitions: readonly P[],
  newPointers: ReadonlyMap<string, PartitionPointer>,
  savepoint: boolean,
): { partition: P; offset: number; pointer: PartitionPointer }[] {
  const out: { partition: P; offset: number; pointer: PartitionPointer }[] = [];
  for (const p of partitions) {
    const pointer = newPointers.get(p.id) ?? p.pointer;
    if (p.position === undefined || pointer === undefined) continue;
    if (!savepoint && !p.advanced && !newPointers.has(p.id)) continue;
    out.push({ partition: p, offset: p.position, pointer });
  }
  return out;
}
