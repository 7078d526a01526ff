import { snapshotNameOf } from '../../api/names.ts';
import type { Phase, StreamJob, StreamJobStatus } from '../../api/streamjob.ts';
import { initialSavepointOf } from './initial-snapshot.ts';
import type { Observation } from './observation.ts';
import { savepointsInUse } from './savepoint-history.ts';
import {
  belongsTo,
  decideOrphanSnapshots,
  decideSnapshots,
  type JobIdentity,
  type ObservedSnapshot,
  releaseDeletedSnapshots,
  requestedSnapshot,
  type SnapshotDecision,
  userSnapshotSavepoints,
} from './snapshots.ts';

export type { SnapshotAction, SnapshotEvent } from './snapshots.ts';

/** A savepoint path as references compare it: without its trailing slash. */
export function comparablePath(path: string): string {
  return path.replace(/\/+$/, '');
}

/**
 * The snapshot steps of one decide pass, in the order they must run around
 * the savepoint and history decisions, over the status being decided:
 * `requested` before the savepoint decision; `release()` before the history
 * limits (it returns the savepoints those must keep); `reconcile()` last.
 */
export function decideJobSnapshots(job: StreamJob, status: StreamJobStatus, observation: Observation) {
  const identity: JobIdentity = { name: job.metadata.name ?? '', uid: job.metadata.uid ?? '' };
  const all: readonly ObservedSnapshot[] = observation.snapshots ?? [];
  const own = all.filter((s) => belongsTo(s, identity));
  const references = observation.snapshotReferences ?? new Map<string, readonly string[]>();
  const referencedBy = (snapshotName: string, path: string): string[] => [
    ...new Set([...(references.get(snapshotName) ?? []), ...(references.get(comparablePath(path)) ?? [])]),
  ];
  let held = new Map<string, string>();

  return {
    requested: requestedSnapshot(status, own),

    /** Deleted snapshots leave the history when nothing refers to them; returns the ids the history must keep. */
    release(): Set<string> {
      const inUse = savepointsInUse(status, initialSavepointOf(job, observation.initialSnapshot));
      held = releaseDeletedSnapshots(status, own, (snapshot, entry) => [
        ...(inUse.has(entry.id) ? [`StreamJob ${identity.name} restores from it`] : []),
        ...referencedBy(snapshot.name, entry.path).map(
          (name) => `StreamJob ${name} names it in spec.initialSnapshot or spec.initialSavepoint`,
        ),
      ]);
      const referenced = (status.savepoints ?? [])
        .filter((e) => referencedBy(e.snapshot ?? snapshotNameOf(identity.name, e.id), e.path).length)
        .map((e) => e.id);
      return new Set([...userSnapshotSavepoints(status, own), ...referenced]);
    },

    reconcile(phase: Phase): SnapshotDecision {
      const mine = decideSnapshots(status, {
        job: identity,
        phase,
        snapshots: own,
        takenNames: new Set(all.map((s) => s.name)),
        held,
      });
      const former = decideOrphanSnapshots(
        all.filter((s) => !belongsTo(s, identity)),
        `it belongs to an earlier StreamJob ${identity.name}, deleted since`,
      );
      return { actions: [...mine.actions, ...former.actions], events: [...mine.events, ...former.events] };
    },
  };
}
