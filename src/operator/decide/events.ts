import type { Phase } from '../../api/streamjob.ts';

/**
 * The Events decide() records on a StreamJob: one type, one vocabulary.
 * Users alert on these reasons (the kubectl plugin and the alert rules name
 * them), so a reason is added here, never spelled afresh where it is used.
 */
export const eventReasons = [
  // Checkpoints
  'CheckpointFailing',
  'CheckpointRecovered',
  'OffsetReset',
  // Failures and restarts
  'TaskFailed',
  'RestartScheduled',
  // Standbys (spec.standby): one promoted for a failed pod, one that ended and is replaced.
  'StandbyPromoted',
  'StandbyFailed',
  'RestartRequested',
  'RestartStrategyExhausted',
  // Runs
  'RestoringFromSavepoint',
  // Savepoints
  'SavepointRequested',
  'SavepointSkipped',
  'SavepointCompleted',
  'SavepointFailed',
  'SavepointDisposed',
  'SavepointDisposalFailed',
  'SavepointNotDisposed',
  'FinalSavepointRequested',
  'FinalSavepointCompleted',
  'FinalSavepointSkipped',
  // StreamJobSnapshot resources (recorded on the snapshot), and a job waiting for spec.initialSnapshot
  'SnapshotInProgress',
  'SnapshotCompleted',
  'SnapshotFailed',
  'SnapshotRetrying',
  'SnapshotObjectsKept',
  'InitialSnapshotNotReady',
  // The autoscaler (spec.autoscaler)
  'AutoscalerScaleUp',
  'AutoscalerScaleDown',
  'AutoscalerRecommendation',
  // Upgrades and suspension
  'UpgradeStarted',
  'UpgradeSavepointCompleted',
  'SavepointFallback',
  'UpgradeCompleted',
  'UpgradeInterrupted',
  'UpgradeAborted',
  'UpgradeAbandoned',
  'WarmupCompleted',
  'WarmupTimedOut',
  'WarmRestoreFellBack',
  'UpgradeNotStable',
  'RolledBack',
  'Suspending',
  'SuspendedWithSavepoint',
] as const;

/**
 * A reason of the list above; a phase, for an Event on each phase change;
 * or the Ready condition's reason when a pod cannot be scheduled or started
 * (PodRejected, NodeNotReady, or the scheduler's or kubelet's own reason,
 * such as Unschedulable or ErrImagePull, passed through as they name it).
 */
export type EventReason = (typeof eventReasons)[number] | Phase | PodProblemReason;

declare const podProblem: unique symbol;

/**
 * A reason Kubernetes (the scheduler, the kubelet) or Weir gives for a pod
 * that does not run; see EventReason. Only podProblemReason() makes one, so
 * a misspelt reason elsewhere does not type-check.
 */
export type PodProblemReason = string & { readonly [podProblem]: true };

export function podProblemReason(reason: string): PodProblemReason {
  return reason as PodProblemReason;
}

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
}

/** Reasons the controller acts on as well as records. */
export const taskFailedReason = 'TaskFailed' satisfies EventReason;
