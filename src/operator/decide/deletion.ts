import { finalSavepointFinalizer } from '../../api/constants.ts';
import { jobSavepointUrl } from '../../api/names.ts';
import { deployedSpecOf, type Phase, type StreamJob, type StreamJobStatus } from '../../api/streamjob.ts';
import { podCount } from '../deploy/taskmanager-pod.ts';
import type { EventSpec } from './events.ts';
import type { Observation } from './observation.ts';
import { recordSavepoint, type SavepointOutcome, type SavepointTarget, savepointIdAt } from './savepoint.ts';
import { timingOf } from './timing.ts';
import type { StopWithSavepoint } from './upgrade.ts';
import { reachable } from './upgrade-input.ts';

/** Adds or removes the final-savepoint finalizer (a patch of metadata.finalizers). */
export interface FinalizerChange {
  kind: 'addFinalizer' | 'removeFinalizer';
  finalizer: typeof finalSavepointFinalizer;
}

/**
 * spec.savepoints.onDeletion is kept by a finalizer: present while it is set,
 * so a deletion waits for the final savepoint; removed when the setting is
 * turned off. A job being deleted is decideDeletion's.
 */
export function finalizerChange(
  onDeletion: boolean,
  finalizers: readonly string[] | undefined,
): FinalizerChange | undefined {
  const has = finalizers?.includes(finalSavepointFinalizer) ?? false;
  if (onDeletion && !has) return { kind: 'addFinalizer', finalizer: finalSavepointFinalizer };
  if (!onDeletion && has) return { kind: 'removeFinalizer', finalizer: finalSavepointFinalizer };
  return undefined;
}

export interface DeletionInput {
  onDeletion: boolean;
  phase: Phase | undefined;
  /** Every wanted pod of the deployment Ready with an address; undefined otherwise. */
  running: SavepointTarget[] | undefined;
  /** The deployment's pods that still run (to ask again after an operator restart). */
  live: SavepointTarget[];
  now: Date;
  /** spec.upgrade.savepointTimeout: the final savepoint may take this long. */
  timeoutMs: number;
  outcome: SavepointOutcome | undefined;
  locate: (id: string) => string;
}

export interface DeletionDecision {
  action?: StopWithSavepoint | FinalizerChange;
  events: EventSpec[];
  requeueAfterMs?: number;
}

/** A deletion's decision with the status to record before it is acted on. */
export interface JobDeletionDecision extends DeletionDecision {
  status: StreamJobStatus;
}

/**
 * The decision for a StreamJob being deleted under the final-savepoint
 * finalizer, from the job and what was observed, as decide() is for a live
 * job: which pods can be asked (the deployment's, every one Ready for a new
 * savepoint), how long it may take, and the outcome of a request made before.
 */
export function decideJobDeletion(job: StreamJob, observation: Observation, now: Date): JobDeletionDecision {
  const previous = job.status ?? {};
  const status = structuredClone(previous);
  const deployed = deployedSpecOf({ spec: job.spec, status: previous });
  const tracked = new Set(previous.pods ?? []);
  const live = reachable(observation.pods.filter((p) => tracked.has(p.name)));
  const decision = decideDeletion(status, {
    onDeletion: job.spec.savepoints.onDeletion,
    phase: previous.phase,
    running: live.length === podCount(deployed.parallelism, deployed.taskSlots) ? live : undefined,
    live,
    now,
    timeoutMs: timingOf(job.spec).savepointTimeoutMs,
    outcome: observation.savepointOutcome,
    locate: (id) => jobSavepointUrl(job, id),
  });
  return { ...decision, status };
}

const release: FinalizerChange = { kind: 'removeFinalizer', finalizer: finalSavepointFinalizer };

/**
 * A StreamJob being deleted while it holds the final-savepoint finalizer
 * (status mutated in place). The intent (status.finalSavepoint) is recorded
 * before the TaskManagers are asked, so an operator restart waits for the
 * same savepoint. Whatever happens the finalizer is released in the end: a
 * savepoint that fails, times out or cannot be taken is a Warning event, never
 * a job that cannot be deleted. Checkpoints and savepoints stay in S3.
 */
export function decideDeletion(status: StreamJobStatus, input: DeletionInput): DeletionDecision {
  const pending = status.finalSavepoint;
  if (pending) {
    const path = input.locate(pending.id);
    if (input.outcome?.id === pending.id) {
      if (!input.outcome.ok) {
        return released(`final savepoint ${pending.id} failed: ${input.outcome.message}`);
      }
      const events = recordSavepoint(status, { id: pending.id, reason: 'deletion', path, now: input.now });
      return {
        action: release,
        events: [
          ...events,
          {
            type: 'Normal',
            reason: 'FinalSavepointCompleted',
            message: `final savepoint ${pending.id} complete: ${path}; a StreamJob of the same name and namespace restores it with spec.initialSavepoint: ${pending.id}, any other with spec.initialSavepoint: ${path}`,
          },
        ],
      };
    }
    const waited = input.now.getTime() - new Date(pending.startedAt).getTime();
    if (waited > input.timeoutMs) {
      return released(
        `final savepoint ${pending.id} did not complete within ${Math.round(input.timeoutMs / 1000)}s`,
      );
    }
    if (!input.live.length) {
      return released(
        `final savepoint ${pending.id}: the TaskManagers stopped without an answer the operator heard; if every part was written it is complete at ${path}`,
      );
    }
    return {
      action: { kind: 'stopWithSavepoint', id: pending.id, targets: input.live },
      events: [],
      requeueAfterMs: input.timeoutMs - waited,
    };
  }
  if (!input.onDeletion) return { action: release, events: [] };
  if (input.phase !== 'Running' || !input.running?.length) {
    return released(
      `no final savepoint: the job is ${input.phase ?? 'not started'}, not every task runs; its last committed state stays in S3`,
    );
  }
  const id = savepointIdAt('deletion', input.now);
  status.finalSavepoint = { id, startedAt: input.now.toISOString() };
  return {
    action: { kind: 'stopWithSavepoint', id, targets: input.running },
    events: [
      {
        type: 'Normal',
        reason: 'FinalSavepointRequested',
        message: `deleting: stopping ${input.running.length} TaskManager pod(s) with final savepoint ${id}`,
      },
    ],
    requeueAfterMs: input.timeoutMs,
  };
}

function released(message: string): DeletionDecision {
  return { action: release, events: [{ type: 'Warning', reason: 'FinalSavepointSkipped', message }] };
}
