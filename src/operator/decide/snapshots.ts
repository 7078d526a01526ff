import { snapshotNameOf } from '../../api/names.ts';
import {
  type SnapshotState,
  type StreamJobSnapshotStatus,
  snapshotFinalizer,
  snapshotStatusFields,
} from '../../api/snapshot.ts';
import type { Phase, StreamJobStatus } from '../../api/streamjob.ts';
import type { EventSpec } from './events.ts';

/*
 * StreamJobSnapshot resources, kept level-based from the job's status, which
 * stays the record of its savepoints (history, the one in progress, the
 * disposal queue): a snapshot's state is read off that record, never kept
 * apart from it.
 *
 *   (user creates)  Pending ──trigger──▶ InProgress ──ok──▶ Completed
 *                      ▲                     │
 *                      └──failed, retry ◀────┤ failed, backoffLimit spent ──▶ Failed
 *
 *   Weir's own savepoints: a Completed record <job>-<id> is created for each.
 *   Retention drops a Weir record's savepoint: its objects go from S3, then the resource.
 *   A user deletes one: the finalizer holds it while a job refers to it; then its savepoint
 *   leaves the history for the job's disposal queue (disposeOnDelete), and the finalizer goes;
 *   a running TaskManager of the job deletes the objects, now or when the job next runs.
 */

/** A StreamJobSnapshot as decisions see it. */
export interface ObservedSnapshot {
  name: string;
  uid: string;
  resourceVersion?: string;
  generation: number;
  finalizers: readonly string[];
  /** spec.savepointId: the record of an existing savepoint rather than a request for a new one. */
  savepointId?: string;
  disposeOnDelete: boolean;
  backoffLimit: number;
  deleting: boolean;
  createdAt: Date;
  status: StreamJobSnapshotStatus;
}

/** Which object an action or Event is about: enough for a compare-and-swap of its finalizers. */
export type SnapshotRef = Pick<ObservedSnapshot, 'name' | 'uid' | 'resourceVersion' | 'finalizers'>;

export type SnapshotAction =
  | {
      kind: 'createSnapshot';
      name: string;
      jobName: string;
      savepointId: string;
      status: StreamJobSnapshotStatus;
    }
  | { kind: 'patchSnapshotStatus'; snapshot: SnapshotRef; status: StreamJobSnapshotStatus }
  | { kind: 'addSnapshotFinalizer'; snapshot: SnapshotRef }
  | { kind: 'removeSnapshotFinalizer'; snapshot: SnapshotRef }
  | { kind: 'deleteSnapshot'; snapshot: SnapshotRef };

/** An Event recorded on a StreamJobSnapshot (not on its job). */
export interface SnapshotEvent extends EventSpec {
  snapshot: SnapshotRef;
}

type HistoryEntry = NonNullable<StreamJobStatus['savepoints']>[number];

export interface JobIdentity {
  name: string;
  uid: string;
}

/** Whether a snapshot is this job's (not a former job's of the same name). */
export function belongsTo(snapshot: ObservedSnapshot, job: JobIdentity): boolean {
  return snapshot.status.jobUid === undefined || snapshot.status.jobUid === job.uid;
}

/** A user's request (no savepointId) as the job's status stands: its attempts so far and whether it may run again. */
function attempts(snapshot: ObservedSnapshot, status: StreamJobStatus): { failures: number; spent: boolean } {
  const failure = status.lastSavepointFailure;
  const fresh =
    failure?.snapshot === snapshot.name && failure.id !== snapshot.status.lastFailedSavepointId ? 1 : 0;
  const failures = (snapshot.status.failures ?? 0) + fresh;
  return { failures, spent: failures > snapshot.backoffLimit };
}

function historyEntryOf(snapshot: ObservedSnapshot, status: StreamJobStatus): HistoryEntry | undefined {
  const history = status.savepoints ?? [];
  return snapshot.savepointId !== undefined
    ? history.find((e) => e.id === snapshot.savepointId)
    : history.find((e) => e.snapshot === snapshot.name);
}

/**
 * The oldest user request that waits for a savepoint (none of its savepoints
 * in progress, completed or failed for good): the one decideSavepoint takes
 * next.
 */
export function requestedSnapshot(
  status: StreamJobStatus,
  snapshots: readonly ObservedSnapshot[],
): string | undefined {
  const waiting = snapshots.filter(
    (s) =>
      !s.deleting &&
      s.savepointId === undefined &&
      s.status.state !== 'Completed' &&
      s.status.state !== 'Failed' &&
      status.savepointInProgress?.snapshot !== s.name &&
      !historyEntryOf(s, status) &&
      !attempts(s, status).spent,
  );
  return waiting.sort(
    (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.name.localeCompare(b.name),
  )[0]?.name;
}

/** What refers to a savepoint: a sentence per reference, e.g. "StreamJob b names it in spec.initialSnapshot". */
export type ReferencesOf = (snapshot: ObservedSnapshot, entry: HistoryEntry) => string[];

/**
 * The deleted snapshots of a job (status mutated in place): one whose
 * savepoint nothing refers to leaves the history, and its objects are queued
 * for deletion from S3 when it asks for that. Returns why each held one waits.
 */
export function releaseDeletedSnapshots(
  status: StreamJobStatus,
  snapshots: readonly ObservedSnapshot[],
  referencesOf: ReferencesOf,
): Map<string, string> {
  const held = new Map<string, string>();
  for (const snapshot of snapshots) {
    if (!snapshot.deleting) continue;
    if (status.savepointInProgress?.snapshot === snapshot.name) {
      held.set(snapshot.name, 'deletion waits for its savepoint to finish');
      continue;
    }
    const entry = historyEntryOf(snapshot, status);
    if (!entry) continue;
    const references = referencesOf(snapshot, entry);
    if (references.length) {
      held.set(snapshot.name, `deletion waits: ${references.join('; ')}`);
      continue;
    }
    status.savepoints = (status.savepoints ?? []).filter((e) => e !== entry);
    if (snapshot.disposeOnDelete) {
      const queue = status.savepointsToDispose ?? [];
      if (!queue.some((q) => q.id === entry.id))
        status.savepointsToDispose = [...queue, { id: entry.id, path: entry.path }];
    }
  }
  return held;
}

/** The ids of savepoints users asked for with a snapshot that still exists: the history limits never drop them. */
export function userSnapshotSavepoints(
  status: StreamJobStatus,
  snapshots: readonly ObservedSnapshot[],
): Set<string> {
  const live = new Set(
    snapshots.filter((s) => !s.deleting && s.savepointId === undefined).map((s) => s.name),
  );
  return new Set(
    (status.savepoints ?? [])
      .filter((e) => e.snapshot !== undefined && live.has(e.snapshot))
      .map((e) => e.id),
  );
}

export interface SnapshotInput {
  job: JobIdentity;
  phase: Phase;
  /** This job's snapshots (belongsTo). */
  snapshots: readonly ObservedSnapshot[];
  /** Every snapshot name of the job's name, a former job's too: a record is never created over one. */
  takenNames: ReadonlySet<string>;
  /** Why a deleted snapshot still waits (releaseDeletedSnapshots). */
  held: ReadonlyMap<string, string>;
}

export interface SnapshotDecision {
  actions: SnapshotAction[];
  events: SnapshotEvent[];
}

/**
 * Brings a job's snapshots in line with its status, after this pass's
 * savepoint and history decisions: creates the records of Weir's own
 * savepoints, writes each snapshot's state, deletes the records whose
 * savepoints the history limits dropped (once their objects are gone from
 * S3), and lets go of deleted ones once nothing is left to do for them.
 */
export function decideSnapshots(status: StreamJobStatus, input: SnapshotInput): SnapshotDecision {
  const actions: SnapshotAction[] = missingRecords(status, input.job, input.takenNames);
  const events: SnapshotEvent[] = [];
  const queued = new Set((status.savepointsToDispose ?? []).map((q) => q.id));
  for (const snapshot of input.snapshots) {
    const next = desiredStatus(snapshot, status, input, queued);
    const ref = refOf(snapshot);
    if (next === 'disposed') {
      if (!snapshot.deleting) actions.push({ kind: 'deleteSnapshot', snapshot: ref });
    } else if (!sameStatus(snapshot.status, next)) {
      actions.push({ kind: 'patchSnapshotStatus', snapshot: ref, status: next });
      const event = transitionEvent(snapshot, next, input.job.name);
      if (event) events.push({ ...event, snapshot: ref });
    }
    const hasFinalizer = snapshot.finalizers.includes(snapshotFinalizer);
    if (snapshot.deleting && hasFinalizer && releasable(snapshot, status)) {
      actions.push({ kind: 'removeSnapshotFinalizer', snapshot: ref });
    } else if (!snapshot.deleting && !hasFinalizer) {
      actions.push({ kind: 'addSnapshotFinalizer', snapshot: ref });
    }
  }
  return { actions, events };
}

/**
 * The records of Weir's own savepoints in the history that have none yet:
 * Completed StreamJobSnapshots named <job>-<id>. Also made for a deleted
 * job's final savepoint, before the job goes.
 */
export function missingRecords(
  status: StreamJobStatus,
  job: JobIdentity,
  takenNames: ReadonlySet<string>,
): SnapshotAction[] {
  const actions: SnapshotAction[] = [];
  for (const entry of status.savepoints ?? []) {
    const name = snapshotNameOf(job.name, entry.id);
    if (entry.snapshot !== undefined || takenNames.has(name)) continue;
    actions.push({
      kind: 'createSnapshot',
      name,
      jobName: job.name,
      savepointId: entry.id,
      status: { ...completed(entry), jobUid: job.uid, observedGeneration: 1 },
    });
  }
  return actions;
}

/**
 * A deleted snapshot is let go once its savepoint is out of the history and
 * not being taken. Its objects may still wait in the job's disposal queue
 * (status.savepointsToDispose) for a running TaskManager: the job deletes them
 * when it next runs, and the resource's deletion does not wait for that.
 */
function releasable(snapshot: ObservedSnapshot, status: StreamJobStatus): boolean {
  if (status.savepointInProgress?.snapshot === snapshot.name) return false;
  return !historyEntryOf(snapshot, status);
}

function completed(entry: HistoryEntry): StreamJobSnapshotStatus {
  return {
    state: 'Completed',
    savepointId: entry.id,
    path: entry.path,
    reason: entry.reason,
    completionTime: entry.time,
  };
}

function desiredStatus(
  snapshot: ObservedSnapshot,
  status: StreamJobStatus,
  input: SnapshotInput,
  queued: ReadonlySet<string>,
): StreamJobSnapshotStatus | 'disposed' {
  const base = { jobUid: input.job.uid, observedGeneration: snapshot.generation };
  const held = input.held.get(snapshot.name);
  const note = held ? { message: held } : {};
  const entry = historyEntryOf(snapshot, status);
  const previous = snapshot.status;
  const attemptsSoFar = pick(previous, ['triggerTime', 'failures', 'lastFailedSavepointId', 'error']);
  if (entry) return { ...attemptsSoFar, ...completed(entry), ...base, ...note };

  const id = snapshot.savepointId ?? previous.savepointId;
  if (id !== undefined && queued.has(id)) {
    const waiting =
      input.phase === 'Running'
        ? 'its objects are being deleted from S3'
        : `its objects are deleted from S3 by a running TaskManager of ${input.job.name}, once one runs (the job is ${input.phase})`;
    return { ...previous, ...base, message: waiting };
  }
  if (previous.state === 'Completed') return snapshot.deleting ? { ...previous, ...base } : 'disposed';
  if (snapshot.savepointId !== undefined) {
    return failed(
      base,
      `StreamJob ${input.job.name} has no savepoint ${snapshot.savepointId} in status.savepoints`,
    );
  }
  const progress = status.savepointInProgress;
  if (progress?.snapshot === snapshot.name) {
    return {
      ...attemptsSoFar,
      state: 'InProgress',
      savepointId: progress.id,
      reason: progress.reason,
      triggerTime: progress.startedAt,
      ...base,
    };
  }
  if (previous.state === 'Failed') return { ...previous, ...base };
  const tried = attempts(snapshot, status);
  const failure = status.lastSavepointFailure;
  const lastAttempt =
    failure?.snapshot === snapshot.name
      ? { failures: tried.failures, lastFailedSavepointId: failure.id, error: failure.message }
      : pick(previous, ['failures', 'lastFailedSavepointId', 'error']);
  if (tried.spent) {
    return { ...attemptsSoFar, ...lastAttempt, state: 'Failed', ...base };
  }
  if (snapshot.deleting)
    return { ...attemptsSoFar, ...lastAttempt, state: previous.state ?? 'Pending', ...base };
  if (input.phase === 'Suspended' || input.phase === 'Failed') {
    return failed(
      { ...base, ...attemptsSoFar, ...lastAttempt },
      `StreamJob ${input.job.name} is ${input.phase}: no task runs to take a savepoint of`,
    );
  }
  const message =
    input.phase === 'Running'
      ? `waiting for every task of ${input.job.name} to be Ready and for the savepoint before it to finish`
      : `waiting for StreamJob ${input.job.name} to be Running (it is ${input.phase})`;
  return { ...attemptsSoFar, ...lastAttempt, state: 'Pending', ...base, message };
}

function failed(base: StreamJobSnapshotStatus, error: string): StreamJobSnapshotStatus {
  return { ...base, state: 'Failed', error };
}

function pick<K extends keyof StreamJobSnapshotStatus>(
  status: StreamJobSnapshotStatus,
  keys: readonly K[],
): Pick<StreamJobSnapshotStatus, K> {
  const out: Pick<StreamJobSnapshotStatus, K> = {} as Pick<StreamJobSnapshotStatus, K>;
  for (const key of keys) if (status[key] !== undefined) out[key] = status[key];
  return out;
}

function sameStatus(a: StreamJobSnapshotStatus, b: StreamJobSnapshotStatus): boolean {
  return snapshotStatusFields.every((k) => a[k] === b[k]);
}

function refOf(snapshot: ObservedSnapshot): SnapshotRef {
  return {
    name: snapshot.name,
    uid: snapshot.uid,
    finalizers: snapshot.finalizers,
    ...(snapshot.resourceVersion ? { resourceVersion: snapshot.resourceVersion } : {}),
  };
}

/** One Event per change of state, on the snapshot itself. */
function transitionEvent(
  snapshot: ObservedSnapshot,
  next: StreamJobSnapshotStatus,
  job: string,
): EventSpec | undefined {
  const before: SnapshotState | undefined = snapshot.status.state;
  if (before === next.state && (next.failures ?? 0) === (snapshot.status.failures ?? 0)) return undefined;
  switch (next.state) {
    case 'InProgress':
      return {
        type: 'Normal',
        reason: 'SnapshotInProgress',
        message: `taking savepoint ${next.savepointId} of StreamJob ${job}`,
      };
    case 'Completed':
      return { type: 'Normal', reason: 'SnapshotCompleted', message: `savepoint complete: ${next.path}` };
    case 'Failed':
      return { type: 'Warning', reason: 'SnapshotFailed', message: next.error ?? 'failed' };
    case 'Pending':
      return next.failures
        ? {
            type: 'Warning',
            reason: 'SnapshotRetrying',
            message: `savepoint ${next.lastFailedSavepointId} failed (${next.failures} of ${snapshot.backoffLimit + 1} attempts): ${next.error}; trying again`,
          }
        : undefined;
    default:
      return undefined;
  }
}

/**
 * The snapshots of a job name that no live job manages (the job does not
 * exist, or they belong to a former job of that name): a request that never
 * started fails, naming why; a deleted one is let go, its objects left in S3
 * (only a TaskManager of its job holds the credentials to delete them).
 */
export function decideOrphanSnapshots(snapshots: readonly ObservedSnapshot[], why: string): SnapshotDecision {
  const actions: SnapshotAction[] = [];
  const events: SnapshotEvent[] = [];
  for (const snapshot of snapshots) {
    const ref = refOf(snapshot);
    if (snapshot.deleting) {
      if (!snapshot.finalizers.includes(snapshotFinalizer)) continue;
      actions.push({ kind: 'removeSnapshotFinalizer', snapshot: ref });
      if (snapshot.disposeOnDelete && snapshot.status.path) {
        events.push({
          type: 'Warning',
          reason: 'SnapshotObjectsKept',
          message: `${why}: its savepoint's objects stay at ${snapshot.status.path} (only a TaskManager of its job holds the credentials to delete them)`,
          snapshot: ref,
        });
      }
      continue;
    }
    const state = snapshot.status.state;
    if (state === 'Completed' || state === 'Failed') continue;
    const next = failed({ ...snapshot.status, observedGeneration: snapshot.generation }, why);
    actions.push({ kind: 'patchSnapshotStatus', snapshot: ref, status: next });
    events.push({ type: 'Warning', reason: 'SnapshotFailed', message: why, snapshot: ref });
  }
  return { actions, events };
}
