import { checkpointIdOf } from '../../api/names.ts';

/**
 * Which of a task's snapshot objects to delete after a checkpoint commits.
 * `candidates` are the objects the task wrote since it started, never what
 * its prefix held before: after a rescale, task t1 of the new layout has the
 * prefix of t1 of the old one, whose other partitions went to other tasks
 * and may keep pointing at those objects (seen in e2e: SNAPSHOT_MISSING on
 * the next restore). Kept: every object a live pointer references, and every
 * object of the last `retained` checkpoints. Objects with an id above the
 * committed one are kept too: they belong to a checkpoint not committed yet.
 */
export function objectsToDelete(
  candidates: readonly string[],
  referenced: ReadonlySet<string>,
  committedCheckpointId: number,
  retained: number,
): string[] {
  const oldestKept = committedCheckpointId - retained + 1;
  return candidates.filter((key) => {
    if (referenced.has(key)) return false;
    const id = checkpointIdOf(key);
    return id !== undefined && id < oldestKept;
  });
}
