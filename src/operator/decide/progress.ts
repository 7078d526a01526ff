import type { TaskCheckpointReport } from '../../api/control-api.ts';
import { commitOverdue, noProgressMessage, stalledTasks } from '../../api/progress.ts';
import type { JobTiming } from './timing.ts';

/** A task's report as the operator received it: from which pod (by name and uid). */
export interface ObservedTaskReport extends TaskCheckpointReport {
  pod: string;
  podUid: string;
}

/** A pod whose tasks stopped making progress, as its own report says. */
export interface StalledPod {
  uid: string;
  /** "NO_PROGRESS: no commit within the progress window of 6s: task 0 (lag 120, last commit 7s ago)" */
  cause: string;
}

/**
 * The pods whose reports show a task that has not committed within the
 * window, by pod name: the same judgement the TaskManager's liveness endpoint
 * makes, taken from the TaskManager's own clock, so neither side depends on
 * the other's clock or on the kubelet's probe period.
 */
export function stalledPods(
  reports: readonly ObservedTaskReport[],
  windowMs: number,
): Map<string, StalledPod> {
  const byPod = new Map<string, ObservedTaskReport[]>();
  for (const r of reports) byPod.set(r.pod, [...(byPod.get(r.pod) ?? []), r]);
  const stalled = new Map<string, StalledPod>();
  for (const [pod, own] of byPod) {
    const tasks = stalledTasks(own, windowMs);
    if (tasks.length === 0) continue;
    stalled.set(pod, {
      uid: own[0]?.podUid ?? '',
      cause: `NO_PROGRESS: ${noProgressMessage(windowMs, tasks)}`,
    });
  }
  return stalled;
}

/**
 * How long until the job's TaskManagers should be asked again: the usual
 * period, but at most half the window so a stall is seen in time, and a tenth
 * of the window (at least a second) while a commit is overdue, so the stall
 * is caught soon after the window runs out. Only a job that looks stuck is
 * asked often; a healthy one costs one request per pod per period.
 */
export function nextPollDelayMs(
  reports: readonly ObservedTaskReport[] | undefined,
  timing: Pick<JobTiming, 'checkpointIntervalMs' | 'progressWindowMs'>,
  periodMs: number,
): number {
  const usual = Math.max(1000, Math.min(periodMs, timing.progressWindowMs / 2));
  if (!reports || !commitOverdue(reports, timing.checkpointIntervalMs)) return usual;
  return Math.min(usual, Math.max(1000, timing.progressWindowMs / 10));
}
