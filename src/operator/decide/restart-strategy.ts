import { parseDuration } from '../../api/duration.ts';
import type { RestartStrategySpec } from '../../api/streamjob.ts';

/** A restart strategy with its durations parsed and its defaults applied. */
export type RestartStrategy =
  | { type: 'fixed-delay'; attempts: number; delayMs: number }
  | { type: 'failure-rate'; maxFailures: number; intervalMs: number; delayMs: number }
  | {
      type: 'exponential-delay';
      initialDelayMs: number;
      maxDelayMs: number;
      multiplier: number;
      resetAfterMs: number;
      jitter: number;
    }
  | { type: 'none' };

/**
 * What a strategy's unset fields mean. The schema cannot default them (a
 * field's default would apply whatever the type), so they are here, once,
 * and the CRD's descriptions say the same.
 */
export const fixedDelayDefaults = { attempts: 0, delay: '0ms' } as const;
export const failureRateDefaults = { maxFailures: 1, interval: '1m', delay: '0ms' } as const;
export const exponentialDefaults = {
  initialDelay: '1s',
  maxDelay: '1m',
  multiplier: 2,
  resetAfter: '10m',
  jitter: 0.1,
} as const;

export function resolveRestartStrategy(spec: RestartStrategySpec): RestartStrategy {
  const field = (name: string) => `spec.restartStrategy.${name}`;
  switch (spec.type) {
    case 'fixed-delay':
      return {
        type: 'fixed-delay',
        attempts: spec.attempts ?? fixedDelayDefaults.attempts,
        delayMs: parseDuration(spec.delay ?? fixedDelayDefaults.delay, field('delay')),
      };
    case 'failure-rate':
      return {
        type: 'failure-rate',
        maxFailures: spec.maxFailures ?? failureRateDefaults.maxFailures,
        intervalMs: parseDuration(spec.interval ?? failureRateDefaults.interval, field('interval')),
        delayMs: parseDuration(spec.delay ?? failureRateDefaults.delay, field('delay')),
      };
    case 'exponential-delay':
      return {
        type: 'exponential-delay',
        initialDelayMs: parseDuration(
          spec.initialDelay ?? exponentialDefaults.initialDelay,
          field('initialDelay'),
        ),
        maxDelayMs: parseDuration(spec.maxDelay ?? exponentialDefaults.maxDelay, field('maxDelay')),
        multiplier: spec.multiplier ?? exponentialDefaults.multiplier,
        resetAfterMs: parseDuration(spec.resetAfter ?? exponentialDefaults.resetAfter, field('resetAfter')),
        jitter: spec.jitter ?? exponentialDefaults.jitter,
      };
    case 'none':
      return { type: 'none' };
  }
}

/** What the strategies read; persisted in status.restarts so an operator restart changes nothing. */
export interface FailureHistory {
  /** Failures since the spec last changed. */
  count: number;
  /** Failures since the exponential back-off was last reset. */
  consecutive: number;
  /** Failure times, oldest first, bounded. */
  recent: Date[];
  lastRestartAt?: Date;
}

export const maxRecentFailures = 100;

/** Adds one failure at `at`. The back-off resets when the job ran resetAfter without failing. */
export function recordFailure(history: FailureHistory, at: Date, strategy: RestartStrategy): FailureHistory {
  const stableSince = history.lastRestartAt ?? history.recent.at(-1);
  const reset =
    strategy.type === 'exponential-delay' &&
    stableSince !== undefined &&
    at.getTime() - stableSince.getTime() >= strategy.resetAfterMs;
  return {
    ...history,
    count: history.count + 1,
    consecutive: reset ? 1 : history.consecutive + 1,
    recent: [...history.recent, at].slice(-maxRecentFailures),
  };
}

export type RestartDecision =
  | { kind: 'restart'; at: Date; delayMs: number }
  | { kind: 'fail'; reason: 'RestartStrategyExhausted'; message: string };

function restartAfter(now: Date, delayMs: number): RestartDecision {
  return { kind: 'restart', at: new Date(now.getTime() + delayMs), delayMs };
}

/**
 * Decides, after the failures in `history` (already recorded), whether the
 * job restarts and when, or fails. `random` returns a value in [0, 1).
 */
export function decideRestart(
  strategy: RestartStrategy,
  history: FailureHistory,
  now: Date,
  random: () => number,
): RestartDecision {
  switch (strategy.type) {
    case 'none':
      return {
        kind: 'fail',
        reason: 'RestartStrategyExhausted',
        message: 'restart strategy none: a task failed',
      };
    case 'fixed-delay':
      if (history.count > strategy.attempts) {
        return {
          kind: 'fail',
          reason: 'RestartStrategyExhausted',
          message: `restart strategy fixed-delay: failure ${history.count} exceeds the ${strategy.attempts} restart attempts`,
        };
      }
      return restartAfter(now, strategy.delayMs);
    case 'failure-rate': {
      const windowStart = now.getTime() - strategy.intervalMs;
      const inWindow = history.recent.filter((t) => t.getTime() > windowStart).length;
      if (inWindow > strategy.maxFailures) {
        return {
          kind: 'fail',
          reason: 'RestartStrategyExhausted',
          message: `restart strategy failure-rate: ${inWindow} failures within ${strategy.intervalMs / 1000}s exceed maxFailures ${strategy.maxFailures}`,
        };
      }
      return restartAfter(now, strategy.delayMs);
    }
    case 'exponential-delay': {
      const exponent = Math.max(0, history.consecutive - 1);
      const base = Math.min(strategy.maxDelayMs, strategy.initialDelayMs * strategy.multiplier ** exponent);
      const jittered = base * (1 + strategy.jitter * (2 * random() - 1));
      return restartAfter(now, Math.max(0, Math.round(jittered)));
    }
  }
}
