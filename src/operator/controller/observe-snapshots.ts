import type { StreamJobSnapshot } from '../../api/snapshot.ts';
import type { StreamJob } from '../../api/streamjob.ts';
import { type InitialSnapshot, resolveInitialSnapshot } from '../decide/initial-snapshot.ts';
import { comparablePath } from '../decide/snapshot-pass.ts';
import type { ObservedSnapshot } from '../decide/snapshots.ts';
import type { ObjectCache } from '../kube/informer-set.ts';

/** A StreamJobSnapshot as decisions see it (decide/snapshots.ts). */
export function observeSnapshot(snapshot: StreamJobSnapshot): ObservedSnapshot & { jobName: string } {
  const { metadata, spec } = snapshot;
  return {
    name: metadata.name ?? '',
    uid: metadata.uid ?? '',
    ...(metadata.resourceVersion ? { resourceVersion: metadata.resourceVersion } : {}),
    generation: metadata.generation ?? 1,
    finalizers: metadata.finalizers ?? [],
    ...(spec.savepointId !== undefined ? { savepointId: spec.savepointId } : {}),
    disposeOnDelete: spec.disposeOnDelete ?? true,
    backoffLimit: spec.backoffLimit ?? 1,
    deleting: Boolean(metadata.deletionTimestamp),
    createdAt: new Date(metadata.creationTimestamp ?? 0),
    status: snapshot.status ?? {},
    jobName: spec.jobName,
  };
}

/** The snapshots of a job's name (its own, and a former job's of that name). */
export function snapshotsOfJob(key: string, snapshots: ObjectCache<StreamJobSnapshot>): ObservedSnapshot[] {
  return snapshots.indexed(key).map(observeSnapshot);
}

/**
 * Who in the job's namespace refers to a snapshot or a savepoint: snapshot
 * names (spec.initialSnapshot) and savepoint paths (spec.initialSavepoint's
 * URL form), each with the names of the StreamJobs that hold it.
 */
export function snapshotReferences(job: StreamJob, jobs: ObjectCache<StreamJob>): Map<string, string[]> {
  const namespace = job.metadata.namespace;
  const references = new Map<string, string[]>();
  const add = (key: string, name: string) => references.set(key, [...(references.get(key) ?? []), name]);
  for (const other of jobs.list()) {
    if (other.metadata.namespace !== namespace || other.metadata.deletionTimestamp) continue;
    const name = other.metadata.name ?? '';
    if (other.spec.initialSnapshot) add(other.spec.initialSnapshot, name);
    if (other.spec.initialSavepoint?.startsWith('s3://'))
      add(comparablePath(other.spec.initialSavepoint), name);
  }
  return references;
}

/** spec.initialSnapshot as the cache has it, when the job sets it. */
export function observeInitialSnapshot(
  job: StreamJob,
  snapshots: ObjectCache<StreamJobSnapshot>,
): InitialSnapshot | undefined {
  const name = job.spec.initialSnapshot;
  if (name === undefined) return undefined;
  const found = snapshots.get(`${job.metadata.namespace ?? ''}/${name}`);
  return resolveInitialSnapshot(name, found ? observeSnapshot(found) : undefined, {
    name: job.metadata.name ?? '',
    uid: job.metadata.uid ?? '',
  });
}
