import type { StreamJobStatus } from '../../api/streamjob.ts';
import type { EventSpec } from './events.ts';
import { noFailures } from './failures.ts';
import type { RunChange } from './upgrade.ts';

export interface RunState {
  run: NonNullable<StreamJobStatus['run']> | undefined;
  observedInitialSavepoint: string | undefined;
  restartEpoch: number;
  observedRestartNonce: number | undefined;
  phase: StreamJobStatus['phase'];
  restarts: StreamJobStatus['restarts'];
}

export interface RunInput {
  initialSavepoint: string | undefined;
  restartNonce: number;
  /** A new deployment decided in this pass (an upgrade step or a rollback). */
  deployment: { run: RunChange; replacesPods: boolean } | undefined;
  newRunId: () => string;
}

/**
 * The run, the restart epoch and the revival of a Failed job, from
 * spec.initialSavepoint, spec.restartNonce and a new deployment. A new run is
 * a new lineage of committed state; a bumped epoch replaces every pod; a
 * deployment or a restartNonce starts the restart history over.
 */
export function decideRun(state: RunState, input: RunInput): { state: RunState; events: EventSpec[] } {
  const next: RunState = structuredClone(state);
  const events: EventSpec[] = [];
  const replaceAll = () => {
    if (next.run !== undefined) next.restartEpoch += 1;
  };

  // A savepoint to start from, not acted on yet: a new run restores from it. (Statuses written before
  // observedInitialSavepoint existed name it as the run's origin.)
  const observed = next.observedInitialSavepoint ?? next.run?.restoredFrom;
  if (input.initialSavepoint && observed !== input.initialSavepoint) {
    replaceAll();
    next.run = { id: input.newRunId(), restoredFrom: input.initialSavepoint };
    next.restarts = noFailures();
    if (next.phase === 'Failed') next.phase = 'Deploying';
    events.push({
      type: 'Normal',
      reason: 'RestoringFromSavepoint',
      message: `starting run ${next.run.id} from savepoint ${input.initialSavepoint}`,
    });
  }
  if (input.initialSavepoint) next.observedInitialSavepoint = input.initialSavepoint;
  const deployment = input.deployment;
  if (deployment?.replacesPods) {
    replaceAll();
    if (deployment.run.kind === 'new') next.run = { id: input.newRunId() };
    if (deployment.run.kind === 'restore') {
      next.run = { id: deployment.run.runId ?? input.newRunId(), restoredFrom: deployment.run.savepointId };
    }
    next.restarts = noFailures();
    if (next.phase === 'Failed') next.phase = 'Deploying';
  }
  next.run ??= { id: input.newRunId() };

  if (next.observedRestartNonce === undefined) {
    next.observedRestartNonce = input.restartNonce;
  } else if (next.observedRestartNonce !== input.restartNonce) {
    next.observedRestartNonce = input.restartNonce;
    next.restartEpoch += 1;
    if (next.restarts) delete next.restarts.nextRestartAt;
    if (next.phase === 'Failed') {
      next.phase = 'Deploying';
      next.restarts = noFailures();
    }
    events.push({
      type: 'Normal',
      reason: 'RestartRequested',
      message: 'restartNonce changed: restarting every pod',
    });
  }
  return { state: next, events };
}
