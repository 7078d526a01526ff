import type { Phase, StreamJobStatus } from '../../api/streamjob.ts';

export interface SavepointTarget {
  pod: string;
  podIP: string;
}

export interface TriggerSavepoint {
  kind: 'triggerSavepoint';
  id: string;
  targets: SavepointTarget[];
}

export interface SavepointEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export type SavepointOutcome = { id: string; ok: true } | { id: string; ok: false; message: string };

/** Completed savepoints kept in status, newest last. */
export const savepointHistoryLimit = 10;

/** A readable, sortable id that is unique per second: manual-20261122t041500z. */
export function savepointIdAt(reason: 'manual' | 'upgrade' | 'suspend', now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, 'z')
    .replace(/[-:]/g, '')
    .toLowerCase();
  return `${reason}-${stamp}`;
}

export interface SavepointInput {
  nonce: number;
  phase: Phase;
  /** The current run's Ready pods, when every wanted pod is Ready; empty otherwise. */
  targets: SavepointTarget[];
  now: Date;
  /** An unfinished savepoint older than this failed (a TaskManager died mid-way, say). */
  timeoutMs: number;
  /** How the TaskManagers answered a savepoint request, once they all have. */
  outcome?: SavepointOutcome;
  /** Where a savepoint of this job is stored (its s3:// URL). */
  locate: (id: string) => string;
}

/**
 * Savepoint decisions, on a status being decided (mutated in place). A new
 * savepointTriggerNonce starts one when every task is Ready; the intent is
 * in status before any TaskManager is asked, so a restarted operator asks
 * again with the same id. The request runs in the background; its outcome
 * arrives as an observation of a later pass. While the job is starting or
 * restarting the request waits; a suspended or failed job has nothing to
 * savepoint.
 */
export function decideSavepoint(
  status: StreamJobStatus,
  input: SavepointInput,
): { action?: TriggerSavepoint; events: SavepointEvent[] } {
  const events: SavepointEvent[] = [];
  const stopped = input.phase === 'Suspended' || input.phase === 'Failed';
  status.observedSavepointTriggerNonce ??= input.nonce;

  const pending = status.savepointInProgress;
  if (pending && input.outcome?.id === pending.id) {
    return { events: applySavepointOutcome(status, input.outcome, input.locate(pending.id), input.now) };
  }
  if (pending) {
    const age = input.now.getTime() - new Date(pending.startedAt).getTime();
    const failure = stopped
      ? `the job became ${input.phase} before savepoint ${pending.id} completed`
      : age > input.timeoutMs
        ? `savepoint ${pending.id} did not complete within ${Math.round(input.timeoutMs / 1000)}s`
        : undefined;
    if (failure) {
      events.push(
        ...applySavepointOutcome(status, { id: pending.id, ok: false, message: failure }, '', input.now),
      );
      return { events };
    }
    if (input.targets.length) return { action: trigger(pending.id, input.targets), events };
    return { events };
  }

  if (status.observedSavepointTriggerNonce === input.nonce) return { events };
  if (stopped) {
    status.observedSavepointTriggerNonce = input.nonce;
    events.push({
      type: 'Warning',
      reason: 'SavepointSkipped',
      message: `savepointTriggerNonce changed while the job is ${input.phase}: no tasks run, so there is nothing to savepoint`,
    });
    return { events };
  }
  if (input.phase !== 'Running' || input.targets.length === 0) return { events }; // asked again once Running

  const id = savepointIdAt('manual', input.now);
  status.observedSavepointTriggerNonce = input.nonce;
  status.savepointInProgress = { id, reason: 'manual', startedAt: input.now.toISOString() };
  events.push({
    type: 'Normal',
    reason: 'SavepointRequested',
    message: `taking savepoint ${id} of ${input.targets.length} TaskManager pod(s)`,
  });
  return { action: trigger(id, input.targets), events };
}

function trigger(id: string, targets: SavepointTarget[]): TriggerSavepoint {
  return { kind: 'triggerSavepoint', id, targets };
}

/**
 * The savepoint whose TaskManager answers a later pass still needs: a manual
 * one in progress, or the one an upgrade or suspend is stopping the job with.
 */
export function awaitedSavepointId(status: StreamJobStatus): string | undefined {
  if (status.savepointInProgress) return status.savepointInProgress.id;
  return status.upgrade?.step === 'Savepointing' ? status.upgrade.savepointId : undefined;
}

export type SavepointReason = NonNullable<StreamJobStatus['savepoints']>[number]['reason'];

/** Adds a completed savepoint to the bounded history in status (mutated in place). */
export function recordSavepoint(
  status: StreamJobStatus,
  savepoint: { id: string; reason: SavepointReason; path: string; now: Date },
): SavepointEvent[] {
  const { id, reason, path, now } = savepoint;
  status.savepoints = [...(status.savepoints ?? []), { id, path, time: now.toISOString(), reason }].slice(
    -savepointHistoryLimit,
  );
  return [
    {
      type: 'Normal',
      reason: 'SavepointCompleted',
      message: `savepoint ${id} (${reason}) complete: ${path}`,
    },
  ];
}

/**
 * Records how a savepoint ended, on a status (mutated in place). An outcome
 * for another id than the one in progress is stale and changes nothing.
 */
export function applySavepointOutcome(
  status: StreamJobStatus,
  outcome: SavepointOutcome,
  path: string,
  now: Date,
): SavepointEvent[] {
  const pending = status.savepointInProgress;
  if (!pending || pending.id !== outcome.id) return [];
  delete status.savepointInProgress;
  if (outcome.ok) return recordSavepoint(status, { id: outcome.id, reason: pending.reason, path, now });
  status.lastSavepointFailure = { id: outcome.id, time: now.toISOString(), message: outcome.message };
  return [
    {
      type: 'Warning',
      reason: 'SavepointFailed',
      message: `savepoint ${outcome.id} failed: ${outcome.message}`,
    },
  ];
}
