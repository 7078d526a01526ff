import { stoppedOnSigtermMessage } from '../../api/control-api.ts';
import type { FailureRecord, StreamJobSpec, StreamJobStatus } from '../../api/streamjob.ts';
import type { EventSpec } from './events.ts';
import { type Observation, type ObservedPod, unreadyNodeOf } from './observation.ts';
import type { StalledPod } from './progress.ts';
import {
  decideRestart,
  type FailureHistory,
  maxRecentFailures,
  type RestartStrategy,
  recordFailure,
} from './restart-strategy.ts';

export type Restarts = NonNullable<StreamJobStatus['restarts']>;

export interface Failure {
  pod: ObservedPod | undefined;
  name: string;
  reason: 'PodFailed' | 'PodSucceeded' | 'PodDeleted' | 'NodeLost' | 'NoProgress';
  message: string;
}

/** The failure history of a fresh deployment. */
export function noFailures(): Restarts {
  return { count: 0, consecutive: 0, recentFailures: [] };
}

function historyFrom(restarts: Restarts | undefined): FailureHistory {
  return {
    count: restarts?.count ?? 0,
    consecutive: restarts?.consecutive ?? 0,
    recent: (restarts?.recentFailures ?? []).map((f) => new Date(f.time)),
    ...(restarts?.lastRestartAt ? { lastRestartAt: new Date(restarts.lastRestartAt) } : {}),
  };
}

/** What a TaskManager that stopped for want of progress writes at the head of its termination message. */
const noProgressCode = /(^|: )NO_PROGRESS: /;

/** Why a pod the operator counts as live is no longer live, if it is not. */
export function failureOf(
  name: string,
  pod: ObservedPod | undefined,
  observation: Observation,
  now: Date,
  nodeLostTimeoutMs: number,
  stalled: ReadonlyMap<string, StalledPod> = new Map(),
): Failure | undefined {
  if (!pod) return { pod, name, reason: 'PodDeleted', message: `pod ${name} was deleted` };
  if (pod.deleting) return { pod, name, reason: 'PodDeleted', message: `pod ${name} is being deleted` };
  if (pod.phase === 'Failed') {
    // Its liveness probe failed for want of progress before the operator saw the stall: the same cause either way.
    const noProgress = noProgressCode.test(pod.terminationMessage ?? '');
    return {
      pod,
      name,
      reason: noProgress ? 'NoProgress' : 'PodFailed',
      message: `pod ${name} failed: ${pod.terminationMessage ?? 'no details'}`,
    };
  }
  if (pod.phase === 'Succeeded')
    return { pod, name, reason: 'PodSucceeded', message: succeededMessage(name, pod) };
  if (observation.gone?.has(pod.uid)) {
    return {
      pod,
      name,
      reason: 'PodFailed',
      message: `pod ${name} failed: its TaskManager process ended (its control port refuses connections; the exit cause is in the pod's status once the kubelet reports it)`,
    };
  }
  const stall = stalled.get(name);
  if (stall && stall.uid === pod.uid) {
    return { pod, name, reason: 'NoProgress', message: `pod ${name} made no progress: ${stall.cause}` };
  }
  const node = unreadyNodeOf(pod, observation);
  if (node?.notReadySince) {
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
 * Why a pod the operator did not delete ended with exit code 0. Its TaskManager stops cleanly on SIGTERM and says
 * so; undeleted, that signal came from the kubelet killing the container, which it does when the liveness probe
 * fails (the control port did not answer in time: the probe's Unhealthy events give its answers).
 */
function succeededMessage(name: string, pod: ObservedPod): string {
  if (pod.terminationMessage?.includes(stoppedOnSigtermMessage)) {
    return `pod ${name} was stopped by the kubelet without being deleted, most likely because its liveness probe failed (see the pod's Unhealthy events); it committed its work before it exited`;
  }
  const said = pod.terminationMessage ? ` (${pod.terminationMessage})` : '';
  return `pod ${name} exited unexpectedly with success${said}`;
}

export interface FailuresInput {
  /** The pods counted as live, by name. */
  tracked: ReadonlySet<string>;
  observation: Observation;
  /** Pods whose own reports show a task stalled past the progress window (progress.ts stalledPods). */
  stalled?: ReadonlyMap<string, StalledPod>;
  now: Date;
  nodeLostTimeoutMs: number;
  strategy: RestartStrategy;
  failoverStrategy: StreamJobSpec['failoverStrategy'];
  restarts: Restarts | undefined;
  random: () => number;
  /**
   * The standby to promote for a failed pod (spec.standby), if one can take
   * over; region failover only. A failure it covers still counts for the
   * restart strategy, but waits for no restart delay: the standby is running.
   */
  standbyFor?: (failure: Failure) => ObservedPod | undefined;
}

/** A failed pod's tasks taken over by a standby pod of the same index. */
export interface Promotion {
  failure: Failure;
  standby: ObservedPod;
}

export type FailuresDecision =
  | { kind: 'none' }
  | {
      kind: 'restart';
      failures: Failure[];
      restarts: Restarts;
      /** full failover: every pod is replaced, not only the failed ones. */
      replaceAll: boolean;
      /** Failures a standby takes over; the others wait for the restart. */
      promotions: Promotion[];
      /** False when standbys took over every failure: no pod waits for a restart delay. */
      restartScheduled: boolean;
      events: EventSpec[];
    }
  | { kind: 'fail'; failures: Failure[]; restarts: Restarts; message: string; events: EventSpec[] };

/**
 * Failures of the pods counted as live, counted once each, and what the
 * restart strategy makes of them: a restart at a due time (kept if a later
 * one is already pending), or the job failed.
 */
export function decideFailures(input: FailuresInput): FailuresDecision {
  const { observation, now, strategy } = input;
  const byName = new Map(observation.pods.map((p) => [p.name, p]));
  const failures: Failure[] = [];
  for (const name of [...input.tracked].sort()) {
    const failure = failureOf(
      name,
      byName.get(name),
      observation,
      now,
      input.nodeLostTimeoutMs,
      input.stalled,
    );
    if (failure) failures.push(failure);
  }
  if (failures.length === 0) return { kind: 'none' };

  let history = historyFrom(input.restarts);
  const records: FailureRecord[] = [];
  const events: EventSpec[] = [];
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
  const decision = decideRestart(strategy, history, now, input.random);
  const lastFailure = records.at(-1);
  const restarts: Restarts = {
    ...input.restarts,
    count: history.count,
    consecutive: history.consecutive,
    recentFailures: [...(input.restarts?.recentFailures ?? []), ...records].slice(-maxRecentFailures),
    ...(lastFailure ? { lastFailure } : {}),
  };
  if (decision.kind === 'fail') {
    delete restarts.nextRestartAt;
    // The strategy's verdict alone says nothing of why the tasks fail; the last failure's cause does.
    const message = lastFailure ? `${decision.message}; last: ${lastFailure.message}` : decision.message;
    events.push({ type: 'Warning', reason: decision.reason, message });
    return { kind: 'fail', failures, restarts, message, events };
  }
  const replaceAll = input.failoverStrategy === 'full';
  const promotions: Promotion[] = [];
  const waiting: Failure[] = [];
  for (const failure of failures) {
    const standby = replaceAll ? undefined : input.standbyFor?.(failure);
    if (standby) promotions.push({ failure, standby });
    else waiting.push(failure);
  }
  for (const { failure, standby } of promotions) {
    events.push({
      type: 'Normal',
      reason: 'StandbyPromoted',
      message: `standby pod ${standby.name} takes over the tasks of ${failure.name}${standby.ready ? '' : ' (not yet caught up: it replays more of the changelog)'}`,
    });
  }
  if (waiting.length === 0) {
    restarts.lastRestartAt = now.toISOString();
    return { kind: 'restart', failures, restarts, replaceAll, promotions, restartScheduled: false, events };
  }
  const pending = restarts.nextRestartAt ? new Date(restarts.nextRestartAt) : undefined;
  const at = pending && pending > decision.at ? pending : decision.at;
  restarts.nextRestartAt = at.toISOString();
  const scope = replaceAll ? 'all pods' : waiting.map((f) => f.name).join(', ');
  events.push({
    type: 'Normal',
    reason: 'RestartScheduled',
    message: `restarting ${scope} in ${Math.round(decision.delayMs / 100) / 10}s (${strategy.type}, failover ${input.failoverStrategy})`,
  });
  return { kind: 'restart', failures, restarts, replaceAll, promotions, restartScheduled: true, events };
}
