import { taskManagerPodName } from '../../api/names.ts';
import type { PodIdentity } from '../deploy/taskmanager-pod.ts';
import { type Observation, type ObservedPod, unreadyNodeOf } from './observation.ts';

export interface DeletePod {
  kind: 'deletePod';
  name: string;
  uid: string;
  force: boolean;
  reason: string;
}

/** A pod to create, with everything that makes it: the actuator reads nothing else of the job's status. */
export interface CreatePod {
  kind: 'createPod';
  pod: PodIdentity;
}

/**
 * The pods counted as live and the deletions decided so far in a pass. A pod
 * is deleted at most once per pass, and a pod already being deleted is left
 * alone unless it must be forced (its node is lost).
 */
export class PodPlan {
  readonly tracked: Set<string>;
  readonly deletions: DeletePod[] = [];
  private readonly deleting = new Set<string>();

  constructor(tracked: Iterable<string>) {
    this.tracked = new Set(tracked);
  }

  delete(pod: ObservedPod, reason: string, force = false): void {
    this.tracked.delete(pod.name);
    if (this.deleting.has(pod.name) || (pod.deleting && !force)) return;
    this.deleting.add(pod.name);
    this.deletions.push({ kind: 'deletePod', name: pod.name, uid: pod.uid, force, reason });
  }

  deleteAll(pods: readonly ObservedPod[], reason: string): void {
    for (const pod of pods) this.delete(pod, reason);
  }

  isDeleting(name: string): boolean {
    return this.deleting.has(name);
  }
}

export interface PodsInput {
  observation: Observation;
  wanted: number;
  /** The run the pods start in, and the savepoint it restores from (status.run). */
  runId: string;
  restoreSavepoint: string | undefined;
  restartEpoch: number;
  specHash: string;
  jobName: string;
  /** A pending restart's due time; no pod is created before it. */
  restartDue: Date | undefined;
  now: Date;
  /** A pod on a node not Ready for this long is deleted by force: its kubelet cannot end it. */
  nodeLostTimeoutMs: number;
  /** Which slot of each index runs its tasks (status.standby); absent entries, and no standbys, are slot 0. */
  activeSlots?: readonly number[];
}

/** When the pod's node counts as lost (not Ready for nodeLostTimeoutMs); undefined while it is Ready. */
function nodeLostAt(
  pod: ObservedPod,
  observation: Observation,
  nodeLostTimeoutMs: number,
): number | undefined {
  const since = unreadyNodeOf(pod, observation)?.notReadySince;
  return since ? since.getTime() + nodeLostTimeoutMs : undefined;
}

/**
 * Brings the pods to the wanted set: pods of an older epoch or spec, or
 * beyond the wanted count, are replaced (not failures); pods created by an
 * earlier pass are adopted; missing pods are created unless a restart is
 * still waiting out its delay.
 */
export function planPods(
  plan: PodPlan,
  input: PodsInput,
): { creations: CreatePod[]; restartDone: boolean; recheckAt?: number } {
  const { observation, wanted } = input;
  let recheckAt: number | undefined;
  for (const pod of observation.pods) {
    const current =
      pod.restartEpoch === input.restartEpoch && pod.specHash === input.specHash && pod.index >= 0;
    if (!current || pod.index >= wanted) {
      // A pod of the old deployment on a lost node never ends by itself, and the new deployment waits for
      // it: once the node is lost it is deleted by force. Its process may still run (a zombie); the new
      // layout's task 0 fences every transactional id of the old one before any new task reads offsets.
      const lostAt = nodeLostAt(pod, observation, input.nodeLostTimeoutMs);
      const lost = lostAt !== undefined && lostAt <= input.now.getTime();
      if (lostAt !== undefined && !lost) recheckAt = Math.min(recheckAt ?? lostAt, lostAt);
      plan.delete(pod, current ? 'ScaledDown' : 'Replaced', lost);
    } else if (plan.isDeleting(pod.name) || observation.released.has(pod.uid)) {
      // given up on, in this pass or an earlier one that a lagging cache has not caught up with
    } else if (!pod.deleting && pod.phase !== 'Failed' && pod.phase !== 'Succeeded') {
      plan.tracked.add(pod.name); // created by an earlier pass: adopt it
    } else if (!plan.tracked.has(pod.name) && !pod.deleting) {
      plan.delete(pod, 'Cleanup'); // an ended pod already counted
    }
  }
  const recheck = recheckAt !== undefined ? { recheckAt } : {};
  if (input.restartDue && input.restartDue > input.now)
    return { creations: [], restartDone: false, ...recheck };
  // A new deployment starts only once the old one has ended: its pods stop with a last checkpoint, and a
  // task that takes over one of their partitions under another name (a rescale up moves partitions to new
  // pods) would otherwise read its committed offsets before that commit, and process those records again.
  const olderStillEnding = observation.pods.some(
    (pod) => pod.restartEpoch !== input.restartEpoch || pod.specHash !== input.specHash,
  );
  if (olderStillEnding) return { creations: [], restartDone: false, ...recheck };
  const byName = new Map(observation.pods.map((p) => [p.name, p]));
  const creations: CreatePod[] = [];
  for (let index = 0; index < wanted; index++) {
    const slot = input.activeSlots?.[index] ?? 0;
    const name = taskManagerPodName(input.jobName, index, slot);
    // A pod still ending under this name blocks its successor; its deletion event requeues.
    if (plan.tracked.has(name) || byName.has(name)) continue;
    creations.push({ kind: 'createPod', pod: { ...podIdentity(input, index), ...(slot ? { slot } : {}) } });
  }
  return { creations, restartDone: input.restartDue !== undefined, ...recheck };
}

function podIdentity(input: PodsInput, index: number): PodIdentity {
  return {
    index,
    runId: input.runId,
    restartEpoch: input.restartEpoch,
    specHash: input.specHash,
    ...(input.restoreSavepoint ? { restoreSavepoint: input.restoreSavepoint } : {}),
  };
}
