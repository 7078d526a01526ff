import type { Phase, StreamJobStatus } from '../../api/streamjob.ts';
import type { EventSpec } from './events.ts';

export interface SavepointTarget {
  pod: string;
  podIP: string;
}

export interface TriggerSavepoint {
  kind: 'triggerSavepoint';
  id: string;
  targets: SavepointTarget[];
}

export type SavepointOutcome = { id: string; ok: true } | { id: string; ok: false; message: string };

export type SavepointReason = NonNullable<StreamJobStatus['savepoints']>[number]['reason'];

/**
 * A readable, sortable id: manual-20261122t041500z. Unique per second, and
 * among `taken` (the job's savepoints so far) by a suffix: two savepoints
 * asked for within one second (a nonce, then a StreamJobSnapshot) must not
 * write over each other's objects.
 */
export function savepointIdAt(reason: SavepointReason, now: Date, taken?: ReadonlySet<string>): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, 'z')
    .replace(/[-:]/g, '')
    .toLowerCase();
  const id = `${reason}-${stamp}`;
  if (!taken?.has(id)) return id;
  let n = 2;
  while (taken.has(`${id}-${n}`)) n++;
  return `${id}-${n}`;
}

/** Every savepoint id the job's status knows: completed, being taken, failed last, or waiting for deletion. */
export function savepointIdsOf(status: StreamJobStatus): Set<string> {
  return new Set(
    [
      ...(status.savepoints ?? []).map((s) => s.id),
      ...(status.savepointsToDispose ?? []).map((s) => s.id),
      status.savepointInProgress?.id,
      status.lastSavepointFailure?.id,
      status.upgrade?.savepointId,
    ].filter((id): id is string => id !== undefined),
  );
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
  /** spec.savepoints.interval; undefined: no periodic savepoints. */
  periodicIntervalMs?: number;
  /** When the periodic interval runs from (the newest savepoint, failed savepoint or deployment). */
  periodicSince?: Date;
  /** The StreamJobSnapshot a user created that waits for a savepoint (snapshots.ts requestedSnapshot). */
  requested?: string;
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
): { action?: TriggerSavepoint; events: EventSpec[]; requeueAfterMs?: number } {
  const events: EventSpec[] = [];
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

  if (status.observedSavepointTriggerNonce === input.nonce) {
    if (input.requested !== undefined && input.phase === 'Running' && input.targets.length) {
      return { action: start(status, 'manual', input, events, input.requested), events };
    }
    return decidePeriodic(status, input, events);
  }
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

  status.observedSavepointTriggerNonce = input.nonce;
  return { action: start(status, 'manual', input, events), events };
}

/** A periodic savepoint once the interval has passed since the newest savepoint (of any reason), failure or deployment. */
function decidePeriodic(
  status: StreamJobStatus,
  input: SavepointInput,
  events: EventSpec[],
): { action?: TriggerSavepoint; events: EventSpec[]; requeueAfterMs?: number } {
  if (input.periodicIntervalMs === undefined || input.phase !== 'Running') return { events };
  const due = (input.periodicSince?.getTime() ?? 0) + input.periodicIntervalMs;
  const wait = due - input.now.getTime();
  if (wait > 0) return { events, requeueAfterMs: wait };
  if (input.targets.length === 0) return { events }; // asked again once every task is Ready
  return { action: start(status, 'periodic', input, events), events };
}

function start(
  status: StreamJobStatus,
  reason: 'manual' | 'periodic',
  input: SavepointInput,
  events: EventSpec[],
  snapshot?: string,
): TriggerSavepoint {
  const id = savepointIdAt(reason, input.now, savepointIdsOf(status));
  status.savepointInProgress = {
    id,
    reason,
    startedAt: input.now.toISOString(),
    ...(snapshot !== undefined ? { snapshot } : {}),
  };
  events.push({
    type: 'Normal',
    reason: 'SavepointRequested',
    message: `taking ${reason} savepoint ${id} of ${input.targets.length} TaskManager pod(s)${snapshot !== undefined ? ` for StreamJobSnapshot ${snapshot}` : ''}`,
  });
  return trigger(id, input.targets);
}

/** When the periodic interval runs from: the newest completed or failed savepoint, or the deployment, whichever is latest. */
export function periodicSavepointSince(status: StreamJobStatus): Date | undefined {
  const times = [
    status.savepoints?.at(-1)?.time,
    status.lastSavepointFailure?.time,
    status.deployment?.time,
  ].flatMap((t) => (t ? [new Date(t).getTime()] : []));
  return times.length ? new Date(Math.max(...times)) : undefined;
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

/** Adds a completed savepoint to the history in status (mutated in place); decideSavepointHistory bounds it. */
export function recordSavepoint(
  status: StreamJobStatus,
  savepoint: { id: string; reason: SavepointReason; path: string; now: Date; snapshot?: string },
): EventSpec[] {
  const { id, reason, path, now, snapshot } = savepoint;
  status.savepoints = [
    ...(status.savepoints ?? []),
    { id, path, time: now.toISOString(), reason, ...(snapshot !== undefined ? { snapshot } : {}) },
  ];
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
): EventSpec[] {
  const pending = status.savepointInProgress;
  if (!pending || pending.id !== outcome.id) return [];
  delete status.savepointInProgress;
  const snapshot = pending.snapshot !== undefined ? { snapshot: pending.snapshot } : {};
  if (outcome.ok)
    return recordSavepoint(status, { id: outcome.id, reason: pending.reason, path, now, ...snapshot });
  status.lastSavepointFailure = {
    id: outcome.id,
    time: now.toISOString(),
    message: outcome.message,
    ...snapshot,
  };
  return [
    {
      type: 'Warning',
      reason: 'SavepointFailed',
      message: `savepoint ${outcome.id} failed: ${outcome.message}`,
    },
  ];
}
