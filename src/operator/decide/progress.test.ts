import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextPollDelayMs, type ObservedTaskReport, stalledPods } from './progress.ts';

const report = (over: Partial<ObservedTaskReport> = {}): ObservedTaskReport => ({
  task: 0,
  state: 'running',
  checkpointId: 1,
  consecutiveFailures: 0,
  lag: 0,
  sinceCommitMs: 500,
  pod: 'j-tm-0',
  podUid: 'u0',
  ...over,
});

describe('stalledPods', () => {
  it('names each pod with a stalled task once, with every stalled task of it', () => {
    const stalled = stalledPods(
      [
        report({ task: 0, sinceCommitMs: 9_000, lag: 5 }),
        report({ task: 1, sinceCommitMs: 12_000, lag: null }),
        report({ task: 2, pod: 'j-tm-1', podUid: 'u1' }),
      ],
      6_000,
    );
    assert.deepEqual(
      [...stalled],
      [
        [
          'j-tm-0',
          {
            uid: 'u0',
            cause:
              'NO_PROGRESS: no commit within the progress window of 6s: task 0 (lag 5, last commit 9s ago), task 1 (lag unknown, last commit 12s ago)',
          },
        ],
      ],
    );
  });
});

describe('nextPollDelayMs', () => {
  const timing = { checkpointIntervalMs: 1_000, progressWindowMs: 20_000 };
  const cases: [string, ObservedTaskReport[] | undefined, typeof timing, number, number][] = [
    ['no reports yet: the usual period', undefined, timing, 5_000, 5_000],
    ['healthy: the usual period', [report()], timing, 5_000, 5_000],
    ['a long period is cut to half the window', [report()], timing, 30_000, 10_000],
    [
      'a commit overdue by two intervals: a tenth of the window',
      [report({ sinceCommitMs: 2_500 })],
      timing,
      30_000,
      2_000,
    ],
    [
      'never under a second',
      [report({ sinceCommitMs: 2_500 })],
      { checkpointIntervalMs: 1_000, progressWindowMs: 4_000 },
      30_000,
      1_000,
    ],
    [
      'a restoring task is not overdue',
      [report({ state: 'restoring', sinceCommitMs: 9_000 })],
      timing,
      5_000,
      5_000,
    ],
    ['a short period stays', [report({ sinceCommitMs: 9_000 })], timing, 1_000, 1_000],
  ];
  for (const [what, reports, t, period, expected] of cases) {
    it(what, () => assert.equal(nextPollDelayMs(reports, t, period), expected));
  }
});
