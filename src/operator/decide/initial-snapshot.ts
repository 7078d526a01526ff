import type { StreamJob, StreamJobStatus } from '../../api/streamjob.ts';
import { setCondition } from './conditions.ts';
import type { EventSpec } from './events.ts';
import type { JobIdentity, ObservedSnapshot } from './snapshots.ts';

/** spec.initialSnapshot as the controller found it: the savepoint to start from, or why there is none yet. */
export type InitialSnapshot = { ref: string } | { wait: string };

/**
 * The savepoint a StreamJobSnapshot named in spec.initialSnapshot stands
 * for: its id when it is this job's own, its s3:// path otherwise (the form
 * spec.initialSavepoint takes for another job's savepoint). Only a Completed
 * snapshot has one.
 */
export function resolveInitialSnapshot(
  name: string,
  snapshot: (ObservedSnapshot & { jobName: string }) | undefined,
  job: JobIdentity,
): InitialSnapshot {
  if (!snapshot)
    return { wait: `StreamJobSnapshot ${name} (spec.initialSnapshot) does not exist in this namespace` };
  if (snapshot.deleting) return { wait: `StreamJobSnapshot ${name} (spec.initialSnapshot) is being deleted` };
  const { state, savepointId, path } = snapshot.status;
  if (state !== 'Completed' || savepointId === undefined || path === undefined) {
    return {
      wait: `StreamJobSnapshot ${name} (spec.initialSnapshot) is ${state ?? 'Pending'}${snapshot.status.error ? ` (${snapshot.status.error})` : ''}; the job starts from it once it is Completed`,
    };
  }
  const own = snapshot.jobName === job.name && snapshot.status.jobUid === job.uid;
  return { ref: own ? savepointId : path };
}

/** The savepoint a new run starts from: spec.initialSavepoint, or spec.initialSnapshot once it resolves. */
export function initialSavepointOf(
  job: StreamJob,
  initialSnapshot: InitialSnapshot | undefined,
): string | undefined {
  if (job.spec.initialSnapshot === undefined) return job.spec.initialSavepoint;
  return initialSnapshot && 'ref' in initialSnapshot ? initialSnapshot.ref : undefined;
}

/**
 * A job that has never run and names a snapshot that is not Completed
 * waits with no pods (starting empty would lose the state the user asked
 * for): the Ready condition says what it waits for, and an Event says it
 * once per reason.
 */
export function waitForInitialSnapshot(
  job: StreamJob,
  initialSnapshot: InitialSnapshot | undefined,
  now: Date,
): { status: StreamJobStatus; events: EventSpec[] } | undefined {
  if (job.spec.initialSnapshot === undefined || job.status?.run) return undefined;
  if (initialSnapshot && 'ref' in initialSnapshot) return undefined;
  const message =
    initialSnapshot?.wait ??
    `StreamJobSnapshot ${job.spec.initialSnapshot} (spec.initialSnapshot) does not exist in this namespace`;
  const status = structuredClone(job.status ?? {});
  const generation = job.metadata.generation ?? 0;
  const before = status.conditions?.find((c) => c.type === 'Ready');
  status.phase = 'Deploying';
  status.observedGeneration = generation;
  status.conditions = setCondition(
    status.conditions ?? [],
    { type: 'Ready', status: 'False', reason: 'InitialSnapshotNotReady', message },
    generation,
    now,
  );
  const events: EventSpec[] =
    before?.message === message ? [] : [{ type: 'Warning', reason: 'InitialSnapshotNotReady', message }];
  return { status, events };
}
