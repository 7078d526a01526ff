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
  /** With a changelog: entries changed since they were last logged. */
  changed?: boolean;
  /** With a changelog: the state must be in a section of this run before the next commit (restored from a savepoint). */
  snapshotRequired?: boolean;
  /** With a changelog: a section stored in the background since the last commit, to commit now. */
  materialized?: PartitionPointer | undefined;
}

export interface CheckpointPlan<P extends PartitionProgress> {
  /** Partitions whose state goes into this checkpoint's snapshot object. */
  snapshot: P[];
  /** Whether anything needs committing at all. */
  empty: boolean;
}

/**
 * Which partitions a checkpoint snapshots before it commits. Savepoint:
 * every partition with anything to restore, so the savepoint stands alone.
 * Periodic without a changelog: those whose state changed, and those that
 * advanced without ever having had a section (a committed offset always
 * needs a pointer). Periodic with a changelog (`logged`): only a partition
 * with no section yet or one that must have its own; the changes of the
 * others go to the changelog in the transaction, and their sections are
 * materialized in the background.
 */
export function planCheckpoint<P extends PartitionProgress>(
  partitions: readonly P[],
  savepoint: boolean,
  logged = false,
): CheckpointPlan<P> {
  const snapshot = partitions.filter((p) => {
    if (savepoint) return p.pointer || p.position !== undefined || p.dirty;
    if (!logged) return p.dirty || (p.advanced && !p.pointer);
    return p.snapshotRequired || (!p.pointer && (p.dirty || p.advanced));
  });
  const moved = partitions.some((p) => p.advanced || (logged && (p.changed || p.materialized)));
  return { snapshot, empty: !savepoint && snapshot.length === 0 && !moved };
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
