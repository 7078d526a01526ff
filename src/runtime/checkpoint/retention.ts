import { checkpointIdOf } from './paths.ts';

/**
 * Which of a task's snapshot objects to delete after a checkpoint commits.
 * Only objects this task wrote since it started (`written`) are candidates.
 * An object found under the task's prefix from before that may be what a
 * partition now owned by another task points at: after a rescale, task t1
 * of the new layout has the prefix of t1 of the old one, whose other
 * partitions went to other tasks and are restored from, and may keep
 * pointing at, those objects (seen in e2e: SNAPSHOT_MISSING on the next
 * restore). Of the candidates, kept: every object a live pointer
 * references, and every object of the last `retained` checkpoints.
 */
export function objectsToDelete(
  listed: readonly string[],
  referenced: ReadonlySet<string>,
  committedCheckpointId: number,
  retained: number,
  written: ReadonlySet<string>,
): string[] {
  const oldestKept = committedCheckpointId - retained + 1;
  return listed.filter((key) => {
    if (!written.has(key) || referenced.has(key)) return false;
    const id = checkpointIdOf(key);
    return id !== undefined && id < oldestKept;
  });
}
