import type { StreamJobStatus } from '../../api/streamjob.ts';
import { disposalQueueLimit } from '../../api/streamjob-schema.ts';
import type { EventSpec } from './events.ts';
import type { SavepointTarget } from './savepoint.ts';

type HistoryEntry = NonNullable<StreamJobStatus['savepoints']>[number];
type DisposalEntry = NonNullable<StreamJobStatus['savepointsToDispose']>[number];

/** Asks one TaskManager of the job to delete savepoints dropped from the history from S3. */
export interface DisposeSavepoints {
  kind: 'disposeSavepoints';
  ids: string[];
  target: SavepointTarget;
}

/** How a disposal request ended: the ids whose objects are gone, and why the others are not. */
export interface DisposalOutcome {
  disposed: string[];
  failure?: string;
}

export interface RetentionPolicy {
  maxCount: number;
  maxAgeMs: number | undefined;
  now: Date;
  /** Savepoints something may still restore from: never dropped. */
  protectedIds: ReadonlySet<string>;
}

/**
 * Which savepoints the history keeps (newest last) and which it drops. Kept:
 * of the newest maxCount, those younger than maxAge and always the newest;
 * and every protected one, however old. So the history holds at most
 * maxCount plus the protected ones.
 */
export function retainSavepoints(
  history: readonly HistoryEntry[],
  policy: RetentionPolicy,
): { kept: HistoryEntry[]; dropped: HistoryEntry[] } {
  const newest = history.at(-1);
  const recent = new Set(history.slice(-policy.maxCount));
  const young = (s: HistoryEntry) =>
    policy.maxAgeMs === undefined || policy.now.getTime() - new Date(s.time).getTime() <= policy.maxAgeMs;
  const keep = (s: HistoryEntry) =>
    s === newest || policy.protectedIds.has(s.id) || (recent.has(s) && young(s));
  return { kept: history.filter(keep), dropped: history.filter((s) => !keep(s)) };
}

export interface HistoryInput extends RetentionPolicy {
  /** A Ready TaskManager of the current run, which holds the storage credentials; undefined while none runs. */
  disposer: SavepointTarget | undefined;
  /** How the last disposal request ended, once it has. */
  outcome: DisposalOutcome | undefined;
  /** A failed disposal is tried again after this long. */
  retryAfterMs: number;
}

/**
 * The savepoint history decision, on a status being decided (mutated in
 * place): drop what the policy no longer keeps, queue it for deletion in
 * status (so an operator restart still deletes it), and ask a running
 * TaskManager to delete what is queued. Deleting is idempotent, so asking
 * again after a lost answer does no harm.
 */
export function decideSavepointHistory(
  status: StreamJobStatus,
  input: HistoryInput,
): { action?: DisposeSavepoints; events: EventSpec[]; requeueAfterMs?: number } {
  const events: EventSpec[] = [];
  let queue: DisposalEntry[] = status.savepointsToDispose ?? [];

  if (input.outcome) {
    const disposed = new Set(input.outcome.disposed);
    const gone = queue.filter((s) => disposed.has(s.id));
    queue = queue.filter((s) => !disposed.has(s.id));
    if (gone.length) {
      events.push({
        type: 'Normal',
        reason: 'SavepointDisposed',
        message: `deleted savepoint(s) dropped from the history: ${gone.map((s) => s.path).join(', ')}`,
      });
    }
    if (input.outcome.failure) {
      status.lastSavepointDisposalFailure = { time: input.now.toISOString(), message: input.outcome.failure };
      events.push({
        type: 'Warning',
        reason: 'SavepointDisposalFailed',
        message: `could not delete dropped savepoint(s), tried again in ${Math.round(input.retryAfterMs / 1000)}s: ${input.outcome.failure}`,
      });
    }
  }

  const { kept, dropped } = retainSavepoints(status.savepoints ?? [], input);
  if (status.savepoints) status.savepoints = kept;
  const queued = new Set(queue.map((s) => s.id));
  queue = [...queue, ...dropped.filter((s) => !queued.has(s.id)).map(({ id, path }) => ({ id, path }))];
  const overflow = queue.slice(0, Math.max(0, queue.length - disposalQueueLimit));
  if (overflow.length) {
    queue = queue.slice(overflow.length);
    events.push({
      type: 'Warning',
      reason: 'SavepointNotDisposed',
      message: `more than ${disposalQueueLimit} dropped savepoints wait for a running TaskManager to delete them; left in S3: ${overflow.map((s) => s.path).join(', ')}`,
    });
  }
  if (queue.length) status.savepointsToDispose = queue;
  else delete status.savepointsToDispose;

  if (!queue.length || !input.disposer) return { events };
  const failedAt = status.lastSavepointDisposalFailure
    ? new Date(status.lastSavepointDisposalFailure.time).getTime()
    : undefined;
  const wait = failedAt === undefined ? 0 : failedAt + input.retryAfterMs - input.now.getTime();
  if (wait > 0) return { events, requeueAfterMs: wait };
  return {
    action: { kind: 'disposeSavepoints', ids: queue.map((s) => s.id), target: input.disposer },
    events,
  };
}

/** The savepoints a restore may still need: the upgrade's, the current run's, and spec.initialSavepoint. */
export function savepointsInUse(status: StreamJobStatus, initialSavepoint: string | undefined): Set<string> {
  return new Set(
    [status.upgrade?.savepointId, status.run?.restoredFrom, initialSavepoint].filter(
      (id): id is string => id !== undefined,
    ),
  );
}
