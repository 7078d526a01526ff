import { parseDuration } from '../../api/duration.ts';
import type { StreamJobSpec } from '../../api/streamjob.ts';
import { progressWindowMs } from '../../api/taskmanager-env.ts';

/**
 * Every duration of a StreamJob spec the operator acts on, in milliseconds,
 * parsed once (per pass, per spec) from the admitted spec: the schema's
 * defaults are in the spec's type, so nothing here restates them. A field
 * the spec leaves unset without a default is undefined (no periodic
 * savepoints, any age).
 */
export interface JobTiming {
  checkpointIntervalMs: number;
  checkpointTimeoutMs: number;
  /** spec.checkpoints.progressWindow, or two intervals plus the timeout. */
  progressWindowMs: number;
  stableTimeoutMs: number;
  savepointTimeoutMs: number;
  /** spec.upgrade.warmupTimeout. */
  warmupTimeoutMs: number;
  /** How long one TaskManager may take to answer a savepoint request: a checkpoint's timeout and 30 s to spare. */
  savepointRequestTimeoutMs: number;
  /**
   * How long a savepoint the job was asked for (manual or periodic) may take
   * in all: two checkpoint timeouts (alignment, then the part itself) and a
   * minute for pods to be reached.
   */
  triggeredSavepointTimeoutMs: number;
  fallbackMaxCheckpointAgeMs: number | undefined;
  savepointIntervalMs: number | undefined;
  savepointHistoryMaxAgeMs: number | undefined;
}

const optional = (value: string | undefined, field: string) =>
  value === undefined ? undefined : parseDuration(value, field);

export function timingOf(spec: Pick<StreamJobSpec, 'checkpoints' | 'upgrade' | 'savepoints'>): JobTiming {
  const { checkpoints, upgrade, savepoints } = spec;
  const checkpointIntervalMs = parseDuration(checkpoints.interval, 'spec.checkpoints.interval');
  const checkpointTimeoutMs = parseDuration(checkpoints.timeout, 'spec.checkpoints.timeout');
  const window = optional(checkpoints.progressWindow, 'spec.checkpoints.progressWindow');
  return {
    checkpointIntervalMs,
    checkpointTimeoutMs,
    progressWindowMs: progressWindowMs({
      intervalMs: checkpointIntervalMs,
      timeoutMs: checkpointTimeoutMs,
      ...(window !== undefined ? { progressWindowMs: window } : {}),
    }),
    stableTimeoutMs: parseDuration(upgrade.stableTimeout, 'spec.upgrade.stableTimeout'),
    savepointTimeoutMs: parseDuration(upgrade.savepointTimeout, 'spec.upgrade.savepointTimeout'),
    warmupTimeoutMs: parseDuration(upgrade.warmupTimeout ?? '5m', 'spec.upgrade.warmupTimeout'),
    savepointRequestTimeoutMs: checkpointTimeoutMs + 30_000,
    triggeredSavepointTimeoutMs: 2 * checkpointTimeoutMs + 60_000,
    fallbackMaxCheckpointAgeMs: optional(
      upgrade.fallbackMaxCheckpointAge,
      'spec.upgrade.fallbackMaxCheckpointAge',
    ),
    savepointIntervalMs: optional(savepoints.interval, 'spec.savepoints.interval'),
    savepointHistoryMaxAgeMs: optional(savepoints.historyMaxAge, 'spec.savepoints.historyMaxAge'),
  };
}
