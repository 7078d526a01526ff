import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { noProgressMessage } from '../../api/progress.ts';
import { ProgressHealth, progressVerdict, type TaskProgress } from './progress-health.ts';

const now = 1_000_000;
const task = (over: Partial<TaskProgress>): TaskProgress => ({
  task: 0,
  state: 'running',
  committedAsOf: now - 1_000,
  lag: 0,
  ...over,
});

describe('progress verdict', () => {
  const window = 30_000;
  const cases: [string, TaskProgress[], boolean, number[]][] = [
    ['a task that committed within the window', [task({})], true, []],
    ['exactly at the window', [task({ committedAsOf: now - window })], true, []],
    ['past the window while running', [task({ committedAsOf: now - window - 1, lag: 42 })], false, [0]],
    ['past the window while checkpointing', [task({ state: 'checkpointing', committedAsOf: 0 })], false, [0]],
    ['restoring is readiness’ concern', [task({ state: 'restoring', committedAsOf: undefined })], true, []],
    ['stopping has its own timeout', [task({ state: 'stopping', committedAsOf: 0 })], true, []],
    ['a failed task ends the process anyway', [task({ state: 'failed', committedAsOf: 0 })], true, []],
    [
      'one stalled task of three',
      [task({ task: 0 }), task({ task: 1, committedAsOf: now - 60_000 }), task({ task: 2 })],
      false,
      [1],
    ],
  ];
  for (const [what, tasks, live, stalled] of cases) {
    it(what, () => {
      const verdict = progressVerdict(tasks, now, window);
      assert.equal(verdict.live, live);
      assert.deepEqual(
        verdict.stalled.map((s) => s.task),
        stalled,
      );
    });
  }

  it('names a later stage’s task by stage and index', () => {
    const verdict = progressVerdict(
      [task({ task: 0 }), task({ stage: 1, task: 0, committedAsOf: now - 40_000, lag: 7 })],
      now,
      window,
    );
    assert.deepEqual(verdict.stalled, [{ stage: 1, task: 0, lag: 7, sinceCommitMs: 40_000 }]);
    assert.match(noProgressMessage(window, verdict.stalled), /task s1-t0 \(lag 7, last commit 40s ago\)/);
  });

  it('names the lag and the time since the last commit', () => {
    const verdict = progressVerdict([task({ task: 3, committedAsOf: now - 45_000, lag: 1200 })], now, window);
    assert.deepEqual(verdict.stalled, [{ task: 3, lag: 1200, sinceCommitMs: 45_000 }]);
  });
});

describe('the liveness judge', () => {
  it('answers 503 content naming the stalled task, and logs each turn once', () => {
    const lines: { level: number; msg: string }[] = [];
    const log = pino({}, { write: (line: string) => void lines.push(JSON.parse(line)) });
    let clock = now;
    let committedAsOf = now;
    const health = new ProgressHealth(
      [{ progress: () => task({ task: 2, committedAsOf, lag: 40 }) }],
      30_000,
      log,
      () => clock,
    );
    assert.equal(health.check(), undefined);
    clock = now + 31_000;
    const first = health.check();
    assert.equal(first?.code, 'NO_PROGRESS');
    assert.equal(
      first?.message,
      'no commit within the progress window of 30s: task 2 (lag 40, last commit 31s ago)',
    );
    health.check();
    committedAsOf = clock;
    assert.equal(health.check(), undefined);
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        [40, 'progress: a task has not committed within the progress window; liveness fails'],
        [30, 'progress: every task commits again'],
      ],
    );
  });
});
