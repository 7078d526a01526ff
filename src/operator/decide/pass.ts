import type { StreamJob, StreamJobStatus } from '../../api/streamjob.ts';
import type { EventSpec } from './events.ts';
import type { Observation, ObservedPod } from './observation.ts';
import type { CreatePod, DeletePod } from './pods.ts';
import type { TriggerSavepoint } from './savepoint.ts';
import type { DisposeSavepoints } from './savepoint-history.ts';
import type { SnapshotAction, SnapshotEvent } from './snapshot-pass.ts';
import type { PromoteStandby } from './standby.ts';
import type { JobTiming } from './timing.ts';
import type { StopWithSavepoint } from './upgrade.ts';

/**
 * What one reconcile pass shares among its reducers (decide.ts composes them; pods-pass.ts holds the failure and
 * pod ones): the actions it may ask for, its options, and the pass itself.
 */

/** What the controller's actuator carries out after the decided status is written. */
export type Action =
  | CreatePod
  | DeletePod
  | { kind: 'ensureTokenSecret' }
  | { kind: 'ensureNetworkPolicy' }
  | TriggerSavepoint
  | StopWithSavepoint
  | DisposeSavepoints
  | PromoteStandby
  | SnapshotAction;

export interface DecideOptions {
  /** A pod on a node that is not Ready for this long is treated as lost. */
  nodeLostTimeoutMs: number;
  /** A failure keeps the job Degraded for this long. */
  degradedWindowMs: number;
  random: () => number;
  newRunId: () => string;
  /** While Running, reconcile at least this often so TaskManager checkpoint progress reaches status. */
  checkpointPollIntervalMs?: number;
}

/** One reconcile pass being decided: its inputs, and the status, actions and events it accumulates. */
export interface Pass {
  job: StreamJob;
  /** What was observed, with the active pods only: failures, upgrades and savepoints concern those. */
  observation: Observation;
  /** The standby pods (spec.standby) of the job, as the pass began. */
  standbys: ObservedPod[];
  now: Date;
  options: DecideOptions;
  /** The durations of the job's spec, parsed once for the pass. */
  timing: JobTiming;
  previous: StreamJobStatus;
  status: StreamJobStatus;
  events: EventSpec[];
  snapshotEvents: SnapshotEvent[];
  actions: Action[];
  /** Asks for a reconcile after `ms` (the earliest request wins). */
  requeue(ms: number | undefined): void;
}
