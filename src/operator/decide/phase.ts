import type { Phase } from '../../api/streamjob.ts';
import type { UpgradeStep } from './upgrade.ts';

export interface PhaseInput {
  failed: boolean;
  suspended: boolean;
  upgradeStep: UpgradeStep;
  readyPods: number;
  wantedPods: number;
  restartPending: boolean;
  /** A failure was counted in this pass. */
  restartedNow: boolean;
  /** Pods of the job on a node that is not Ready: they are lost unless the node comes back. */
  podsOnUnreadyNodes: number;
  previous: Phase | undefined;
}

/**
 * The job's phase, in order of precedence: Failed and Suspended say what the
 * user must know first; an upgrade that stops or starts pods is Upgrading; a
 * job with a pod on a NotReady node is Restarting (its pods are replaced once
 * the node-lost timeout passes), never Deploying; a job with every pod Ready
 * and no restart pending is Running; a restart in progress stays Restarting
 * until every pod is Ready again.
 */
export function decidePhase(input: PhaseInput): Phase {
  if (input.failed) return 'Failed';
  if (input.suspended) return 'Suspended';
  if (input.upgradeStep === 'Savepointing') return 'Upgrading';
  if (input.podsOnUnreadyNodes > 0) return 'Restarting';
  if (input.readyPods === input.wantedPods && !input.restartPending) return 'Running';
  if (input.restartPending || input.restartedNow || input.previous === 'Restarting') return 'Restarting';
  if (input.upgradeStep === 'Deploying') return 'Upgrading';
  return 'Deploying';
}
