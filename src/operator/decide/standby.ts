import { taskManagerPodName } from '../../api/names.ts';
import type { StreamJobSpec, StreamJobStatus } from '../../api/streamjob.ts';
import type { EventSpec } from './events.ts';
import type { Observation, ObservedPod } from './observation.ts';
import type { CreatePod, PodPlan } from './pods.ts';

/**
 * Standby pods (spec.standby, issue 32). Each pod index has 1 + replicas
 * *slots*; one slot's pod runs the index's tasks (the active one, recorded in
 * status.standby.activeSlots), the others run standbys of the same tasks.
 * When the active pod fails, a standby of its index is promoted: the slot
 * becomes the active one and the failed slot is refilled with a new standby.
 *
 *   slot pod:   (none) ──create──► standby ──active pod fails──► active
 *                 ▲                  │                             │
 *                 └──── ends ◄───────┴──────── fails ◄─────────────┘
 *
 * Everything else the operator does (failures, upgrades, savepoints,
 * progress) sees the active pods only.
 */

/** Tells a standby TaskManager to take over its tasks; sent until it answered once (the actuator remembers). */
export interface PromoteStandby {
  kind: 'promoteStandby';
  pod: string;
  uid: string;
  podIP: string | undefined;
}

export type ActiveSlots = readonly number[];

export function slotCount(spec: Pick<StreamJobSpec, 'standby'>): number {
  return 1 + (spec.standby?.replicas ?? 0);
}

export function activeSlotsOf(status: StreamJobStatus): number[] {
  return [...(status.standby?.activeSlots ?? [])];
}

export function activeSlotOf(activeSlots: ActiveSlots, index: number): number {
  return activeSlots[index] ?? 0;
}

/**
 * The slots an index's standbys take: the lowest `replicas` slots other than
 * the active one (a warm upgrade can leave the active slot beyond them).
 */
export function standbySlots(active: number, replicas: number): number[] {
  const slots: number[] = [];
  for (let slot = 0; slots.length < replicas; slot++) if (slot !== active) slots.push(slot);
  return slots;
}

/** The job's pods split by role: a pod whose slot is its index's active one (or whose labels are unreadable) is active. */
export function splitByRole(
  pods: readonly ObservedPod[],
  activeSlots: ActiveSlots,
): { active: ObservedPod[]; standby: ObservedPod[] } {
  const active: ObservedPod[] = [];
  const standby: ObservedPod[] = [];
  for (const pod of pods) {
    if (pod.index < 0 || (pod.slot ?? 0) === activeSlotOf(activeSlots, pod.index)) active.push(pod);
    else standby.push(pod);
  }
  return { active, standby };
}

/** What a pod of the current deployment carries; a standby of another run or spec warms the wrong state. */
export interface Deployment {
  runId: string;
  restartEpoch: number;
  specHash: string;
}

/** Whether the pod carries the deployment's run, restart epoch and spec hash. */
export function current(pod: ObservedPod, deployment: Deployment): boolean {
  return (
    pod.runId === deployment.runId &&
    pod.restartEpoch === deployment.restartEpoch &&
    pod.specHash === deployment.specHash
  );
}

/**
 * The standby to promote for a failed active pod of `index`: a running pod of
 * the current deployment in another slot of that index, not being deleted.
 * The most caught-up first: a Ready one (its lag is within the acceptable
 * lag) before one that is not, then the smallest lag it last reported (an
 * unknown lag last), then the lowest slot; a standby not yet warm still saves
 * the pod's start, and its restore falls back to the snapshots.
 */
export function standbyToPromote(
  index: number,
  standbys: readonly ObservedPod[],
  deployment: Deployment,
  plan: PodPlan,
  observation: Pick<Observation, 'released' | 'standbyLags'>,
): ObservedPod | undefined {
  const candidates = standbys.filter(
    (p) =>
      p.index === index &&
      current(p, deployment) &&
      p.phase === 'Running' &&
      p.podIP !== undefined &&
      !p.deleting &&
      !plan.isDeleting(p.name) &&
      !observation.released.has(p.uid),
  );
  const lag = (p: ObservedPod) => observation.standbyLags?.get(p.name) ?? Number.POSITIVE_INFINITY;
  candidates.sort(
    (a, b) =>
      Number(b.ready) - Number(a.ready) ||
      (lag(a) === lag(b) ? 0 : lag(a) < lag(b) ? -1 : 1) ||
      (a.slot ?? 0) - (b.slot ?? 0),
  );
  return candidates[0];
}

/** The pod index of a tracked (active) pod's name, from the names the active slots give. */
export function indexOfActiveName(
  jobName: string,
  name: string,
  wanted: number,
  activeSlots: ActiveSlots,
): number | undefined {
  for (let index = 0; index < wanted; index++) {
    if (taskManagerPodName(jobName, index, activeSlotOf(activeSlots, index)) === name) return index;
  }
  return undefined;
}

/**
 * A standby that ended stays (and its slot waits) this long before it is
 * replaced: one that cannot run (too little memory for its store, a broken
 * image) is retried a few times a minute, not in a tight loop. The active
 * tasks do not wait on it.
 */
export const standbyRefillDelayMs = 10_000;

export interface StandbyPodsInput {
  now: Date;
  standbys: readonly ObservedPod[];
  deployment: Deployment;
  wanted: number;
  slots: number;
  activeSlots: ActiveSlots;
  jobName: string;
  restoreSavepoint: string | undefined;
  /** False while the active pods cannot be created either (a restart pending, an older deployment ending). */
  mayCreate: boolean;
}

/**
 * The standby pods to delete (of another deployment, beyond the wanted
 * count or slots, or ended) and to create (every slot of every index that is
 * not the active one and has no pod). A standby that ends is refilled
 * without counting as a job failure: the active tasks never stopped.
 */
export function planStandbyPods(
  plan: PodPlan,
  input: StandbyPodsInput,
): { creations: CreatePod[]; events: EventSpec[]; recheckAt?: number } {
  const events: EventSpec[] = [];
  let recheckAt: number | undefined;
  for (const pod of input.standbys) {
    if (plan.isDeleting(pod.name)) continue;
    const slots = standbySlots(activeSlotOf(input.activeSlots, pod.index), input.slots - 1);
    if (!current(pod, input.deployment) || pod.index >= input.wanted || !slots.includes(pod.slot ?? 0)) {
      plan.delete(pod, current(pod, input.deployment) ? 'ScaledDown' : 'Replaced');
    } else if ((pod.phase === 'Failed' || pod.phase === 'Succeeded') && !pod.deleting) {
      const refillAt = (pod.endedAt ?? input.now).getTime() + standbyRefillDelayMs;
      if (refillAt > input.now.getTime()) {
        recheckAt = Math.min(recheckAt ?? refillAt, refillAt);
        continue;
      }
      plan.delete(pod, 'StandbyEnded');
      events.push({
        type: 'Warning',
        reason: 'StandbyFailed',
        message: `standby pod ${pod.name} ended (${pod.terminationMessage ?? pod.phase}); a new one is started`,
      });
    }
  }
  const recheck = recheckAt !== undefined ? { recheckAt } : {};
  if (!input.mayCreate) return { creations: [], events, ...recheck };
  const existing = new Set(input.standbys.map((p) => p.name));
  const creations: CreatePod[] = [];
  for (let index = 0; index < input.wanted; index++) {
    for (const slot of standbySlots(activeSlotOf(input.activeSlots, index), input.slots - 1)) {
      const name = taskManagerPodName(input.jobName, index, slot);
      if (existing.has(name) || plan.tracked.has(name)) continue;
      creations.push({
        kind: 'createPod',
        pod: {
          index,
          slot,
          standby: true,
          runId: input.deployment.runId,
          restartEpoch: input.deployment.restartEpoch,
          specHash: input.deployment.specHash,
          ...(input.restoreSavepoint ? { restoreSavepoint: input.restoreSavepoint } : {}),
        },
      });
    }
  }
  return { creations, events, ...recheck };
}

/**
 * Promotion is level-based: every active pod that started as a standby is
 * told to take over until it has answered once (the actuator remembers that
 * per pod uid), so an operator that stopped between recording a promotion
 * and sending it sends it when it comes back.
 */
export function promotions(active: readonly ObservedPod[], tracked: ReadonlySet<string>): PromoteStandby[] {
  return active
    .filter((p) => p.standbyAtStart && tracked.has(p.name) && !p.deleting && p.phase === 'Running')
    .map((p) => ({ kind: 'promoteStandby', pod: p.name, uid: p.uid, podIP: p.podIP }));
}
