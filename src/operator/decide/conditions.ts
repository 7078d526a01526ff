import type { Condition, FailureRecord, Phase } from '../../api/streamjob.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/**
 * Sets one condition with the generation it describes. lastTransitionTime
 * moves only when the status flips, as the API conventions ask.
 */
export function setCondition(
  conditions: Condition[],
  next: { type: string; status: ConditionStatus; reason: string; message: string },
  generation: number,
  now: Date,
): Condition[] {
  const previous = conditions.find((c) => c.type === next.type);
  const lastTransitionTime =
    previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString();
  const updated: Condition = { ...next, observedGeneration: generation, lastTransitionTime };
  return [...conditions.filter((c) => c.type !== next.type), updated].sort((a, b) =>
    a.type.localeCompare(b.type),
  );
}

export interface JobConditionsInput {
  phase: Phase;
  parallelism: number;
  readyTasks: number;
  /** Why a Failed job failed (the restart strategy's verdict). */
  failedMessage: string;
  lastFailure?: FailureRecord;
  /** A task failed within the degraded window. */
  recentlyFailed: boolean;
  generation: number;
  now: Date;
  /** Pods of the job that do not start, and why (the scheduler's or the kubelet's reason). */
  podProblems?: readonly { pod: string; reason: string; message: string }[];
  /** The upgrade in progress, or how the last one ended (status.upgrade). */
  upgrade?: {
    step: string;
    fromGeneration: number;
    toGeneration: number;
    savepointId?: string;
    message?: string;
  };
}

function upgradeStep(upgrade: JobConditionsInput['upgrade']): string {
  if (!upgrade) return 'upgrading';
  if (upgrade.step === 'Savepointing') {
    return `stopping generation ${upgrade.fromGeneration} with savepoint ${upgrade.savepointId ?? ''}`;
  }
  return `starting generation ${upgrade.toGeneration}${upgrade.message ? ` (${upgrade.message})` : ''}`;
}

/**
 * Ready, Progressing and Degraded for a phase, and the Ready message (phase
 * events quote it). `podProblem`: Ready's reason is a pod's that does not
 * start, not the phase's, so no phase event announces it.
 */
export function jobConditions(
  current: Condition[],
  input: JobConditionsInput,
): { conditions: Condition[]; readyMessage: string; podProblem: boolean } {
  const { phase, parallelism, readyTasks, generation, now, lastFailure } = input;
  const ready = {
    Running: { status: 'True', reason: 'Running', message: `all ${parallelism} tasks are ready` },
    Deploying: { status: 'False', reason: 'Deploying', message: `${readyTasks}/${parallelism} tasks ready` },
    Restarting: {
      status: 'False',
      reason: 'Restarting',
      message: `${readyTasks}/${parallelism} tasks ready`,
    },
    Upgrading: {
      status: 'False',
      reason: 'Upgrading',
      message: `${upgradeStep(input.upgrade)}; ${readyTasks}/${parallelism} tasks ready`,
    },
    Suspended: { status: 'False', reason: 'Suspended', message: 'the job is suspended' },
    Failed: { status: 'False', reason: 'RestartStrategyExhausted', message: input.failedMessage },
  } as const;
  const problem = input.podProblems?.[0];
  const notStarting =
    problem !== undefined && phase !== 'Running' && phase !== 'Suspended' && phase !== 'Failed';
  const readyCondition = notStarting
    ? {
        status: 'False' as const,
        reason: /^[A-Z][A-Za-z]{0,127}$/.test(problem.reason) ? problem.reason : 'PodNotStarted',
        message: `${ready[phase].message}; ${describeProblems(input.podProblems ?? [])}`,
      }
    : ready[phase];
  let conditions = setCondition(current, { type: 'Ready', ...readyCondition }, generation, now);
  // A new version that runs but has not proven itself stable yet is still progressing.
  const stabilizing = input.upgrade?.step === 'Deploying' && phase === 'Running';
  // A warm upgrade's new version warms while the old one runs on: the job runs, and is progressing.
  const warming = input.upgrade?.step === 'Warming' && phase === 'Running';
  const progressing =
    phase === 'Deploying' || phase === 'Restarting' || phase === 'Upgrading' || stabilizing || warming;
  conditions = setCondition(
    conditions,
    {
      type: 'Progressing',
      status: progressing ? 'True' : 'False',
      reason:
        stabilizing || warming ? 'Upgrading' : progressing ? phase : phase === 'Running' ? 'Stable' : phase,
      message: stabilizing
        ? `generation ${input.upgrade?.toGeneration} runs; waiting for a checkpoint to call it stable`
        : warming
          ? `generation ${input.upgrade?.toGeneration} warms its state beside generation ${input.upgrade?.fromGeneration}, which runs on`
          : progressing
            ? ready[phase].message
            : `the job is ${phase.toLowerCase()}`,
    },
    generation,
    now,
  );
  const upgradeFailed = input.upgrade?.step === 'Aborted' || input.upgrade?.step === 'RolledBack';
  if (upgradeFailed && phase !== 'Failed') {
    conditions = setCondition(
      conditions,
      {
        type: 'Degraded',
        status: 'True',
        reason: input.upgrade?.step === 'Aborted' ? 'UpgradeAborted' : 'RolledBack',
        message: input.upgrade?.message ?? 'the last upgrade did not complete',
      },
      generation,
      now,
    );
    return { conditions, readyMessage: readyCondition.message, podProblem: notStarting };
  }
  const degraded = phase === 'Failed' || phase === 'Restarting' || input.recentlyFailed;
  conditions = setCondition(
    conditions,
    {
      type: 'Degraded',
      status: degraded ? 'True' : 'False',
      reason: degraded
        ? phase === 'Failed'
          ? 'RestartStrategyExhausted'
          : 'TaskFailures'
        : 'NoRecentFailures',
      message:
        degraded && lastFailure ? (lastFailure.message ?? lastFailure.reason) : 'no task failed recently',
    },
    generation,
    now,
  );
  return { conditions, readyMessage: readyCondition.message, podProblem: notStarting };
}

/** "pod x-tm-0: Unschedulable: 0/2 nodes are available: …", and how many more share the problem. */
function describeProblems(problems: readonly { pod: string; reason: string; message: string }[]): string {
  const [first] = problems;
  if (!first) return '';
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more pod(s))` : '';
  return `pod ${first.pod}: ${first.reason}: ${first.message}${more}`;
}
