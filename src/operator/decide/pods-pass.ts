import type { StreamJobSpec } from '../../api/streamjob.ts';
import { podCount, tasksOfPod } from '../deploy/taskmanager-pod.ts';
import { decideFailures } from './failures.ts';
import { type Observation, type ObservedNode, type ObservedPod, unreadyNodeOf } from './observation.ts';
import type { Pass } from './pass.ts';
import { type CreatePod, PodPlan, planPods } from './pods.ts';
import { stalledPods } from './progress.ts';
import { resolveRestartStrategy } from './restart-strategy.ts';
import { specHashOf } from './spec-diff.ts';
import {
  activeSlotsOf,
  type Deployment,
  indexOfActiveName,
  planStandbyPods,
  promotions,
  slotCount,
  splitByRole,
  standbyToPromote,
} from './standby.ts';
import { timingOf } from './timing.ts';
import type { UpgradeDecision } from './upgrade.ts';
import { planWarmPods, type WarmTarget } from './warm-pods.ts';

// The failure, restart and pod reducers of a pass: decide.ts runs them after the upgrade and the run.

/** What the pod reducers leave for the phase and the conditions. */
export interface PodsOutcome {
  plan: PodPlan;
  wanted: number;
  readyPods: ObservedPod[];
  readyTasks: number;
  restartedNow: boolean;
  failedMessage: string | undefined;
  /** The tracked pods on a node that is not Ready, with that node. */
  unready: { pod: string; node: ObservedNode }[];
}

/** What the pod decisions of one pass share. */
interface PodsContext {
  plan: PodPlan;
  wanted: number;
  hash: string;
  deployedSpec: StreamJobSpec;
  /** status.standby.activeSlots as this pass moves them. */
  activeSlots: number[];
  deployment: Deployment;
}

/** Failures, restarts and pods. While the old version stops with a savepoint, every pod is held as it is. */
export function failuresAndPods(
  pass: Pass,
  upgrade: UpgradeDecision,
  deployedSpec: StreamJobSpec,
): PodsOutcome {
  const { status, job } = pass;
  let { observation } = pass;
  const suspended = job.spec.state === 'suspended';
  const hash = specHashOf(deployedSpec);
  status.specHash = hash;
  const ctx: PodsContext = {
    plan: new PodPlan(upgrade.deploy?.replacesPods ? [] : (status.pods ?? [])),
    wanted: podCount(deployedSpec.parallelism, deployedSpec.taskSlots),
    hash,
    deployedSpec,
    activeSlots: activeSlotsOf(status),
    deployment: { runId: status.run?.id ?? '', restartEpoch: status.restartEpoch ?? 0, specHash: hash },
  };
  const { plan, wanted } = ctx;
  let failed: { failedMessage?: string; restartedNow: boolean } = { restartedNow: false };
  const warming = warmPodsOf(pass);
  if (!upgrade.holdPods) {
    if (status.phase !== 'Failed' && !suspended) failed = recordFailures(pass, ctx);
    // After a promotion the promoted pod is active and the failed one a slot to refill.
    const byRole = splitByRole([...observation.pods, ...pass.standbys], ctx.activeSlots);
    observation = { ...observation, pods: byRole.active };
    if (status.phase === 'Failed') {
      plan.deleteAll([...observation.pods, ...byRole.standby], 'JobFailed');
    } else if (suspended) {
      plan.deleteAll([...observation.pods, ...byRole.standby], 'Suspended');
      if (status.restarts) delete status.restarts.nextRestartAt;
    } else {
      planLivePods(pass, ctx, observation, byRole.standby);
      if (warming) planWarm(pass, plan, warming);
    }
  }
  pass.actions.push(...plan.deletions);
  status.pods = [...plan.tracked].sort();
  const readyPods = observation.pods.filter(
    (p) => plan.tracked.has(p.name) && p.ready && p.phase === 'Running',
  );
  const readyTasks = readyPods.reduce(
    (n, p) => n + tasksOfPod(p.index, deployedSpec.parallelism, deployedSpec.taskSlots).length,
    0,
  );
  status.tasks = { ready: readyTasks, total: deployedSpec.parallelism, pods: wanted };
  const unready = observation.pods.flatMap((p) => {
    const node = unreadyNodeOf(p, observation);
    return node && plan.tracked.has(p.name) ? [{ pod: p.name, node }] : [];
  });
  return {
    plan,
    wanted,
    readyPods,
    readyTasks,
    restartedNow: failed.restartedNow,
    failedMessage: failed.failedMessage,
    unready,
  };
}

/**
 * The tracked pods' failures, counted by the restart strategy: a failed
 * pod's standby is promoted (its slot moves in status before the standby is
 * told; the actuator tells it after status is written), the others wait for
 * the restart, or the job fails.
 */
function recordFailures(pass: Pass, ctx: PodsContext): { failedMessage?: string; restartedNow: boolean } {
  const { status, now, options, job, observation } = pass;
  const { plan, wanted, activeSlots } = ctx;
  const failures = decideFailures({
    tracked: plan.tracked,
    observation,
    stalled: stalledPods(observation.checkpoints ?? [], timingOf(ctx.deployedSpec).progressWindowMs),
    now,
    nodeLostTimeoutMs: options.nodeLostTimeoutMs,
    strategy: resolveRestartStrategy(job.spec.restartStrategy),
    failoverStrategy: job.spec.failoverStrategy,
    restarts: status.restarts,
    random: options.random,
    standbyFor: (failure) => {
      const index =
        failure.pod?.index ?? indexOfActiveName(job.metadata.name ?? '', failure.name, wanted, activeSlots);
      return index === undefined
        ? undefined
        : standbyToPromote(index, pass.standbys, ctx.deployment, plan, observation);
    },
  });
  if (failures.kind === 'none') return { restartedNow: false };
  for (const f of failures.failures) {
    plan.tracked.delete(f.name);
    if (f.pod) plan.delete(f.pod, f.reason, f.reason === 'NodeLost');
  }
  status.restarts = failures.restarts;
  pass.events.push(...failures.events);
  if (failures.kind === 'fail') {
    status.phase = 'Failed';
    return { failedMessage: failures.message, restartedNow: false };
  }
  for (const { standby } of failures.promotions) {
    activeSlots[standby.index] = standby.slot ?? 0;
    plan.tracked.add(standby.name);
  }
  if (failures.promotions.length) {
    status.standby = {
      ...status.standby,
      activeSlots: Array.from({ length: wanted }, (_, i) => activeSlots[i] ?? 0),
    };
  }
  if (failures.restartScheduled) status.phase = 'Restarting';
  if (failures.replaceAll) status.restartEpoch = (status.restartEpoch ?? 0) + 1;
  return { restartedNow: failures.restartScheduled };
}

/**
 * While a warm upgrade warms (or its old version stops with the savepoint),
 * its pods are set apart from the job's standbys (which would replace them as
 * another run's): the target they are made for, and the pods.
 */
function warmPodsOf(pass: Pass): { target: WarmTarget; pods: ObservedPod[] } | undefined {
  const { status, job } = pass;
  const upgrade = status.upgrade;
  const warm = upgrade?.warm;
  if (!upgrade || !warm || (upgrade.step !== 'Warming' && upgrade.step !== 'Savepointing')) return undefined;
  const pods = pass.standbys.filter((p) => p.runId === warm.runId);
  pass.standbys = pass.standbys.filter((p) => p.runId !== warm.runId);
  return {
    pods,
    target: {
      jobName: job.metadata.name ?? '',
      runId: warm.runId,
      slots: warm.slots,
      savepointId: upgrade.savepointId ?? '',
      fromRun: status.run?.id ?? '',
      specHash: specHashOf(job.spec),
      restartEpoch: (status.restartEpoch ?? 0) + 1,
    },
  };
}

/** A Warming upgrade's pods to create or replace; nothing while the old version stops (pods are held). */
function planWarm(pass: Pass, plan: PodPlan, warming: { target: WarmTarget; pods: ObservedPod[] }): void {
  if (pass.status.upgrade?.step !== 'Warming') return;
  const warm = planWarmPods(plan, { now: pass.now, ...warming });
  pass.events.push(...warm.events);
  if (warm.recheckAt !== undefined) pass.requeue(warm.recheckAt - pass.now.getTime());
  if (warm.creations.length) pass.actions.push({ kind: 'ensureTokenSecret' }, ...warm.creations);
}

/** The pods of a live job: the active ones to create, the standbys to create or replace, promotions to send. */
function planLivePods(pass: Pass, ctx: PodsContext, observation: Observation, standbys: ObservedPod[]): void {
  const { status, now, job } = pass;
  const { plan, wanted, hash, activeSlots } = ctx;
  const creates = createPods(pass, observation, plan, wanted, hash, activeSlots);
  const due = status.restarts?.nextRestartAt ? new Date(status.restarts.nextRestartAt) : undefined;
  const epoch = status.restartEpoch ?? 0;
  const standbyPlan = planStandbyPods(plan, {
    now,
    standbys,
    deployment: { ...ctx.deployment, restartEpoch: epoch },
    wanted,
    slots: slotCount(job.spec),
    activeSlots,
    jobName: job.metadata.name ?? '',
    restoreSavepoint: status.run?.restoredFrom,
    // As for the active pods: not before a pending restart, nor while an older deployment ends.
    mayCreate:
      !(due && due > now) && !observation.pods.some((p) => p.restartEpoch !== epoch || p.specHash !== hash),
  });
  pass.events.push(...standbyPlan.events);
  const standbysWanted = wanted * (slotCount(job.spec) - 1);
  if (standbysWanted > 0 || status.standby?.total) {
    const ready = standbys.filter(
      (p) => p.ready && p.phase === 'Running' && !p.deleting && !plan.isDeleting(p.name),
    ).length;
    status.standby = { ...status.standby, ready, total: standbysWanted };
  }
  if (standbyPlan.recheckAt !== undefined) pass.requeue(standbyPlan.recheckAt - now.getTime());
  creates.push(...standbyPlan.creations);
  pass.actions.push(...promotions(observation.pods, plan.tracked));
  // The NetworkPolicy guards running pods too (jobs deployed before it was turned on): the actuator
  // sends it once per job and operator process, and never again while it knows it is in place.
  pass.actions.push({ kind: 'ensureNetworkPolicy' });
  // The pods mount the job's token Secret: it is ensured only when pods are made, so a restarted
  // operator passing over thousands of running jobs sends no create per job.
  if (creates.length) pass.actions.push({ kind: 'ensureTokenSecret' }, ...creates);
}

/** The pods to create, once a pending restart is due; marks the restart done. */
function createPods(
  pass: Pass,
  observation: Observation,
  plan: PodPlan,
  wanted: number,
  hash: string,
  activeSlots: readonly number[],
): CreatePod[] {
  const { status, now, job } = pass;
  const due = status.restarts?.nextRestartAt ? new Date(status.restarts.nextRestartAt) : undefined;
  const pods = planPods(plan, {
    observation,
    wanted,
    runId: status.run?.id ?? '',
    restoreSavepoint: status.run?.restoredFrom,
    restartEpoch: status.restartEpoch ?? 0,
    specHash: hash,
    jobName: job.metadata.name ?? '',
    restartDue: due,
    now,
    nodeLostTimeoutMs: pass.options.nodeLostTimeoutMs,
    activeSlots,
  });
  if (due && due > now) pass.requeue(due.getTime() - now.getTime());
  if (pods.recheckAt !== undefined) pass.requeue(pods.recheckAt - now.getTime());
  if (pods.restartDone && status.restarts && due && due <= now) {
    delete status.restarts.nextRestartAt;
    status.restarts.lastRestartAt = now.toISOString();
  }
  return pods.creations;
}

/** A pod on a node that is not Ready, as a pod problem for the Ready condition. */
export function nodeNotReady({ pod, node }: PodsOutcome['unready'][number], nodeLostTimeoutMs: number) {
  // The time it left Ready rather than for how long, so the condition's message (and status) does not change
  // at every pass.
  const since = node.notReadySince ? ` since ${node.notReadySince.toISOString()}` : '';
  return {
    pod,
    reason: 'NodeNotReady',
    message: `node ${node.name} is not Ready${since}; the pod is replaced elsewhere ${Math.round(nodeLostTimeoutMs / 1000)}s after the node left Ready, unless it comes back`,
  };
}
