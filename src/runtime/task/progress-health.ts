import type { Logger } from 'pino';
import type { NoProgressDocument } from '../../api/control-api.ts';

/**
 * Health by progress: a running task must keep committing, or prove that it
 * has nothing to commit. `committedAsOf` moves with every completed checkpoint
 * and, for an idle task, with every checkpoint due when the broker confirmed
 * that nothing is left to read (StreamTask). A task whose committedAsOf is
 * older than the window is stalled, whatever the cause: a broker it cannot
 * reach, a transaction that never completes, a hung client.
 */

export interface TaskProgress {
  task: number;
  state: string;
  /** Epoch ms; undefined until the task has restored. */
  committedAsOf: number | undefined;
  /** Records known to be waiting in the task's partitions, when known. */
  lag: number | null;
}

export interface StalledTask {
  task: number;
  lag: number | null;
  sinceCommitMs: number;
}

export interface ProgressVerdict {
  live: boolean;
  stalled: StalledTask[];
}

/** States in which a task is expected to make progress; restoring is readiness' concern, stopping has its own timeout. */
const progressing = new Set(['running', 'checkpointing']);

export function progressVerdict(
  tasks: readonly TaskProgress[],
  now: number,
  windowMs: number,
): ProgressVerdict {
  const stalled: StalledTask[] = [];
  for (const t of tasks) {
    if (!progressing.has(t.state) || t.committedAsOf === undefined) continue;
    const sinceCommitMs = now - t.committedAsOf;
    if (sinceCommitMs > windowMs) stalled.push({ task: t.task, lag: t.lag, sinceCommitMs });
  }
  return { live: stalled.length === 0, stalled };
}

/**
 * The liveness endpoint's judge: the verdict over the TaskManager's tasks,
 * logged once when it turns (stalled, with each task's lag and time since its
 * last commit; and again when progress resumes).
 */
export class ProgressHealth {
  private wasLive = true;
  private readonly tasks: readonly { progress(): TaskProgress }[];
  private readonly windowMs: number;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(
    tasks: readonly { progress(): TaskProgress }[],
    windowMs: number,
    log: Logger,
    now: () => number,
  ) {
    this.tasks = tasks;
    this.windowMs = windowMs;
    this.log = log;
    this.now = now;
  }

  check(): NoProgressDocument | undefined {
    const verdict = progressVerdict(
      this.tasks.map((t) => t.progress()),
      this.now(),
      this.windowMs,
    );
    if (verdict.live !== this.wasLive) {
      this.wasLive = verdict.live;
      if (verdict.live) this.log.info('progress: every task commits again');
      else
        this.log.warn(
          { stalled: verdict.stalled, progressWindowMs: this.windowMs },
          'progress: a task has not committed within the progress window; liveness fails',
        );
    }
    if (verdict.live) return undefined;
    const named = verdict.stalled
      .map(
        (s) =>
          `task ${s.task} (lag ${s.lag ?? 'unknown'}, last commit ${Math.round(s.sinceCommitMs / 1000)}s ago)`,
      )
      .join(', ');
    return {
      code: 'NO_PROGRESS',
      message: `no commit within the progress window of ${Math.round(this.windowMs / 1000)}s: ${named}`,
      progressWindowMs: this.windowMs,
      stalled: verdict.stalled,
    };
  }
}
