import { jobSavepointUrl } from '../../api/names.ts';
import {
  deployedSpecOf,
  type Phase,
  type StreamJob,
  type StreamJobSpec,
  type StreamJobStatus,
} from '../../api/streamjob.ts';
import { jobSelector } from '../deploy/taskmanager-pod.ts';
import { autoscaleJob } from './autoscaler-pass.ts';
import { bounded } from './bounded.ts';
import { checkpointEvents, summarizeCheckpoints } from './checkpoint-summary.ts';
import { jobConditions } from './conditions.ts';
import { type EventSpec, podProblemReason } from './events.ts';
import { initialSavepointOf, waitForInitialSnapshot } from './initial-snapshot.ts';
import type { Observation, ObservedPod } from './observation.ts';
import { offsetResetEvents } from './offset-resets.ts';
import type { Action, DecideOptions, Pass } from './pass.ts';
import { decidePhase } from './phase.ts';
import { failuresAndPods, nodeNotReady, type PodsOutcome } from './pods-pass.ts';
import { decideRun } from './run.ts';
import {
  decideSavepoint,
  periodicSavepointSince,
  recordSavepoint,
  type SavepointTarget,
} from './savepoint.ts';
import { decideSavepointHistory, savepointsInUse } from './savepoint-history.ts';
import { decideJobSnapshots, type SnapshotEvent } from './snapshot-pass.ts';
import { specHashOf } from './spec-diff.ts';
import { activeSlotsOf, splitByRole } from './standby.ts';
import { timingOf } from './timing.ts';
import type { UpgradeDecision } from './upgrade.ts';
import { decideJobUpgrade, legacyDeployment, reachable } from './upgrade-input.ts';

export interface Decision {
  status: StreamJobStatus;
  actions: Action[];
  events: EventSpec[];
  /** Events on the job's StreamJobSnapshots, recorded on each snapshot. */
  snapshotEvents: SnapshotEvent[];
  /** Reconcile again after this long even if nothing changes (a due restart, a node timeout). */
  requeueAfterMs?: number;
}

/** The hash of the pod-shaping fields of a job's spec (pods carry it as a label). */
export function specHash(job: StreamJob): string {
  return specHashOf(job.spec);
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
