import {
  type RecordedSpec,
  recordedSpecOf,
  type StreamJobSpec,
  type StreamJobStatus,
} from '../../api/streamjob.ts';
import type { EventSpec } from './events.ts';
import { type SavepointOutcome, type SavepointTarget, savepointIdAt } from './savepoint.ts';
import { diffSpecs, type SpecDiff } from './spec-diff.ts';
import type { JobTiming } from './timing.ts';

/*
 * The upgrade state machine. status.upgrade holds the step; it is written
 * before the step is acted on, so an operator restarted anywhere finishes the
 * same upgrade once. "Idle" is no status.upgrade.
 *
 *            spec change, upgradeMode savepoint, every task running
 *   Idle ─────────────────────────────────────────────────────────► Savepointing
 *    │  the same, with upgrade.warmup                                    ▲
 *    └──► Warming ── the new version's pods Ready, or warmupTimeout ─────┘
 *           │  a newer spec, suspend, or the job failed: its pods are deleted
 *           └──► Idle (a newer spec then starts over)
 *    │  spec change: last-state, stateless, a rescale, or nothing       │  │
 *    │  running to take a savepoint of                                  │  │ no savepoint, and no
 *    ▼                                                                  │  │ fallback allowed
 *   Deploying ◄─────── savepoint complete, or the fallback to ──────────┘  ▼
 *    │  │  │           the last committed checkpoint                    Aborted
 *    │  │  └── a newer spec ──► Savepointing | Deploying                   │
 *    │  └── not stable in stableTimeout, or Failed ──► RolledBack          │
 *    └── stable ──► Idle                                 │                 │
 *                                  a newer spec ──► Savepointing | Deploying
 *
 * Warming: the new version's pods (another slot of each pod index, a run id
 * and savepoint id chosen now) start as standbys of the old version's run and
 * warm their state while it runs on; nothing of the old version is held.
 * Savepointing: the old version's TaskManagers stop with the savepoint; no
 * pod is created or replaced, and a pod that ends is expected, not a failure.
 * Suspending (state: suspended, upgradeMode savepoint) takes the same step
 * from Idle, Aborted or RolledBack and returns to Idle when the savepoint is
 * complete (or failed: the pods then stop with a last checkpoint): the job
 * rests in a new run restored from the savepoint, which its resume starts.
 * Deploying: the new version's pods start (restored from the savepoint, the
 * last committed state, or nothing) and must become stable. Aborted and
 * RolledBack are at rest: the older spec runs until the spec changes again.
 */
export type UpgradeStep = 'Idle' | 'Warming' | 'Savepointing' | 'Deploying' | 'Aborted' | 'RolledBack';
export type UpgradeMode = 'savepoint' | 'last-state' | 'stateless';
export type UpgradeStatus = NonNullable<StreamJobStatus['upgrade']>;

export const upgradeTransitions: Readonly<Record<UpgradeStep, readonly UpgradeStep[]>> = {
  Idle: ['Warming', 'Savepointing', 'Deploying'],
  Warming: ['Savepointing', 'Idle'],
  Savepointing: ['Deploying', 'Aborted', 'Idle'],
  Deploying: ['Idle', 'RolledBack', 'Savepointing', 'Deploying'],
  Aborted: ['Warming', 'Savepointing', 'Deploying'],
  RolledBack: ['Warming', 'Savepointing', 'Deploying'],
};

export class UpgradeTransitionError extends Error {
  readonly code = 'UPGRADE_TRANSITION_INVALID';
  readonly retriable = false;
}

/** Throws, naming both steps, unless the table allows the transition. */
export function checkTransition(from: UpgradeStep, to: UpgradeStep): void {
  if (!upgradeTransitions[from].includes(to)) {
    throw new UpgradeTransitionError(`invalid upgrade transition ${from} → ${to}`);
  }
}

/** Where the pods of a new deployment get their state. */
export type RunChange =
  | { kind: 'continue' }
  | { kind: 'new' }
  /** `runId`: a warm upgrade's run, chosen when its pods were made. */
  | { kind: 'restore'; savepointId: string; runId?: string };

export interface NewDeployment {
  spec: StreamJobSpec;
  generation: number;
  run: RunChange;
  /** A new version, a rollback or a recovery (restart history starts over), or only spec fields that need no new pods. */
  replacesPods: boolean;
}

export interface StopWithSavepoint {
  kind: 'stopWithSavepoint';
  id: string;
  targets: SavepointTarget[];
}

export interface UpgradeInput {
  upgrade: UpgradeStatus | undefined;
  deployment: RecordedSpec | undefined;
  lastStable: RecordedSpec | undefined;
  spec: StreamJobSpec;
  /** The durations of `spec`, parsed. */
  timing: JobTiming;
  generation: number;
  now: Date;
  /** Every wanted pod of the deployment is Ready with an address: these can be asked to stop with a savepoint. */
  running: SavepointTarget[] | undefined;
  /** The deployment's pods that still run; during Savepointing, those not stopped yet. */
  live: SavepointTarget[];
  /** A pod of the deployment failed or vanished (not a clean stop). */
  podFailed: boolean;
  /** Every pod of the deployment ended saying it wrote its part of the awaited savepoint (its termination message). */
  stoppedWithSavepoint: boolean;
  suspended: boolean;
  /** The restart strategy gave up on the deployment. */
  failed: boolean;
  /** A checkpoint completed after the deployment started and after its last failure, every task Ready. */
  stable: boolean;
  /** When every task's input was last committed (status.checkpoint), for the fallback's age limit. */
  lastCheckpointTime: Date | undefined;
  savepointOutcome: SavepointOutcome | undefined;
  /** A manual savepoint is in flight: a warm-up waits for it before the old version stops. */
  savepointInProgress: boolean;
  /** Warming: every pod of the new version is Ready (its state loaded and caught up). */
  warmReady: boolean;
  /** How many of the new version's pods are Ready, of how many (for the event). */
  warmCount: { ready: number; wanted: number };
  /** The promoted tasks' restores (their reports' warmRestore), labelled stage/task. */
  warmRestores: { task: string; warm: boolean; why?: string }[];
  /** Live pods of the deployment whose report the operator has not read yet (their restores are unknown). */
  unreportedPods: string[];
  /** A warm upgrade's pods' slot for each pod index, were one to start now (warm-pods.ts). */
  warmSlots: number[];
  newRunId: () => string;
}

/**
 * What most decisions leave as it is: no pod held, nothing recorded as
 * stable, no event. A decision spreads it first and says only what differs.
 */
function quiet(): Pick<UpgradeDecision, 'holdPods' | 'recordStable' | 'events'> {
  return { holdPods: false, recordStable: false, events: [] };
}

export interface UpgradeDecision {
  upgrade: UpgradeStatus | undefined;
  deploy?: NewDeployment;
  action?: StopWithSavepoint;
  /** The upgrade or suspend savepoint completed: record it in the savepoint history. */
  savepointCompleted?: { id: string; reason: 'upgrade' | 'suspend' };
  /** Savepointing: hold every pod as it is, and do not count ending pods as failures. */
  holdPods: boolean;
  recordStable: boolean;
  events: EventSpec[];
  requeueAfterMs?: number;
}

function stepOf(upgrade: UpgradeStatus | undefined): UpgradeStep {
  return upgrade?.step ?? 'Idle';
}

/** The pods of an earlier recorded spec again, in the same run: they resume from its newest committed state. */
function redeploy(recorded: RecordedSpec): NewDeployment {
  return {
    spec: recordedSpecOf(recorded),
    generation: recorded.generation,
    run: { kind: 'continue' },
    replacesPods: true,
  };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

/**
 * One pass of the upgrade machine: a pure function of the recorded upgrade,
 * the deployed and wanted specs, and what was observed.
 */
export function decideUpgrade(input: UpgradeInput): UpgradeDecision {
  const step = stepOf(input.upgrade);
  if (!input.deployment) {
    // A new job: its first spec is deployed as it is; there is nothing to upgrade from.
    return {
      ...quiet(),
      upgrade: undefined,
      deploy: {
        spec: input.spec,
        generation: input.generation,
        run: { kind: 'continue' },
        replacesPods: false,
      },
    };
  }
  switch (step) {
    case 'Warming':
      return warming(input, input.upgrade as UpgradeStatus, input.deployment);
    case 'Savepointing':
      return savepointing(input, input.upgrade as UpgradeStatus, input.deployment);
    case 'Deploying':
      return deploying(input, input.upgrade as UpgradeStatus, input.deployment);
    default:
      return atRest(input, step, input.deployment);
  }
}

const rest = (input: UpgradeInput, upgrade: UpgradeStatus | undefined): UpgradeDecision => ({
  ...quiet(),
  upgrade,
  recordStable: input.stable && input.lastStable?.generation !== input.deployment?.generation,
});

/** Idle, Aborted or RolledBack: a spec the deployment does not run yet starts an upgrade. */
function atRest(input: UpgradeInput, step: UpgradeStep, deployment: RecordedSpec): UpgradeDecision {
  const settled = step === 'Idle' ? undefined : input.upgrade;
  // At rest after a failed upgrade, only a newer generation tries again.
  if (settled && input.generation <= settled.toGeneration) return rest(input, settled);
  if (input.suspended && input.spec.upgradeMode === 'savepoint' && input.running?.length && !input.failed) {
    return startSuspend(input, step, deployment, input.running);
  }
  const diff = diffSpecs(recordedSpecOf(deployment), input.spec);
  if (diff.type === 'ignore' || input.suspended) {
    // Nothing runs that needs changing (or nothing runs at all): the deployment takes the spec as it is.
    if (deployment.generation === input.generation) return rest(input, settled);
    return {
      ...rest(input, settled),
      deploy: {
        spec: input.spec,
        generation: input.generation,
        run: { kind: 'continue' },
        replacesPods: false,
      },
    };
  }
  return startUpgrade(input, step, deployment, diff);
}

function startUpgrade(
  input: UpgradeInput,
  from: UpgradeStep,
  deployment: RecordedSpec,
  diff: SpecDiff,
): UpgradeDecision {
  const mode: UpgradeMode = diff.type === 'scale' ? 'last-state' : input.spec.upgradeMode;
  const base = {
    mode,
    fromGeneration: deployment.generation,
    toGeneration: input.generation,
    startedAt: input.now.toISOString(),
    stepStartedAt: input.now.toISOString(),
  };
  const what = `generation ${deployment.generation} → ${input.generation} (${diff.fields.join(', ')} changed)`;
  if (mode === 'savepoint' && input.running?.length && !input.failed && input.spec.upgrade.warmup) {
    checkTransition(from, 'Warming');
    const id = savepointIdAt('upgrade', input.now);
    const warm = { runId: input.newRunId(), slots: input.warmSlots };
    return {
      ...quiet(),
      upgrade: { ...base, step: 'Warming', savepointId: id, warm },
      requeueAfterMs: input.timing.warmupTimeoutMs,
      events: [
        {
          type: 'Normal',
          reason: 'UpgradeStarted',
          message: `upgrading ${what}: warming ${warm.slots.length} TaskManager pod(s) of the new version beside the running one (run ${warm.runId})`,
        },
      ],
    };
  }
  if (mode === 'savepoint' && input.running?.length && !input.failed) {
    checkTransition(from, 'Savepointing');
    const id = savepointIdAt('upgrade', input.now);
    return {
      ...quiet(),
      upgrade: { ...base, step: 'Savepointing', savepointId: id },
      action: { kind: 'stopWithSavepoint', id, targets: input.running },
      holdPods: true,
      events: [
        {
          type: 'Normal',
          reason: 'UpgradeStarted',
          message: `upgrading ${what}: stopping ${input.running.length} TaskManager pod(s) with savepoint ${id}`,
        },
      ],
    };
  }
  const reason =
    mode !== 'savepoint'
      ? diff.type === 'scale'
        ? 'a rescale resumes from the last committed state'
        : `upgradeMode ${mode}`
      : 'no running tasks to take a savepoint of; resuming from the last committed state';
  checkTransition(from, 'Deploying');
  const run: RunChange = mode === 'stateless' ? { kind: 'new' } : { kind: 'continue' };
  return {
    ...quiet(),
    upgrade: {
      ...base,
      mode: mode === 'savepoint' ? 'last-state' : mode,
      step: 'Deploying',
      message: reason,
    },
    deploy: { spec: input.spec, generation: input.generation, run, replacesPods: true },
    events: [{ type: 'Normal', reason: 'UpgradeStarted', message: `upgrading ${what}: ${reason}` }],
  };
}

function startSuspend(
  input: UpgradeInput,
  from: UpgradeStep,
  deployment: RecordedSpec,
  running: SavepointTarget[],
): UpgradeDecision {
  checkTransition(from, 'Savepointing');
  const id = savepointIdAt('suspend', input.now);
  return {
    ...quiet(),
    upgrade: {
      step: 'Savepointing',
      mode: 'savepoint',
      suspend: true,
      savepointId: id,
      fromGeneration: deployment.generation,
      toGeneration: input.generation,
      startedAt: input.now.toISOString(),
      stepStartedAt: input.now.toISOString(),
    },
    action: { kind: 'stopWithSavepoint', id, targets: running },
    holdPods: true,
    events: [
      {
        type: 'Normal',
        reason: 'Suspending',
        message: `suspending: stopping ${running.length} TaskManager pod(s) with savepoint ${id}`,
      },
    ],
  };
}

/** The suspend savepoint ended: the job rests with no pods, in a new run restored from it if it completed. */
function suspended(input: UpgradeInput, id: string, failure: string | undefined): UpgradeDecision {
  checkTransition('Savepointing', 'Idle');
  return {
    ...quiet(),
    upgrade: undefined,
    deploy: {
      spec: input.spec,
      generation: input.generation,
      run: failure ? { kind: 'continue' } : { kind: 'restore', savepointId: id },
      replacesPods: true,
    },
    events: [
      failure
        ? {
            type: 'Warning',
            reason: 'SavepointFailed',
            message: `suspend savepoint ${id} failed (${failure}); suspended from the last committed checkpoint instead`,
          }
        : {
            type: 'Normal',
            reason: 'SuspendedWithSavepoint',
            message: `suspended with savepoint ${id}; resuming restores from it`,
          },
    ],
    ...(failure ? {} : { savepointCompleted: { id, reason: 'suspend' as const } }),
  };
}

/**
 * Warming: the old version runs on while the new version's pods warm. Once
 * they are all Ready (or warmupTimeout passed, and they replay more), the old
 * version stops with the savepoint chosen when Warming started.
 */
function warming(input: UpgradeInput, upgrade: UpgradeStatus, deployment: RecordedSpec): UpgradeDecision {
  const abandon = (why: string): UpgradeDecision => {
    checkTransition('Warming', 'Idle');
    return {
      ...quiet(),
      upgrade: undefined,
      requeueAfterMs: 1,
      events: [
        {
          type: 'Normal',
          reason: 'UpgradeAbandoned',
          message: `warm upgrade to generation ${upgrade.toGeneration} abandoned: ${why}; its pods are deleted and generation ${deployment.generation} runs on`,
        },
      ],
    };
  };
  if (input.suspended) return abandon('the job is being suspended');
  if (input.failed) return abandon('the job failed');
  if (input.generation !== upgrade.toGeneration) {
    return abandon(`the spec changed again (generation ${input.generation})`);
  }
  const timeoutMs = input.timing.warmupTimeoutMs;
  const elapsed = input.now.getTime() - new Date(upgrade.stepStartedAt).getTime();
  const timedOut = elapsed > timeoutMs;
  if (!(input.warmReady || timedOut) || !input.running?.length || input.savepointInProgress) {
    // The old version stops only while all of it runs (every task takes part in the savepoint), and after a
    // manual savepoint in flight.
    return {
      ...rest(input, upgrade),
      ...(timedOut ? {} : { requeueAfterMs: Math.max(1, timeoutMs - elapsed) }),
    };
  }
  checkTransition('Warming', 'Savepointing');
  const id = upgrade.savepointId ?? savepointIdAt('upgrade', input.now);
  const { ready, wanted } = input.warmCount;
  const message = input.warmReady
    ? `${ready} warm pod(s) of generation ${input.generation} are Ready; stopping generation ${deployment.generation} with savepoint ${id}`
    : `${ready} of ${wanted} warm pod(s) of generation ${input.generation} were Ready after spec.upgrade.warmupTimeout ${seconds(timeoutMs)}; stopping generation ${deployment.generation} with savepoint ${id} anyway (the others replay what they lack, or restore from the savepoint)`;
  return {
    ...quiet(),
    upgrade: {
      ...upgrade,
      step: 'Savepointing',
      savepointId: id,
      stepStartedAt: input.now.toISOString(),
      message,
    },
    action: { kind: 'stopWithSavepoint', id, targets: input.running },
    holdPods: true,
    events: [
      {
        type: input.warmReady ? 'Normal' : 'Warning',
        reason: input.warmReady ? 'WarmupCompleted' : 'WarmupTimedOut',
        message,
      },
    ],
  };
}

function savepointing(
  input: UpgradeInput,
  upgrade: UpgradeStatus,
  deployment: RecordedSpec,
): UpgradeDecision {
  const id = upgrade.savepointId ?? '';
  const toDeploying = (deploy: NewDeployment, message: string, event: EventSpec): UpgradeDecision => {
    checkTransition('Savepointing', 'Deploying');
    // The warm pods take over only a restore from the savepoint they warmed for; otherwise they are deleted.
    const { warm: _warm, ...rest } = upgrade;
    const kept = deploy.run.kind === 'restore' && deploy.run.runId ? upgrade : rest;
    return {
      ...quiet(),
      upgrade: {
        ...kept,
        step: 'Deploying',
        toGeneration: input.generation,
        stepStartedAt: input.now.toISOString(),
        message,
      },
      deploy,
      events: [event],
      ...(deploy.run.kind === 'restore'
        ? { savepointCompleted: { id: deploy.run.savepointId, reason: 'upgrade' as const } }
        : {}),
    };
  };
  const outcome = input.savepointOutcome?.id === id ? input.savepointOutcome : undefined;
  // Answered by every TaskManager asked, or (after an operator restart, the answers lost) every pod already
  // ended saying it wrote its part. A pod that stopped cleanly without saying so (SIGTERM) proves nothing.
  const complete =
    outcome?.ok || (!outcome && input.live.length === 0 && !input.podFailed && input.stoppedWithSavepoint);
  if (complete && upgrade.suspend) return suspended(input, id, undefined);
  const warm = upgrade.warm;
  if (complete) {
    return toDeploying(
      {
        spec: input.spec,
        generation: input.generation,
        run: { kind: 'restore', savepointId: id, ...(warm ? { runId: warm.runId } : {}) },
        replacesPods: true,
      },
      warm
        ? `restoring from savepoint ${id} on the warm state of the new version's pods`
        : `restoring from savepoint ${id}`,
      {
        type: 'Normal',
        reason: 'UpgradeSavepointCompleted',
        message: warm
          ? `savepoint ${id} complete; promoting the warm pods of generation ${input.generation}, restoring from it`
          : `savepoint ${id} complete; starting generation ${input.generation} from it`,
      },
    );
  }
  const timeoutMs = input.timing.savepointTimeoutMs;
  const elapsed = input.now.getTime() - new Date(upgrade.stepStartedAt).getTime();
  const failure =
    outcome && !outcome.ok
      ? outcome.message
      : input.podFailed
        ? 'a TaskManager pod failed or vanished before it stopped'
        : elapsed > timeoutMs
          ? `the TaskManagers did not stop with savepoint ${id} within ${seconds(timeoutMs)}`
          : undefined;
  if (failure && upgrade.suspend) return suspended(input, id, failure);
  if (!failure) {
    return {
      ...quiet(),
      upgrade,
      action: { kind: 'stopWithSavepoint', id, targets: input.live },
      holdPods: true,
      requeueAfterMs: Math.max(1, timeoutMs - elapsed),
    };
  }
  const refusal = fallbackRefusal(input);
  if (!refusal) {
    return toDeploying(
      { spec: input.spec, generation: input.generation, run: { kind: 'continue' }, replacesPods: true },
      `savepoint ${id} failed (${failure}); resumed from the last committed checkpoint`,
      {
        type: 'Warning',
        reason: 'SavepointFallback',
        message: `upgrade savepoint ${id} failed: ${failure}; upgrading from the last committed checkpoint instead (spec.upgrade.savepointFallback)`,
      },
    );
  }
  checkTransition('Savepointing', 'Aborted');
  const stopped = `savepoint ${id} failed (${failure}) and ${refusal}; generation ${deployment.generation} keeps running`;
  const { warm: _unused, ...unwarmed } = upgrade;
  return {
    ...quiet(),
    upgrade: {
      ...unwarmed,
      step: 'Aborted',
      toGeneration: input.generation,
      stepStartedAt: input.now.toISOString(),
      message: stopped,
    },
    // The stopped pods come back as the version they were.
    deploy: redeploy(deployment),
    events: [
      {
        type: 'Warning',
        reason: 'UpgradeAborted',
        message: `upgrade to generation ${input.generation} stopped: ${stopped}`,
      },
    ],
  };
}

/** Why the upgrade may not fall back to the last committed checkpoint, if it may not. */
function fallbackRefusal(input: UpgradeInput): string | undefined {
  const { savepointFallback, fallbackMaxCheckpointAge } = input.spec.upgrade;
  if (!savepointFallback) return 'spec.upgrade.savepointFallback is false';
  if (fallbackMaxCheckpointAge === undefined) return undefined;
  const maxAgeMs = input.timing.fallbackMaxCheckpointAgeMs ?? Number.POSITIVE_INFINITY;
  if (!input.lastCheckpointTime)
    return 'no checkpoint is known to have completed (spec.upgrade.fallbackMaxCheckpointAge)';
  const age = input.now.getTime() - input.lastCheckpointTime.getTime();
  return age > maxAgeMs
    ? `the last committed checkpoint is ${seconds(age)} old, beyond spec.upgrade.fallbackMaxCheckpointAge ${fallbackMaxCheckpointAge}`
    : undefined;
}

/**
 * A warm upgrade's new tasks say how they restored: status.upgrade.message
 * carries it (and a Warning event names the tasks that fell back to the
 * savepoint's sections, and why) as their reports come in.
 */
function warmHandOver(input: UpgradeInput, upgrade: UpgradeStatus): UpgradeDecision | undefined {
  if (input.warmRestores.length === 0) return undefined;
  const cold = input.warmRestores.filter((r) => !r.warm);
  const warm = input.warmRestores.length - cold.length;
  const message =
    `restored from savepoint ${upgrade.savepointId ?? ''}: ${warm} task(s) on their warm state` +
    (cold.length
      ? `, ${cold.length} from the savepoint's sections (${cold.map((r) => `task ${r.task}: ${r.why ?? 'no warm state'}`).join('; ')})`
      : '');
  if (upgrade.message === message) return undefined;
  return {
    ...quiet(),
    upgrade: { ...upgrade, message },
    requeueAfterMs: 1,
    events: cold.length ? [{ type: 'Warning', reason: 'WarmRestoreFellBack', message }] : [],
  };
}

function deploying(input: UpgradeInput, upgrade: UpgradeStatus, deployment: RecordedSpec): UpgradeDecision {
  if (input.suspended) {
    // Suspending ends the step: the next pass suspends the version that runs (with a savepoint if every task
    // runs), and no rollback timer runs while nothing does. The pods are held this pass, or they would be
    // removed before that savepoint is asked for.
    checkTransition('Deploying', 'Idle');
    return {
      ...quiet(),
      upgrade: undefined,
      holdPods: true,
      requeueAfterMs: 1,
      events: [
        {
          type: 'Normal',
          reason: 'UpgradeInterrupted',
          message: `suspended while generation ${deployment.generation} was starting; it stays the deployed version, without a rollback window`,
        },
      ],
    };
  }
  if (input.generation > upgrade.toGeneration) {
    // A newer spec while the new version starts: upgrade again, from what is deployed now.
    const diff = diffSpecs(recordedSpecOf(deployment), input.spec);
    if (diff.type !== 'ignore' && !input.suspended) return startUpgrade(input, 'Deploying', deployment, diff);
  }
  const handOver = upgrade.warm ? warmHandOver(input, upgrade) : undefined;
  if (handOver) return handOver;
  const timeoutMs = input.timing.stableTimeoutMs;
  const elapsed = input.now.getTime() - new Date(upgrade.stepStartedAt).getTime();
  // A warm hand-over is summed up once every pod said how its tasks restored: a pod polled before it was Ready
  // would otherwise be left out of the count (up to the stable timeout; then it completes with what is known).
  const restoresUnknown =
    upgrade.warm !== undefined && input.unreportedPods.length > 0 && elapsed <= timeoutMs;
  if (input.stable && restoresUnknown) return { ...quiet(), upgrade, requeueAfterMs: 1000 };
  if (input.stable) {
    checkTransition('Deploying', 'Idle');
    return {
      ...quiet(),
      upgrade: undefined,
      recordStable: true,
      events: [
        {
          type: 'Normal',
          reason: 'UpgradeCompleted',
          message: `generation ${deployment.generation} is stable (every task Ready, a checkpoint completed since it started)${upgrade.warm && upgrade.message ? `; ${upgrade.message}` : ''}`,
        },
      ],
    };
  }
  const why = input.failed
    ? 'its restart strategy gave up'
    : elapsed > timeoutMs
      ? `it was not stable within ${seconds(timeoutMs)} (spec.upgrade.stableTimeout)`
      : undefined;
  if (!why) {
    return {
      ...quiet(),
      upgrade,
      requeueAfterMs: Math.max(1, timeoutMs - elapsed),
    };
  }
  const target = input.lastStable;
  const cannot = !input.spec.upgrade.rollback
    ? 'spec.upgrade.rollback is false'
    : !target
      ? 'no earlier spec was ever stable'
      : target.generation === deployment.generation
        ? 'the last stable spec is the one running'
        : undefined;
  if (cannot || !target) {
    const message = `generation ${deployment.generation} is not stable: ${why}; not rolled back: ${cannot}`;
    if (upgrade.message === message) return { ...quiet(), upgrade };
    return {
      ...quiet(),
      upgrade: { ...upgrade, message },
      events: [{ type: 'Warning', reason: 'UpgradeNotStable', message }],
    };
  }
  checkTransition('Deploying', 'RolledBack');
  const message = `generation ${deployment.generation} rolled back to generation ${target.generation}: ${why}`;
  return {
    ...quiet(),
    upgrade: { ...upgrade, step: 'RolledBack', stepStartedAt: input.now.toISOString(), message },
    // The same run: the old version resumes from the newest state committed (by either version).
    deploy: redeploy(target),
    events: [{ type: 'Warning', reason: 'RolledBack', message }],
  };
}
