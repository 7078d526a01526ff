import { createHash } from 'node:crypto';
import { taskManagerPodName } from '../../api/constants.ts';
import { parseDuration } from '../../api/duration.ts';
import type { FailureRecord, Phase, StreamJob, StreamJobStatus } from '../../api/streamjob.ts';
import { savepointLocation } from '../deploy/savepoint-location.ts';
import { jobSelector, podCount, tasksOfPod } from '../deploy/taskmanager-pod.ts';
import { checkpointEvents, summarizeCheckpoints } from './checkpoint-summary.ts';
import { jobConditions } from './conditions.ts';
import type { Observation, ObservedPod } from './observation.ts';
import {
  decideRestart,
  type FailureHistory,
  maxRecentFailures,
  recordFailure,
  resolveRestartStrategy,
} from './restart-strategy.ts';
import { decideSavepoint, type TriggerSavepoint } from './savepoint.ts';

export type Action =
  | { kind: 'createPod'; index: number }
  | { kind: 'deletePod'; name: string; uid: string; force: boolean; reason: string }
  | { kind: 'ensureTokenSecret' }
  | TriggerSavepoint;

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Decision {
  status: StreamJobStatus;
  actions: Action[];
  events: EventSpec[];
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

/** The spec fields that shape the pods; a change to any of them replaces the pods. */
const podShapingFields = [
  'image',
  'entry',
  'args',
  'parallelism',
  'taskSlots',
  'kafka',
  'checkpoints',
  'taskManager',
] as const;

export function specHash(job: StreamJob): string {
  const shaping: Record<string, unknown> = Object.fromEntries(podShapingFields.map((f) => [f, job.spec[f]]));
  // Only when set, so jobs that never used it keep the hash (and pods) they had before the field existed.
  if (job.spec.allowNonRestoredState) shaping.allowNonRestoredState = true;
  return createHash('sha256').update(JSON.stringify(shaping)).digest('hex').slice(0, 10);
}

/** The failure history of a fresh deployment. */
function noFailures(): NonNullable<StreamJobStatus['restarts']> {
  return { count: 0, consecutive: 0, recentFailures: [] };
}

function historyFrom(status: StreamJobStatus): FailureHistory {
  const restarts = status.restarts ?? {};
  return {
    count: restarts.count ?? 0,
    consecutive: restarts.consecutive ?? 0,
    recent: (restarts.recentFailures ?? []).map((f) => new Date(f.time)),
    ...(restarts.lastRestartAt ? { lastRestartAt: new Date(restarts.lastRestartAt) } : {}),
  };
}

interface Failure {
  pod: ObservedPod | undefined;
  name: string;
  reason: 'PodFailed' | 'PodSucceeded' | 'PodDeleted' | 'NodeLost';
  message: string;
}

/** Why a pod the operator counts as live is no longer live, if it is not. */
function failureOf(
  name: string,
  pod: ObservedPod | undefined,
  observation: Observation,
  now: Date,
  nodeLostTimeoutMs: number,
): Failure | undefined {
  if (!pod) return { pod, name, reason: 'PodDeleted', message: `pod ${name} was deleted` };
  if (pod.deleting) return { pod, name, reason: 'PodDeleted', message: `pod ${name} is being deleted` };
  if (pod.phase === 'Failed') {
    return {
      pod,
      name,
      reason: 'PodFailed',
      message: `pod ${name} failed: ${pod.terminationMessage ?? 'no details'}`,
    };
  }
  if (pod.phase === 'Succeeded') {
    return { pod, name, reason: 'PodSucceeded', message: `pod ${name} exited unexpectedly with success` };
  }
  const node = pod.nodeName ? observation.nodes.get(pod.nodeName) : undefined;
  if (node && !node.ready && node.notReadySince) {
    const downFor = now.getTime() - node.notReadySince.getTime();
    if (downFor >= nodeLostTimeoutMs) {
      return {
        pod,
        name,
        reason: 'NodeLost',
        message: `node ${node.name} of pod ${name} has not been Ready for ${Math.round(downFor / 1000)}s`,
      };
    }
  }
  return undefined;
}

/**
 * The whole reconcile decision for one StreamJob, as a pure function of the
 * job, what was observed and the time. The returned status already holds
 * every intent (failures counted, restart scheduled, epoch bumped); the
 * controller records it before it acts.
 */
export function decide(
  job: StreamJob,
  observation: Observation,
  now: Date,
  options: DecideOptions,
): Decision {
  const { spec } = job;
  const generation = job.metadata.generation ?? 0;
  const name = job.metadata.name ?? '';
  const previous = job.status ?? {};
  const actions: Action[] = [{ kind: 'ensureTokenSecret' }];
  const events: EventSpec[] = [];
  const status: StreamJobStatus = structuredClone(previous);
  const strategy = resolveRestartStrategy(spec.restartStrategy);
  const wanted = podCount(spec.parallelism, spec.taskSlots);
  const hash = specHash(job);
  let requeueAfterMs: number | undefined;
  const requeue = (ms: number) => {
    requeueAfterMs = Math.max(1, Math.min(requeueAfterMs ?? ms, ms));
  };

  // A savepoint to start from, not yet the origin of the current run: a new run restores from it.
  if (spec.initialSavepoint && status.run?.restoredFrom !== spec.initialSavepoint) {
    const replacing = status.run !== undefined;
    status.run = { id: options.newRunId(), restoredFrom: spec.initialSavepoint };
    if (replacing) status.restartEpoch = (status.restartEpoch ?? 0) + 1;
    events.push({
      type: 'Normal',
      reason: 'RestoringFromSavepoint',
      message: `starting run ${status.run.id} from savepoint ${spec.initialSavepoint}`,
    });
  }
  status.run ??= { id: options.newRunId() };
  status.restartEpoch ??= 0;
  status.selector = jobSelector(name);
  const firstSight = status.observedGeneration === undefined;

  // A new generation is a new deployment: the restart strategy starts over, and a Failed job is revived.
  if (!firstSight && status.observedGeneration !== generation) {
    status.restarts = noFailures();
    if (status.phase === 'Failed') status.phase = 'Deploying';
  }
  if (status.observedRestartNonce === undefined) {
    status.observedRestartNonce = spec.restartNonce;
  } else if (status.observedRestartNonce !== spec.restartNonce) {
    status.observedRestartNonce = spec.restartNonce;
    status.restartEpoch += 1;
    if (status.restarts) delete status.restarts.nextRestartAt;
    if (status.phase === 'Failed') {
      status.phase = 'Deploying';
      status.restarts = noFailures();
    }
    events.push({
      type: 'Normal',
      reason: 'RestartRequested',
      message: 'restartNonce changed: restarting every pod',
    });
  }
  status.observedGeneration = generation;
  status.specHash = hash;

  const byName = new Map(observation.pods.map((p) => [p.name, p]));
  const tracked = new Set(status.pods ?? []);
  const deleting = new Set<string>();
  const deletePod = (pod: ObservedPod, reason: string, force = false) => {
    tracked.delete(pod.name);
    if (deleting.has(pod.name) || (pod.deleting && !force)) return;
    deleting.add(pod.name);
    actions.push({ kind: 'deletePod', name: pod.name, uid: pod.uid, force, reason });
  };
  const deleteAll = (reason: string) => {
    for (const pod of observation.pods) deletePod(pod, reason);
  };

  const suspended = spec.state === 'suspended';
  let failedMessage: string | undefined;
  if (status.phase !== 'Failed' && !suspended) {
    // 1. Failures of pods counted as live.
    const failures: Failure[] = [];
    for (const podName of [...tracked].sort()) {
      const failure = failureOf(podName, byName.get(podName), observation, now, options.nodeLostTimeoutMs);
      if (!failure) continue;
      failures.push(failure);
      tracked.delete(podName);
      if (failure.pod) deletePod(failure.pod, failure.reason, failure.reason === 'NodeLost');
    }
    if (failures.length > 0) {
      let history = historyFrom(status);
      const records: FailureRecord[] = [];
      for (const failure of failures) {
        history = recordFailure(history, now, strategy);
        records.push({
          time: now.toISOString(),
          pod: failure.name,
          reason: failure.reason,
          message: failure.message,
        });
        events.push({ type: 'Warning', reason: 'TaskFailed', message: failure.message });
      }
      const decision = decideRestart(strategy, history, now, options.random);
      const lastFailure = records.at(-1);
      status.restarts = {
        ...status.restarts,
        count: history.count,
        consecutive: history.consecutive,
        recentFailures: [...(status.restarts?.recentFailures ?? []), ...records].slice(-maxRecentFailures),
        ...(lastFailure ? { lastFailure } : {}),
      };
      if (decision.kind === 'fail') {
        status.phase = 'Failed';
        delete status.restarts.nextRestartAt;
        events.push({ type: 'Warning', reason: decision.reason, message: decision.message });
        failedMessage = decision.message;
      } else {
        const pending = status.restarts.nextRestartAt ? new Date(status.restarts.nextRestartAt) : undefined;
        const at = pending && pending > decision.at ? pending : decision.at;
        status.restarts.nextRestartAt = at.toISOString();
        status.phase = 'Restarting';
        if (spec.failoverStrategy === 'full') status.restartEpoch += 1;
        const scope = spec.failoverStrategy === 'full' ? 'all pods' : failures.map((f) => f.name).join(', ');
        events.push({
          type: 'Normal',
          reason: 'RestartScheduled',
          message: `restarting ${scope} in ${Math.round(decision.delayMs / 100) / 10}s (${strategy.type}, failover ${spec.failoverStrategy})`,
        });
      }
    }
  }

  if (status.phase === 'Failed') {
    deleteAll('JobFailed');
  } else if (suspended) {
    deleteAll('Suspended');
    if (status.restarts) delete status.restarts.nextRestartAt;
  } else {
    // 2. Pods of an older epoch or spec, or beyond the wanted count, are replaced (not failures).
    for (const pod of observation.pods) {
      const current = pod.restartEpoch === status.restartEpoch && pod.specHash === hash && pod.index >= 0;
      if (!current || pod.index >= wanted) {
        deletePod(pod, current ? 'ScaledDown' : 'Replaced');
      } else if (deleting.has(pod.name) || observation.released.has(pod.uid)) {
        // given up on, in this pass or an earlier one that a lagging cache has not caught up with
      } else if (!pod.deleting && pod.phase !== 'Failed' && pod.phase !== 'Succeeded') {
        tracked.add(pod.name); // created by an earlier pass: adopt it
      } else if (!tracked.has(pod.name) && !pod.deleting) {
        deletePod(pod, 'Cleanup'); // an ended pod already counted
      }
    }
    // 3. Create missing pods, unless a restart is still waiting out its delay.
    const due = status.restarts?.nextRestartAt ? new Date(status.restarts.nextRestartAt) : undefined;
    if (due && due > now) {
      requeue(due.getTime() - now.getTime());
    } else {
      if (due && status.restarts) {
        delete status.restarts.nextRestartAt;
        status.restarts.lastRestartAt = now.toISOString();
      }
      for (let index = 0; index < wanted; index++) {
        const podName = taskManagerPodName(name, index);
        const existing = byName.get(podName);
        if (tracked.has(podName)) continue;
        // A pod still ending under this name blocks its successor; its deletion event requeues.
        if (existing) continue;
        actions.push({ kind: 'createPod', index });
      }
    }
  }
  status.pods = [...tracked].sort();

  // 4. Phase, tasks and conditions.
  const readyPods = observation.pods.filter((p) => tracked.has(p.name) && p.ready && p.phase === 'Running');
  const readyTasks = readyPods.reduce(
    (n, p) => n + tasksOfPod(p.index, spec.parallelism, spec.taskSlots).length,
    0,
  );
  status.tasks = { ready: readyTasks, total: spec.parallelism, pods: wanted };
  const previousPhase = previous.phase;
  let phase: Phase;
  if (status.phase === 'Failed') phase = 'Failed';
  else if (suspended) phase = 'Suspended';
  else if (readyPods.length === wanted && !status.restarts?.nextRestartAt) phase = 'Running';
  else if (status.restarts?.nextRestartAt || previousPhase === 'Restarting' || status.phase === 'Restarting')
    phase = 'Restarting';
  else phase = 'Deploying';
  status.phase = phase;
  const savepoint = decideSavepoint(status, {
    nonce: spec.savepointTriggerNonce,
    phase,
    // Every task must take part, or the savepoint would be missing partitions.
    targets:
      readyPods.length === wanted && readyPods.every((p) => p.podIP)
        ? readyPods.map((p) => ({ pod: p.name, podIP: p.podIP ?? '' }))
        : [],
    now,
    timeoutMs: 2 * parseDuration(spec.checkpoints.timeout ?? '60s', 'spec.checkpoints.timeout') + 60_000,
    ...(observation.savepointOutcome ? { outcome: observation.savepointOutcome } : {}),
    locate: (id) => savepointLocation(job, id),
  });
  events.push(...savepoint.events);
  if (savepoint.action) actions.push(savepoint.action);
  if (observation.checkpoints) {
    status.checkpoint = summarizeCheckpoints(previous.checkpoint, observation.checkpoints, spec.parallelism);
    events.push(
      ...checkpointEvents(previous.checkpoint, status.checkpoint, spec.checkpoints.tolerableFailures),
    );
  }
  if (phase === 'Running' && options.checkpointPollIntervalMs) requeue(options.checkpointPollIntervalMs);

  failedMessage ??=
    previous.conditions?.find((c) => c.type === 'Ready' && c.reason === 'RestartStrategyExhausted')
      ?.message ?? 'the job failed';
  const lastFailure = status.restarts?.lastFailure;
  const sinceFailure = lastFailure
    ? now.getTime() - new Date(lastFailure.time).getTime()
    : Number.POSITIVE_INFINITY;
  if (phase !== 'Failed' && sinceFailure < options.degradedWindowMs)
    requeue(options.degradedWindowMs - sinceFailure);
  const summary = jobConditions(status.conditions ?? [], {
    phase,
    parallelism: spec.parallelism,
    readyTasks,
    failedMessage,
    ...(lastFailure ? { lastFailure } : {}),
    recentlyFailed: sinceFailure < options.degradedWindowMs,
    generation,
    now,
  });
  status.conditions = summary.conditions;

  if (previousPhase !== phase) {
    events.push({
      type: phase === 'Failed' ? 'Warning' : 'Normal',
      reason: phase,
      message: `phase ${previousPhase ?? 'none'} → ${phase}: ${summary.readyMessage}`,
    });
  }
  // Pods on a NotReady node are rechecked when the node-lost timeout expires.
  for (const pod of observation.pods) {
    const node = pod.nodeName ? observation.nodes.get(pod.nodeName) : undefined;
    if (node && !node.ready && node.notReadySince && tracked.has(pod.name)) {
      requeue(node.notReadySince.getTime() + options.nodeLostTimeoutMs - now.getTime());
    }
  }
  return { status, actions, events, ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}) };
}
