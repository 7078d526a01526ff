import type { Logger } from 'pino';
import type { NoProgressDocument } from '../../api/control-api.ts';
import { noProgressMessage, type StalledTask, stalledTasks } from '../../api/progress.ts';

/**
 * Health by progress: a running task must keep committing, or prove that it
 * has nothing to commit. `committedAsOf` moves with every completed checkpoint
 * and, for an idle task, with every checkpoint due when the broker confirmed
 * that nothing is left to read (StreamTask). A task whose committedAsOf is
 * older than the window is stalled, whatever the cause: a broker it cannot
 * reach, a transaction that never completes, a hung client.
 */

export interface TaskProgress {
  stage?: number;
  task: number;
  state: string;
  /** Epoch ms; undefined until the task has restored. */
  committedAsOf: number | undefined;
  /** Records known to be waiting in the task's partitions, when known. */
  lag: number | null;
}

export interface ProgressVerdict {
  live: boolean;
  stalled: StalledTask[];
}

export function progressVerdict(
  tasks: readonly TaskProgress[],
  now: number,
  windowMs: number,
): ProgressVerdict {
  const stalled = stalledTasks(
    tasks.map((t) => ({
      ...(t.stage ? { stage: t.stage } : {}),
      task: t.task,
      state: t.state,
      sinceCommitMs: t.committedAsOf === undefined ? undefined : now - t.committedAsOf,
      lag: t.lag,
    })),
    windowMs,
  );
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
    return {
      code: 'NO_PROGRESS',
      message: noProgressMessage(this.windowMs, verdict.stalled),
      progressWindowMs: this.windowMs,
      stalled: verdict.stalled,
    };
  }
}
