import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decideRestart,
  type FailureHistory,
  type RestartStrategy,
  recordFailure,
  resolveRestartStrategy,
} from './restart-strategy.ts';

const t = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000);
const empty: FailureHistory = { count: 0, consecutive: 0, recent: [] };
const half = () => 0.5; // no jitter: 2 * 0.5 - 1 = 0

/** Records failures at the given seconds and returns the decision after the last one. */
function after(strategy: RestartStrategy, failures: number[], options: { lastRestartAt?: number } = {}) {
  let history: FailureHistory = {
    ...empty,
    ...(options.lastRestartAt !== undefined ? { lastRestartAt: t(options.lastRestartAt) } : {}),
  };
  for (const second of failures) history = recordFailure(history, t(second), strategy);
  return { history, decision: decideRestart(strategy, history, t(failures.at(-1) ?? 0), half) };
}

describe('restart strategies', () => {
  const fixed = resolveRestartStrategy({ type: 'fixed-delay', attempts: 2, delay: '5s' });
  const rate = resolveRestartStrategy({ type: 'failure-rate', maxFailures: 2, interval: '1m', delay: '2s' });
  const expo = resolveRestartStrategy({
    type: 'exponential-delay',
    initialDelay: '1s',
    maxDelay: '10s',
    multiplier: 2,
    resetAfter: '5m',
    jitter: 0.2,
  });
  const none = resolveRestartStrategy({ type: 'none' });

  const cases: [string, RestartStrategy, number[], string][] = [
    ['none fails on the first failure', none, [10], 'fail'],
    ['fixed-delay restarts within its attempts', fixed, [10, 20], 'restart in 5000ms'],
    ['fixed-delay fails on the failure after its last attempt', fixed, [10, 20, 30], 'fail'],
    ['failure-rate restarts at maxFailures within the interval', rate, [0, 30], 'restart in 2000ms'],
    ['failure-rate fails above maxFailures within the interval', rate, [0, 30, 59], 'fail'],
    ['failure-rate forgets failures that left the window', rate, [0, 30, 61], 'restart in 2000ms'],
    ['failure-rate: a failure exactly one interval old is outside', rate, [0, 1, 60, 60], 'fail'],
    ['exponential-delay starts at initialDelay', expo, [0], 'restart in 1000ms'],
    ['exponential-delay doubles per consecutive failure', expo, [0, 1, 2], 'restart in 4000ms'],
    ['exponential-delay caps at maxDelay', expo, [0, 1, 2, 3, 4, 5, 6], 'restart in 10000ms'],
    ['exponential-delay resets after resetAfter without failure', expo, [0, 1, 2, 302], 'restart in 1000ms'],
    ['exponential-delay does not reset just before resetAfter', expo, [0, 1, 2, 301], 'restart in 8000ms'],
  ];
  for (const [name, strategy, failures, expected] of cases) {
    it(name, () => {
      const { decision } = after(strategy, failures);
      const got = decision.kind === 'fail' ? 'fail' : `restart in ${decision.delayMs}ms`;
      assert.equal(got, expected);
    });
  }

  it('exponential-delay keeps jitter within ±jitter of the back-off', () => {
    const history = recordFailure(recordFailure(empty, t(0), expo), t(1), expo);
    const low = decideRestart(expo, history, t(1), () => 0);
    const high = decideRestart(expo, history, t(1), () => 0.999999);
    assert.equal(low.kind === 'restart' && low.delayMs, 1600);
    assert.ok(high.kind === 'restart' && high.delayMs <= 2400 && high.delayMs > 2399);
  });

  it('resets from the last restart time, not the first failure', () => {
    // Failures at 0 s and 1 s; pods restarted at 250 s; a failure at 560 s is 310 s after the restart.
    const { decision, history } = after(expo, [0, 1, 560], { lastRestartAt: 250 });
    assert.equal(history.consecutive, 1);
    assert.equal(decision.kind === 'restart' && decision.delayMs, 1000);
  });

  it('names the strategy and the numbers when it gives up', () => {
    const { decision } = after(fixed, [1, 2, 3]);
    assert.deepEqual(decision, {
      kind: 'fail',
      reason: 'RestartStrategyExhausted',
      message: 'restart strategy fixed-delay: failure 3 exceeds the 2 restart attempts',
    });
  });

  it('applies exponential-delay defaults', () => {
    assert.deepEqual(resolveRestartStrategy({ type: 'exponential-delay' }), {
      type: 'exponential-delay',
      initialDelayMs: 1000,
      maxDelayMs: 60_000,
      multiplier: 2,
      resetAfterMs: 600_000,
      jitter: 0.1,
    });
  });

  it('bounds the recorded history', () => {
    let history = empty;
    for (let i = 0; i < 250; i++) history = recordFailure(history, t(i), fixed);
    assert.equal(history.recent.length, 100);
    assert.equal(history.count, 250);
    assert.deepEqual(history.recent[0], t(150));
  });
});
