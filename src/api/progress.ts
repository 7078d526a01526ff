/**
 * Health by progress, judged the same way by a TaskManager (its liveness
 * endpoint) and by the operator (from the TaskManager's status reports): a
 * task expected to make progress that has not committed for longer than the
 * job's progress window is stalled. "Committed" includes an idle task that
 * proved to the partition leaders that nothing arrived, so an idle task is
 * never stalled and a task cut off from Kafka always is.
 */

/** One task's progress as seen at one moment. */
export interface TaskProgressSample {
  /** The pipeline stage; absent for the first. */
  stage?: number | undefined;
  task: number;
  state: string;
  /** How long ago the task last committed; undefined before its restore finished. */
  sinceCommitMs?: number | undefined;
  /** Records known to be waiting in the task's partitions; null when not known. */
  lag: number | null;
}

export interface StalledTask {
  stage?: number | undefined;
  task: number;
  lag: number | null;
  sinceCommitMs: number;
}

/** States in which a task is expected to make progress; restoring is readiness' concern, stopping has its own timeout. */
const progressing = new Set(['running', 'checkpointing']);

/** How long ago a task expected to make progress last committed; undefined for any other task. */
function commitAge(s: TaskProgressSample): number | undefined {
  return progressing.has(s.state) ? s.sinceCommitMs : undefined;
}

export function stalledTasks(samples: readonly TaskProgressSample[], windowMs: number): StalledTask[] {
  const stalled: StalledTask[] = [];
  for (const s of samples) {
    const sinceCommitMs = commitAge(s);
    if (sinceCommitMs !== undefined && sinceCommitMs > windowMs)
      stalled.push({ ...(s.stage ? { stage: s.stage } : {}), task: s.task, lag: s.lag, sinceCommitMs });
  }
  return stalled;
}

/** "no commit within the progress window of 6s: task 0 (lag 120, last commit 7s ago)": the same words from both sides. */
export function noProgressMessage(windowMs: number, stalled: readonly StalledTask[]): string {
  const named = stalled
    .map(
      (s) =>
        `task ${s.stage ? `s${s.stage}-t${s.task}` : s.task} (lag ${s.lag ?? 'unknown'}, last commit ${Math.round(s.sinceCommitMs / 1000)}s ago)`,
    )
    .join(', ');
  return `no commit within the progress window of ${Math.round(windowMs / 1000)}s: ${named}`;
}

/**
 * A commit is overdue when a progressing task has not committed for two
 * checkpoint intervals: not yet a failure, but the operator then watches the
 * job closely until it commits again or the window runs out.
 */
export function commitOverdue(samples: readonly TaskProgressSample[], intervalMs: number): boolean {
  return samples.some((s) => (commitAge(s) ?? 0) > 2 * intervalMs);
}
