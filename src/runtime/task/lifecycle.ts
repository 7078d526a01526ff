import { RuntimeError } from '../errors.ts';

/**
 * A task's states and the only transitions between them. A checkpoint
 * leaves the task running (a failed one that is still tolerable included);
 * anything that leaves state and offsets out of step fails the task, and the
 * restart restores from the last commit.
 */
export type TaskState =
  | 'created'
  | 'restoring'
  | 'running'
  | 'checkpointing'
  | 'stopping'
  | 'stopped'
  | 'failed';

export const taskTransitions: Readonly<Record<TaskState, readonly TaskState[]>> = {
  created: ['restoring', 'failed'],
  restoring: ['running', 'failed'],
  running: ['checkpointing', 'stopping', 'failed'],
  checkpointing: ['running', 'stopping', 'failed'],
  stopping: ['stopped', 'failed'],
  stopped: [],
  failed: [],
};

export class TaskLifecycle {
  private current: TaskState = 'created';
  private readonly onTransition: (from: TaskState, to: TaskState) => void;

  constructor(onTransition: (from: TaskState, to: TaskState) => void = () => {}) {
    this.onTransition = onTransition;
  }

  get state(): TaskState {
    return this.current;
  }

  to(next: TaskState): void {
    if (!taskTransitions[this.current].includes(next)) {
      throw new RuntimeError(
        'TASK_TRANSITION_INVALID',
        `task cannot go from ${this.current} to ${next}`,
        false,
      );
    }
    const from = this.current;
    this.current = next;
    this.onTransition(from, next);
  }
}
