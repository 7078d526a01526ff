import { checkpointIdOf } from './paths.ts';

/**
 * Which of a task's snapshot objects to delete after a checkpoint commits.
 * Kept: every object a live pointer references, and every object of the last
 * `retained` checkpoints. Objects with an id above the committed one are kept
 * too: they can only come from a newer attempt of the task (which restored
 * from this commit), and are not ours to judge.
 */
export function objectsToDelete(
  listed: readonly string[],
  referenced: ReadonlySet<string>,
  committedCheckpointId: number,
  retained: number,
): string[] {
  const oldestKept = committedCheckpointId - retained + 1;
  return listed.filter((key) => {
    if (referenced.has(key)) return false;
    const id = checkpointIdOf(key);
    return id !== undefined && id < oldestKept;
  });
}
