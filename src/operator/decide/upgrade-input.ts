import { savepointCompleteMessage } from '../../api/control-api.ts';
import { deployedSpecOf, type StreamJob, type StreamJobStatus } from '../../api/streamjob.ts';
import { podCount } from '../deploy/taskmanager-pod.ts';
import { failureOf } from './failures.ts';
import type { Observation, ObservedPod } from './observation.ts';
import type { ObservedTaskReport } from './progress.ts';
import { activeSlotsOf, slotCount } from './standby.ts';
import type { JobTiming } from './timing.ts';
import { decideUpgrade, type UpgradeDecision, type UpgradeInput } from './upgrade.ts';
import { readyWarmPods, warmSlotsFor } from './warm-pods.ts';

/** The current deployment's pods that run and can be reached over the control channel. */
export function reachable(pods: ObservedPod[]) {
  return pods
    .filter((p) => p.ready && p.phase === 'Running' && !p.deleting && p.podIP)
    .map((p) => ({ pod: p.name, podIP: p.podIP ?? '' }));
}

/** Task states before a task has restored: its report cannot yet say how it restored. */
const restoringStates = new Set(['created', 'restoring']);

/**
 * The live pods that have not yet said how their tasks restored: no report from them, or one taken while a task
 * was still restoring (a stateless first stage may already run and checkpoint beside a stateful stage that
 * restores, so the job can look stable before that report arrives).
 */
export function podsNotDoneRestoring(
  live: readonly { pod: string }[],
  reports: readonly Pick<ObservedTaskReport, 'pod' | 'state'>[],
): string[] {
  const reported = new Set(reports.map((r) => r.pod));
  const restoring = new Set(reports.filter((r) => restoringStates.has(r.state)).map((r) => r.pod));
  return live.filter((p) => !reported.has(p.pod) || restoring.has(p.pod)).map((p) => p.pod);
}

/** The upgrade machine's view of this pass: what runs, what failed, whether the deployment is stable. */
export function decideJobUpgrade(
  job: StreamJob,
  status: StreamJobStatus,
  observation: Observation,
  now: Date,
  timing: JobTiming,
  more: {
    /** Every pod of the job, standbys and a warm upgrade's among them. */
    allPods: readonly ObservedPod[];
    newRunId: () => string;
  },
): UpgradeDecision {
  const { spec } = job;
  const deployment = status.deployment;
  // A manual savepoint in flight finishes first; an upgrade starts on a later pass.
  if (deployment && status.savepointInProgress && !status.upgrade) {
    return { upgrade: undefined, holdPods: false, recordStable: false, events: [] };
  }
  const deployedSpec = deployedSpecOf({ spec, status });
  const tracked = new Set(status.pods ?? []);
  const byName = new Map(observation.pods.map((p) => [p.name, p]));
  const current = [...tracked].flatMap((n) => byName.get(n) ?? []);
  const live = reachable(current);
  const wanted = podCount(deployedSpec.parallelism, deployedSpec.taskSlots);
  const restartPending = Boolean(status.restarts?.nextRestartAt);
  const podFailed = [...tracked].some((n) => {
    const failure = failureOf(n, byName.get(n), observation, now, Number.POSITIVE_INFINITY);
    return failure !== undefined && failure.reason !== 'PodSucceeded';
  });
  const checkpointTime = status.checkpoint?.latestCompleted?.time;
  const lastFailureTime = status.restarts?.lastFailure?.time;
  const since = Math.max(
    deployment ? new Date(deployment.time).getTime() : 0,
    lastFailureTime ? new Date(lastFailureTime).getTime() : 0,
  );
  const allReady = live.length === wanted && !restartPending && status.phase !== 'Failed';
  const stable = allReady && checkpointTime !== undefined && new Date(checkpointTime).getTime() > since;
  return decideUpgrade({
    upgrade: status.upgrade,
    deployment,
    lastStable: status.lastStableSpec,
    spec,
    timing,
    generation: job.metadata.generation ?? 0,
    now,
    running: allReady ? live : undefined,
    live,
    podFailed,
    stoppedWithSavepoint:
      tracked.size > 0 &&
      [...tracked].every((n) => {
        const pod = byName.get(n);
        const id = status.upgrade?.savepointId;
        return pod?.phase === 'Succeeded' && id !== undefined && savepointWrittenBy(pod, id);
      }),
    suspended: spec.state === 'suspended',
    failed: status.phase === 'Failed',
    stable,
    lastCheckpointTime: checkpointTime ? new Date(checkpointTime) : undefined,
    savepointOutcome: observation.savepointOutcome,
    savepointInProgress: status.savepointInProgress !== undefined,
    unreportedPods: podsNotDoneRestoring(live, observation.checkpoints ?? []),
    warmRestores: (observation.checkpoints ?? []).flatMap((r) =>
      r.warmRestore ? [{ task: `${r.stage ?? 0}/${r.task}`, ...r.warmRestore }] : [],
    ),
    ...warmInput(job, status, more.allPods),
    newRunId: more.newRunId,
  });
}

/** A warm upgrade's view: whether its pods are Ready, and the slots its pods would take were it to start now. */
function warmInput(
  job: StreamJob,
  status: StreamJobStatus,
  pods: readonly ObservedPod[],
): Pick<UpgradeInput, 'warmReady' | 'warmCount' | 'warmSlots'> {
  const wanted = podCount(job.spec.parallelism, job.spec.taskSlots);
  const warm = status.upgrade?.warm;
  const ready = warm ? readyWarmPods(pods, warm) : 0;
  return {
    warmReady: warm !== undefined && ready >= wanted,
    warmCount: { ready, wanted },
    warmSlots: warmSlotsFor(wanted, activeSlotsOf(status), slotCount(job.spec) - 1, pods),
  };
}

/**
 * A job deployed by an operator from before status.deployment: its running
 * pods were made from the spec whose hash status.specHash holds. If that is
 * today's spec, it is the deployment; otherwise the older spec is unknown, and
 * the pods are replaced from the last committed state as that operator did.
 */
export function legacyDeployment(job: StreamJob, status: StreamJobStatus): StreamJobStatus['deployment'] {
  if (!status.specHash) return undefined;
  const time =
    status.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime ?? new Date(0).toISOString();
  return { spec: job.spec, generation: job.metadata.generation ?? 0, time };
}

/** Whether a pod's termination message says it wrote its part of savepoint `id` before it stopped. */
export function savepointWrittenBy(pod: ObservedPod, id: string): boolean {
  return pod.terminationMessage?.includes(savepointCompleteMessage(id)) ?? false;
}
