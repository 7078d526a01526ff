import type { InitialSnapshot } from './initial-snapshot.ts';
import type { LoadWindow } from './load-window.ts';
import type { ObservedTaskReport } from './progress.ts';
import type { SavepointOutcome } from './savepoint.ts';
import type { DisposalOutcome } from './savepoint-history.ts';
import type { ObservedSnapshot } from './snapshots.ts';

/** What the controller saw of a job's world, reduced to what decisions need. */
export interface ObservedPod {
  name: string;
  uid: string;
  /** From the weir.dev/pod-index label; -1 when missing or invalid. */
  index: number;
  /** From the weir.dev/slot label (spec.standby): which of the index's pods this is; absent is 0. */
  slot?: number;
  /** Created as a standby (weir.dev/standby); status.standby.activeSlots says whether it has been promoted since. */
  standbyAtStart?: boolean;
  restartEpoch: number;
  specHash: string;
  runId: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  ready: boolean;
  deleting: boolean;
  nodeName?: string;
  podIP?: string;
  /** When its TaskManager container ended, once the kubelet reported it. */
  endedAt?: Date;
  /** Why the pod ended, e.g. "exit code 2: JOB_MODULE_LOAD_FAILED: cannot load job module …". */
  terminationMessage?: string;
  /** Why a Pending pod does not start: Unschedulable (the scheduler's message), ErrImagePull, CreateContainerConfigError… */
  notStarted?: { reason: string; message: string };
}

export interface ObservedNode {
  name: string;
  ready: boolean;
  /** When the node's Ready condition last left True. */
  notReadySince?: Date;
}

/** The pod's node, when it is known and not Ready. */
export function unreadyNodeOf(pod: ObservedPod, observation: Observation): ObservedNode | undefined {
  const node = pod.nodeName ? observation.nodes.get(pod.nodeName) : undefined;
  return node && !node.ready ? node : undefined;
}

export interface Observation {
  pods: ObservedPod[];
  nodes: ReadonlyMap<string, ObservedNode>;
  /**
   * Pods this operator already deleted or gave up on. A cache that lags
   * behind the API server can still show them as running; they must not be
   * adopted again, or their disappearance would count as a second failure.
   */
  released: ReadonlySet<string>;
  /**
   * Pods (by uid) whose TaskManager process was seen to end through the
   * operator's watch on its control port (taskmanager-watch.ts), before the
   * kubelet reports it; jobs with standbys only.
   */
  gone?: ReadonlySet<string>;
  /** The latest task reports of the current run's TaskManagers; absent before they first answered. */
  checkpoints?: readonly ObservedTaskReport[];
  /** What the tasks did over spec.autoscaler.metricsWindow (an autoscaled job, once measured). */
  load?: LoadWindow;
  /** The standby pods' changelog lag (records; null: not known yet) by pod name, as they last answered. */
  standbyLags?: ReadonlyMap<string, number | null>;
  /** How the TaskManagers answered the latest savepoint request, once they all have. */
  savepointOutcome?: SavepointOutcome;
  /** How the last request to delete savepoints dropped from the history ended, once it has. */
  disposalOutcome?: DisposalOutcome;
  /** The StreamJobSnapshots of the job's name (spec.jobName), a former job's of that name too. */
  snapshots?: readonly ObservedSnapshot[];
  /**
   * Who refers to a snapshot or savepoint: by snapshot name (spec.initialSnapshot) and by savepoint
   * path without its trailing slash (spec.initialSavepoint's URL form), the StreamJobs of the namespace.
   */
  snapshotReferences?: ReadonlyMap<string, readonly string[]>;
  /** spec.initialSnapshot as found, when the job sets it. */
  initialSnapshot?: InitialSnapshot;
  /** Pods that could not be created, and why: the API server's refusal, or a check before it (Actuator.podRejections). */
  podRejections?: readonly { pod: string; message: string }[];
}
