import type { StreamJob } from '../../api/streamjob.ts';
import type { SavepointOutcome } from '../decide/savepoint.ts';
import type { DisposalOutcome } from '../decide/savepoint-history.ts';

/** A pod that could not be created, and why. */
export interface PodRejection {
  pod: string;
  message: string;
}

/** A job as far as its outcomes go: its uid keys them, its name and namespace wake it. */
export type JobRef = Pick<StreamJob, 'metadata'>;

/** What the outcomes of a job's earlier actions add to the next pass's observation. */
export interface ObservedOutcomes {
  savepointOutcome?: SavepointOutcome;
  disposalOutcome?: DisposalOutcome;
  podRejections?: readonly PodRejection[];
}

/**
 * The outcomes of actions that end after the pass that asked for them: a
 * savepoint requested of the TaskManagers, a disposal of dropped savepoints,
 * a pod the API server refused. The actuator writes them as they end; the
 * observer reads them into the next pass's Observation, like any other
 * observed fact. Kept in memory: a savepoint asked for again after an
 * operator restart is asked of the TaskManagers, which answer once per id.
 */
export class ActionOutcomes {
  /** Per job (by uid): the savepoint requested in the background, and its outcome once every TaskManager answered. */
  private readonly savepoints = new Map<string, { id: string; outcome?: SavepointOutcome }>();
  /** Per job (by uid): a request to delete dropped savepoints, and its outcome until a pass takes it. */
  private readonly disposals = new Map<string, { outcome?: DisposalOutcome }>();
  /** Per job (by uid) and pod name: why the pod could not be created. Cleared when it is. */
  private readonly rejected = new Map<string, Map<string, string>>();
  /** Brings a job back to the queue when an outcome arrives. */
  private readonly wake: (job: JobRef) => void;

  constructor(wake: (job: JobRef) => void) {
    this.wake = wake;
  }

  /**
   * Runs `request` unless savepoint `id` was asked for already (answered or
   * still running); its outcome is kept for the next pass.
   */
  requestSavepoint(job: JobRef, id: string, request: () => Promise<SavepointOutcome>): void {
    const uid = job.metadata.uid ?? '';
    if (this.savepoints.get(uid)?.id === id) return;
    const entry: { id: string; outcome?: SavepointOutcome } = { id };
    this.savepoints.set(uid, entry);
    void request().then((outcome) => {
      if (this.savepoints.get(uid) !== entry) return; // the job was deleted meanwhile
      entry.outcome = outcome;
      this.wake(job);
    });
  }

  /** Runs `request` unless a disposal is in flight or its outcome is not yet observed: one at a time per job. */
  requestDisposal(job: JobRef, request: () => Promise<DisposalOutcome>): void {
    const uid = job.metadata.uid ?? '';
    if (this.disposals.has(uid)) return;
    const entry: { outcome?: DisposalOutcome } = {};
    this.disposals.set(uid, entry);
    void request().then((outcome) => {
      if (this.disposals.get(uid) !== entry) return;
      entry.outcome = outcome;
      this.wake(job);
    });
  }

  podRejected(uid: string, pod: string, message: string): void {
    const rejections = this.rejected.get(uid) ?? new Map<string, string>();
    rejections.set(pod, message);
    this.rejected.set(uid, rejections);
  }

  podCreated(uid: string, pod: string): void {
    this.rejected.get(uid)?.delete(pod);
  }

  /**
   * What the job's earlier actions came to, for its next pass. A disposal's
   * outcome is handed to one pass only: deleting is idempotent, so an outcome
   * lost with a failed status write costs a second request, nothing more.
   */
  observe(uid: string): ObservedOutcomes {
    const savepointOutcome = this.savepoints.get(uid)?.outcome;
    const disposal = this.disposals.get(uid);
    const disposalOutcome = disposal?.outcome;
    if (disposalOutcome) this.disposals.delete(uid);
    const podRejections = this.podRejections(uid);
    return {
      ...(savepointOutcome ? { savepointOutcome } : {}),
      ...(disposalOutcome ? { disposalOutcome } : {}),
      ...(podRejections.length ? { podRejections } : {}),
    };
  }

  /** The job's pods refused at their last creation. */
  podRejections(uid: string): PodRejection[] {
    return [...(this.rejected.get(uid) ?? [])].map(([pod, message]) => ({ pod, message }));
  }

  /** Drops an answered savepoint request once the recorded status no longer waits for it. */
  settleSavepoint(uid: string, awaitedId: string | undefined): void {
    const entry = this.savepoints.get(uid);
    if (entry?.outcome && entry.id !== awaitedId) this.savepoints.delete(uid);
  }

  forget(uid: string): void {
    this.savepoints.delete(uid);
    this.disposals.delete(uid);
    this.rejected.delete(uid);
  }
}
