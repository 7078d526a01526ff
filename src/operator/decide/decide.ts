import { jobSavepointUrl } from '../../api/names.ts';
import {
  deployedSpecOf,
  type Phase,
  type StreamJob,
  type StreamJobSpec,
  type StreamJobStatus,
} from '../../api/streamjob.ts';
import { jobSelector, podCount, tasksOfPod } from '../deploy/taskmanager-pod.ts';
import { autoscaleJob } from './autoscaler-pass.ts';
import { bounded } from './bounded.ts';
import { checkpointEvents, summarizeCheckpoints } from './checkpoint-summary.ts';
import { jobConditions } from './conditions.ts';
import { type EventSpec, podProblemReason } from './events.ts';
import { decideFailures } from './failures.ts';
import { initialSavepointOf, waitForInitialSnapshot } from './initial-snapshot.ts';
import { type Observation, type ObservedNode, type ObservedPod, unreadyNodeOf } from './observation.ts';
import { offsetResetEvents } from './offset-resets.ts';
import { decidePhase } from './phase.ts';
import { type CreatePod, type DeletePod, PodPlan, planPods } from './pods.ts';
import { stalledPods } from './progress.ts';
import { resolveRestartStrategy } from './restart-strategy.ts';
import { decideRun } from './run.ts';
import {
  decideSavepoint,
  periodicSavepointSince,
  recordSavepoint,
  type SavepointTarget,
  type TriggerSavepoint,
} from './savepoint.ts';
import { type DisposeSavepoints, decideSavepointHistory, savepointsInUse } from './savepoint-history.ts';
import { decideJobSnapshots, type SnapshotAction, type SnapshotEvent } from './snapshot-pass.ts';
import { specHashOf } from './spec-diff.ts';
import {
  activeSlotsOf,
  type Deployment,
  indexOfActiveName,
  type PromoteStandby,
  planStandbyPods,
  promotions,
  slotCount,
  splitByRole,
  standbyToPromote,
} from './standby.ts';
import { type JobTiming, timingOf } from './timing.ts';
import type { StopWithSavepoint, UpgradeDecision } from './upgrade.ts';
import { decideJobUpgrade, legacyDeployment, reachable } from './upgrade-input.ts';
import { planWarmPods, type WarmTarget } from './warm-pods.ts';

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

export interface Decision {
  status: StreamJobStatus;
  actions: Action[];
  events: EventSpec[];
  /** Events on the job's StreamJobSnapshots, recorded on each snapshot. */
  snapshotEvents: SnapshotEvent[];
  /** Reconcile again after this long even if nothing changes (a due restart, a node timeout). */
  requeueAfterMs?: number;
}

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

/** The hash of the pod-shaping fields of a job's spec (pods carry it as a label). */
export function specHash(job: StreamJob): string {
  return specHashOf(job.spec);
}

/** One reconcile pass being decided: its inputs, and the status, actions and events it accumulates. */
interface Pass {
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

/**
 * The whole reconcile decision for one StreamJob, as a pure function of the
 * job, what was observed and the time, composed of one reducer per concern:
 * checkpoint progress, upgrade, run and nonces, failures and restarts, pods,
 * phase, savepoints, conditions. The returned status already holds every
 * intent (failures counted, restart scheduled, upgrade step, epoch bumped);
 * the controller records it before it acts.
 */
export function decide(
  job: StreamJob,
  observation: Observation,
  now: Date,
  options: DecideOptions,
): Decision {
  const previous = job.status ?? {};
  const waiting = waitForInitialSnapshot(job, observation.initialSnapshot, now);
  if (waiting) return { ...waiting, actions: [], snapshotEvents: [] };
  let requeueAfterMs: number | undefined;
  const byRole = splitByRole(observation.pods, activeSlotsOf(previous));
  const pass: Pass = {
    job,
    observation: { ...observation, pods: byRole.active },
    standbys: byRole.standby,
    now,
    options,
    timing: timingOf(job.spec),
    previous,
    status: structuredClone(previous),
    events: [],
    snapshotEvents: [],
    actions: [],
    requeue: (ms) => {
      if (ms !== undefined) requeueAfterMs = Math.max(1, Math.min(requeueAfterMs ?? ms, ms));
    },
  };
  pass.status.selector = jobSelector(job.metadata.name ?? '');
  pass.status.observedGeneration = job.metadata.generation ?? 0;
  pass.status.deployment ??= legacyDeployment(job, pass.status);
  recordCheckpoints(pass);
  const upgrade = decideJobUpgrade(recordAutoscaler(pass), pass.status, pass.observation, now, pass.timing, {
    allPods: observation.pods,
    newRunId: options.newRunId,
  });
  const deployedSpec = recordUpgrade(pass, upgrade);
  recordRun(pass, upgrade);
  const pods = failuresAndPods(pass, upgrade, deployedSpec);
  const phase = recordPhase(pass, pods);
  recordSavepoints(pass, phase, pods.readyPods, pods.wanted);
  recordConditions(pass, phase, pods, deployedSpec);
  const { status, actions, events, snapshotEvents } = pass;
  return {
    status,
    actions,
    events,
    snapshotEvents,
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
  };
}

/** Checkpoint progress first: the upgrade calls a new version stable once a checkpoint completed after it. */
function recordCheckpoints({ job, observation, previous, status, events }: Pass): void {
  if (!observation.checkpoints) return;
  const { parallelism } = deployedSpecOf({ spec: job.spec, status });
  status.checkpoint = summarizeCheckpoints(previous.checkpoint, observation.checkpoints, parallelism);
  events.push(
    ...checkpointEvents(previous.checkpoint, status.checkpoint, job.spec.checkpoints.tolerableFailures),
  );
  const resets = offsetResetEvents(previous.lastOffsetResetTime, observation.checkpoints);
  events.push(...resets.events);
  if (resets.announcedUpTo) status.lastOffsetResetTime = resets.announcedUpTo;
}

/** The autoscaler's step of the pass (autoscaler-pass.ts): the job as the upgrade machine must see it. */
function recordAutoscaler(pass: Pass): StreamJob {
  const { job, events } = autoscaleJob(pass);
  pass.events.push(...events);
  return job;
}

/** Writes the upgrade machine's decision into status; returns the spec the pods are made from. */
function recordUpgrade(pass: Pass, upgrade: UpgradeDecision): StreamJobSpec {
  const { job, status, now } = pass;
  if (upgrade.deploy) {
    const keepTime = !upgrade.deploy.replacesPods && status.deployment;
    status.deployment = {
      spec: upgrade.deploy.spec,
      generation: upgrade.deploy.generation,
      time: keepTime ? (status.deployment?.time ?? now.toISOString()) : now.toISOString(),
    };
  }
  if (upgrade.upgrade) status.upgrade = upgrade.upgrade;
  else delete status.upgrade;
  const warm = upgrade.upgrade?.warm;
  if (upgrade.deploy?.run.kind === 'restore' && warm && upgrade.deploy.run.runId === warm.runId) {
    // A warm upgrade's pods become the new deployment's: their slots are the active ones from now on.
    status.standby = { ...status.standby, activeSlots: [...warm.slots] };
  }
  if (upgrade.recordStable && status.deployment) {
    status.lastStableSpec = { ...status.deployment, time: now.toISOString() };
  }
  if (upgrade.savepointCompleted) {
    const { id, reason } = upgrade.savepointCompleted;
    pass.events.push(
      ...recordSavepoint(status, {
        id,
        reason,
        path: jobSavepointUrl(job, id),
        now,
      }),
    );
  }
  if (upgrade.action) pass.actions.push(upgrade.action);
  pass.events.push(...upgrade.events);
  pass.requeue(upgrade.requeueAfterMs);
  return deployedSpecOf({ spec: job.spec, status });
}

/** Run, epoch and nonces. */
function recordRun(pass: Pass, upgrade: UpgradeDecision): void {
  const { status, job } = pass;
  const run = decideRun(
    {
      run: status.run,
      observedInitialSavepoint: status.observedInitialSavepoint,
      restartEpoch: status.restartEpoch ?? 0,
      observedRestartNonce: status.observedRestartNonce,
      phase: status.phase,
      restarts: status.restarts,
    },
    {
      initialSavepoint: initialSavepointOf(job, pass.observation.initialSnapshot),
      restartNonce: job.spec.restartNonce,
      deployment: upgrade.deploy,
      newRunId: pass.options.newRunId,
    },
  );
  Object.assign(status, stripUndefined(run.state));
  pass.events.push(...run.events);
}

interface PodsOutcome {
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
function failuresAndPods(pass: Pass, upgrade: UpgradeDecision, deployedSpec: StreamJobSpec): PodsOutcome {
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
function nodeNotReady({ pod, node }: PodsOutcome['unready'][number], nodeLostTimeoutMs: number) {
  // The time it left Ready rather than for how long, so the condition's message (and status) does not change
  // at every pass.
  const since = node.notReadySince ? ` since ${node.notReadySince.toISOString()}` : '';
  return {
    pod,
    reason: 'NodeNotReady',
    message: `node ${node.name} is not Ready${since}; the pod is replaced elsewhere ${Math.round(nodeLostTimeoutMs / 1000)}s after the node left Ready, unless it comes back`,
  };
}

function recordPhase(pass: Pass, pods: PodsOutcome): Phase {
  const { status } = pass;
  const phase = decidePhase({
    failed: status.phase === 'Failed',
    suspended: pass.job.spec.state === 'suspended',
    upgradeStep: status.upgrade?.step ?? 'Idle',
    readyPods: pods.readyPods.length,
    wantedPods: pods.wanted,
    restartPending: Boolean(status.restarts?.nextRestartAt),
    restartedNow: pods.restartedNow,
    podsOnUnreadyNodes: pods.unready.length,
    previous: pass.previous.phase,
  });
  status.phase = phase;
  if (phase === 'Running' && pass.options.checkpointPollIntervalMs)
    pass.requeue(pass.options.checkpointPollIntervalMs);
  return phase;
}

/** A failed deletion of dropped savepoints is tried again after this long. */
const disposalRetryMs = 60_000;

/**
 * Manual, requested (StreamJobSnapshot) and periodic savepoints, then the
 * history: what it keeps, and deleting what it drops; then the snapshot
 * resources, read off the status this leaves.
 */
function recordSavepoints(pass: Pass, phase: Phase, readyPods: ObservedPod[], wanted: number): void {
  const { job, observation, now, status, timing } = pass;
  // Every task must take part, or the savepoint would be missing partitions.
  const targets: SavepointTarget[] =
    readyPods.length === wanted && readyPods.every((p) => p.podIP) ? reachable(readyPods) : [];
  const snapshots = decideJobSnapshots(job, status, observation);
  const since = periodicSavepointSince(status);
  const savepoint = decideSavepoint(status, {
    nonce: job.spec.savepointTriggerNonce,
    phase,
    targets,
    now,
    timeoutMs: timing.triggeredSavepointTimeoutMs,
    ...(observation.savepointOutcome ? { outcome: observation.savepointOutcome } : {}),
    locate: (id) => jobSavepointUrl(job, id),
    ...(timing.savepointIntervalMs !== undefined ? { periodicIntervalMs: timing.savepointIntervalMs } : {}),
    ...(since ? { periodicSince: since } : {}),
    ...(snapshots.requested !== undefined ? { requested: snapshots.requested } : {}),
  });
  pass.events.push(...savepoint.events);
  if (savepoint.action) pass.actions.push(savepoint.action);
  pass.requeue(savepoint.requeueAfterMs);

  const inUse = snapshots.release();
  const history = decideSavepointHistory(status, {
    maxCount: job.spec.savepoints.historyMaxCount,
    maxAgeMs: timing.savepointHistoryMaxAgeMs,
    now,
    protectedIds: new Set([
      ...savepointsInUse(status, initialSavepointOf(job, observation.initialSnapshot)),
      ...inUse,
    ]),
    disposer: phase === 'Running' ? targets[0] : undefined,
    outcome: observation.disposalOutcome,
    retryAfterMs: disposalRetryMs,
  });
  pass.events.push(...history.events);
  if (history.action) pass.actions.push(history.action);
  pass.requeue(history.requeueAfterMs);

  const resources = snapshots.reconcile(phase);
  pass.actions.push(...resources.actions);
  pass.snapshotEvents.push(...resources.events);
}

/** Conditions, the phase-change event, and rechecks due to a failure window or a NotReady node. */
function recordConditions(pass: Pass, phase: Phase, pods: PodsOutcome, deployedSpec: StreamJobSpec): void {
  const { status, previous, now, options, observation } = pass;
  const failedMessage =
    pods.failedMessage ??
    previous.conditions?.find((c) => c.type === 'Ready' && c.reason === 'RestartStrategyExhausted')
      ?.message ??
    'the job failed';
  const lastFailure = status.restarts?.lastFailure;
  const sinceFailure = lastFailure
    ? now.getTime() - new Date(lastFailure.time).getTime()
    : Number.POSITIVE_INFINITY;
  if (phase !== 'Failed' && sinceFailure < options.degradedWindowMs)
    pass.requeue(options.degradedWindowMs - sinceFailure);
  const summary = jobConditions(status.conditions ?? [], {
    phase,
    parallelism: deployedSpec.parallelism,
    readyTasks: pods.readyTasks,
    failedMessage,
    ...(lastFailure ? { lastFailure } : {}),
    recentlyFailed: sinceFailure < options.degradedWindowMs,
    generation: pass.job.metadata.generation ?? 0,
    now,
    podProblems: [
      ...(observation.podRejections ?? []).map(({ pod, message }) => ({
        pod,
        reason: 'PodRejected',
        message: bounded(message),
      })),
      ...pods.unready.map((u) => nodeNotReady(u, options.nodeLostTimeoutMs)),
      ...observation.pods
        .filter((p) => pods.plan.tracked.has(p.name) && p.notStarted)
        .map((p) => ({ pod: p.name, ...(p.notStarted as { reason: string; message: string }) })),
    ],
    ...(status.upgrade ? { upgrade: status.upgrade } : {}),
  });
  status.conditions = summary.conditions;
  const readyNow = summary.conditions.find((c) => c.type === 'Ready');
  const readyBefore = previous.conditions?.find((c) => c.type === 'Ready');
  if (summary.podProblem && readyNow && readyNow.reason !== readyBefore?.reason) {
    // A pod that cannot be scheduled or started changes no phase; the condition's new reason is the news.
    pass.events.push({
      type: 'Warning',
      reason: podProblemReason(readyNow.reason),
      message: readyNow.message,
    });
  }
  if (previous.phase !== phase) {
    pass.events.push({
      type: phase === 'Failed' ? 'Warning' : 'Normal',
      reason: phase,
      message: `phase ${previous.phase ?? 'none'} → ${phase}: ${summary.readyMessage}`,
    });
  }
  // Pods on a NotReady node are rechecked when the node-lost timeout expires.
  for (const { node } of pods.unready) {
    if (node.notReadySince)
      pass.requeue(node.notReadySince.getTime() + options.nodeLostTimeoutMs - now.getTime());
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
