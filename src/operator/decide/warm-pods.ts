import { taskManagerPodName } from '../../api/names.ts';
import type { EventSpec } from './events.ts';
import type { ObservedPod } from './observation.ts';
import type { CreatePod, PodPlan } from './pods.ts';
import { type ActiveSlots, activeSlotOf, current, standbyRefillDelayMs, standbySlots } from './standby.ts';

/*
 * The pods of a warm upgrade (spec.upgrade.warmup, issue 32). While the
 * upgrade is Warming, each pod index of the new version has one pod in a slot
 * of its own, chosen when Warming starts (status.upgrade.warm.slots): the old
 * version's active pod and standbys keep theirs. The warm pods run standbys of
 * the old version's run (WEIR_WARM_FROM_RUN); they carry the new version's
 * spec hash, run id and restart epoch, so when the upgrade moves to Deploying
 * (their slots become the active ones) they are the new deployment's pods,
 * adopted as they are and promoted.
 */

/**
 * A warm upgrade's slot for each pod index of the new version: the lowest
 * that is neither the index's active slot, nor one its standbys take, nor any
 * existing pod's (one still ending blocks its name).
 */
export function warmSlotsFor(
  wanted: number,
  activeSlots: ActiveSlots,
  replicas: number,
  pods: readonly Pick<ObservedPod, 'index' | 'slot'>[],
): number[] {
  return Array.from({ length: wanted }, (_, index) => {
    const active = activeSlotOf(activeSlots, index);
    const taken = new Set([active, ...standbySlots(active, replicas)]);
    for (const pod of pods) if (pod.index === index) taken.add(pod.slot ?? 0);
    let slot = 0;
    while (taken.has(slot)) slot++;
    return slot;
  });
}

/** What the warm pods are made as. */
export interface WarmTarget {
  jobName: string;
  /** The new version's run, slots and savepoint (status.upgrade). */
  runId: string;
  slots: readonly number[];
  savepointId: string;
  /** The old version's run, which the warm pods warm from. */
  fromRun: string;
  specHash: string;
  /** The epoch the new deployment will have: the current one plus one (run.ts bumps it). */
  restartEpoch: number;
}

function matches(pod: ObservedPod, target: WarmTarget): boolean {
  return (
    current(pod, target) &&
    pod.index >= 0 &&
    pod.index < target.slots.length &&
    (pod.slot ?? 0) === target.slots[pod.index]
  );
}

/** The warm pods that are Running and Ready, of the target's. */
export function readyWarmPods(
  pods: readonly ObservedPod[],
  target: Pick<WarmTarget, 'runId' | 'slots'> & Partial<WarmTarget>,
): number {
  return pods.filter(
    (p) =>
      p.runId === target.runId &&
      p.index >= 0 &&
      (p.slot ?? 0) === target.slots[p.index] &&
      p.ready &&
      p.phase === 'Running' &&
      !p.deleting,
  ).length;
}

/**
 * The warm pods to delete (made for another target, or ended: replaced after
 * standbyRefillDelayMs, as a standby is) and to create (a target slot
 * without a pod).
 */
export function planWarmPods(
  plan: PodPlan,
  input: { now: Date; pods: readonly ObservedPod[]; target: WarmTarget },
): { creations: CreatePod[]; events: EventSpec[]; recheckAt?: number } {
  const { now, pods, target } = input;
  const events: EventSpec[] = [];
  let recheckAt: number | undefined;
  const waiting = new Set<string>();
  for (const pod of pods) {
    if (plan.isDeleting(pod.name)) continue;
    if (!matches(pod, target)) {
      plan.delete(pod, 'Replaced');
    } else if ((pod.phase === 'Failed' || pod.phase === 'Succeeded') && !pod.deleting) {
      const refillAt = (pod.endedAt ?? now).getTime() + standbyRefillDelayMs;
      if (refillAt > now.getTime()) {
        recheckAt = Math.min(recheckAt ?? refillAt, refillAt);
        waiting.add(pod.name);
        continue;
      }
      plan.delete(pod, 'StandbyEnded');
      events.push({
        type: 'Warning',
        reason: 'StandbyFailed',
        message: `warm pod ${pod.name} of the upgrade ended (${pod.terminationMessage ?? pod.phase}); a new one is started`,
      });
    }
  }
  const existing = new Set(pods.map((p) => p.name));
  const creations: CreatePod[] = [];
  target.slots.forEach((slot, index) => {
    const name = taskManagerPodName(target.jobName, index, slot);
    if (existing.has(name) || waiting.has(name)) return;
    creations.push({
      kind: 'createPod',
      pod: {
        index,
        slot,
        standby: true,
        runId: target.runId,
        restartEpoch: target.restartEpoch,
        specHash: target.specHash,
        restoreSavepoint: target.savepointId,
        warmFromRun: target.fromRun,
      },
    });
  });
  return { creations, events, ...(recheckAt !== undefined ? { recheckAt } : {}) };
}
