import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AutoscalerSettings, type AutoscalerStatus, decideAutoscaler } from './autoscaler.ts';
import { LoadHistory, type LoadWindow, loadWindow, type TaskLoad } from './load-window.ts';

const t0 = new Date('2026-12-07T06:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const settings: AutoscalerSettings = {
  mode: 'apply',
  targetUtilization: 0.7,
  minParallelism: 1,
  maxParallelism: undefined,
  metricsWindowMs: 60_000,
  stabilizationMs: 60_000,
  scaleDownDelayMs: 300_000,
  catchUpMs: 300_000,
};

/** A task of stage 0 that processes `rate` rec/s at `busy` share, with a backlog. */
const task = (index: number, fields: Partial<TaskLoad> = {}): TaskLoad => {
  const t = {
    stage: 0,
    task: index,
    inRate: 1000,
    outRate: 1000,
    busy: 0.5,
    backpressure: 0,
    lag: 0,
    lagRate: 0,
    partitions: 3,
    ...fields,
  };
  // A steady load unless the case says otherwise: the latest quarter as the whole window.
  return { recentInRate: t.inRate, recentLagRate: t.lagRate, ...t };
};
const window = (tasks: TaskLoad[], spanMs = 60_000): LoadWindow => ({ spanMs, tasks });

function decide(
  tasks: TaskLoad[],
  fields: {
    current?: number;
    previous?: AutoscalerStatus;
    now?: Date;
    busy?: string;
    settings?: Partial<AutoscalerSettings>;
  } = {},
) {
  return decideAutoscaler(fields.previous, {
    settings: { ...settings, ...fields.settings },
    current: fields.current ?? tasks.length,
    window: window(tasks),
    busy: fields.busy,
    deployedAt: at(-3600),
    now: fields.now ?? t0,
  });
}

describe('decideAutoscaler: the parallelism the measurements call for', () => {
  const cases: { name: string; tasks: TaskLoad[]; current?: number; want: number; reason: RegExp }[] = [
    {
      name: 'holds a job whose busiest task is under the target',
      tasks: [task(0, { busy: 0.5 }), task(1, { busy: 0.4 })],
      want: 2,
      reason: /busiest task s0-t0 50% busy at 2000 rec\/s; 2000 rec\/s per busy task second; 2 tasks hold it/,
    },
    {
      name: 'a load step to 3× one task: the parallelism that holds it, in one decision',
      // One task does 2000 rec/s per busy second; 3 tasks' worth arrives (the backlog grows 4000 rec/s).
      tasks: [task(0, { inRate: 2000, busy: 1, lagRate: 4000, partitions: 12 })],
      want: 5, // ceil(6000 / (2000 × 0.7)) = 5
      reason: /s0-t0 100% busy at 2000 rec\/s, lag growing 4000 rec\/s; .*; 1 → 5 tasks/,
    },
    {
      name: 'the backlog counts: what arrives plus the backlog over catchUpDuration',
      // 1000 rec/s arrive; 600000 records over 300 s is 2000 rec/s more; 3000 / (2000 × 0.7) → 3.
      tasks: [task(0, { inRate: 1000, busy: 0.5, lag: 600_000, partitions: 12 })],
      want: 3,
      reason: /600000 records to read within 300s/,
    },
    {
      name: 'load back to 1×: the smallest parallelism that keeps the target',
      tasks: [0, 1, 2, 3, 4].map((i) => task(i, { inRate: 400, busy: 0.2, partitions: 2 })),
      want: 2, // 2000 rec/s at 2000 per busy second → 2000 / 1400 → 2
      reason: /5 → 2 tasks/,
    },
    {
      name: 'never more tasks than source partitions',
      tasks: [task(0, { inRate: 2000, busy: 1, lagRate: 40_000, partitions: 4 })],
      want: 4,
      reason: /1 → 4 tasks/,
    },
    {
      name: 'one hot partition: no scale-up that cannot spread it, and the reason says so',
      // s0-t0 reads one partition, which alone brings 1960 rec/s at 2000 rec/s per busy second: 98 % of a task.
      tasks: [
        task(0, {
          busy: 0.98,
          inRate: 1960,
          lagRate: 0,
          partitions: 1,
        }),
        task(1, { busy: 0.1, inRate: 200, partitions: 4 }),
        task(2, { busy: 0.1, inRate: 200, partitions: 4 }),
      ],
      want: 3,
      reason: /partition of s0-t0 alone brings 1960 rec\/s, 98% of a task, which more tasks would not spread/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decide(c.tasks, { ...(c.current ? { current: c.current } : {}) });
      assert.equal(d.status.recommendation?.parallelism, c.want);
      assert.match(d.status.recommendation?.reason ?? '', c.reason);
    });
  }

  it('no decision on a stage seen through some of its tasks (after a rescale, before all answered)', () => {
    // Three tasks run; one answered, 100 % busy at 439 rec/s: alone it would look like a 1-task stage.
    const partial = decide([task(2, { inRate: 439, busy: 1, partitions: 4 })], { current: 3 });
    assert.equal(partial.status.recommendation, undefined);
    assert.equal(partial.status.scaleDownSince, undefined);
  });

  it('a load step inside the window: what arrives now, not the window’s average', () => {
    // Over the window the backlog grew 1000 rec/s on average; in its latest quarter, 4000 rec/s.
    const d = decide([
      task(0, { inRate: 2000, busy: 1, lagRate: 1000, recentLagRate: 4000, partitions: 12 }),
    ]);
    assert.equal(d.status.recommendation?.parallelism, 5);
  });

  it('no second scale-up when the first raised nothing: the tasks share what does not grow with them', () => {
    const previous: AutoscalerStatus = {
      parallelism: 2,
      lastScaleTime: at(-600).toISOString(),
      lastScaleUp: { from: 1, to: 2, stage: 0, recordsPerSecond: 900 },
    };
    // Two tasks, each 100 % busy, process 920 rec/s together: not the 1800 two tasks promised.
    const stuck = [0, 1].map((i) => task(i, { inRate: 460, busy: 1, lagRate: 300, partitions: 6 }));
    const held = decide(stuck, { current: 2, previous });
    assert.equal(held.status.parallelism, 2);
    assert.deepEqual(held.events, []);
    assert.match(
      held.status.recommendation?.reason ?? '',
      /held: the scale-up 1 → 2 raised stage 0 from 900 to 920 rec\/s/,
    );
    // Two tasks that did double it may grow again.
    const grew = [0, 1].map((i) => task(i, { inRate: 900, busy: 1, lagRate: 300, partitions: 6 }));
    assert.ok((decide(grew, { current: 2, previous }).status.parallelism ?? 0) > 2);
  });

  it('scales up at once, with an Event, and records when', () => {
    const d = decide([task(0, { inRate: 2000, busy: 1, lagRate: 4000, partitions: 12 })]);
    assert.equal(d.status.parallelism, 5);
    assert.equal(d.status.lastScaleTime, t0.toISOString());
    assert.deepEqual(
      d.events.map((e) => e.reason),
      ['AutoscalerScaleUp'],
    );
    assert.equal(d.status.measurements?.stages?.[0]?.busiestBusyPercent, 100);
  });

  it('scales down once, after scaleDownDelay of lower recommendations', () => {
    const idle = [0, 1, 2, 3, 4].map((i) => task(i, { inRate: 400, busy: 0.2, partitions: 2 }));
    const first = decide(idle, { current: 5 });
    assert.equal(first.status.parallelism, undefined, 'not yet');
    assert.equal(first.status.scaleDownSince, t0.toISOString());
    const early = decide(idle, { current: 5, previous: first.status, now: at(299) });
    assert.equal(early.status.parallelism, undefined);
    const due = decide(idle, { current: 5, previous: early.status, now: at(300) });
    assert.equal(due.status.parallelism, 2);
    assert.deepEqual(
      due.events.map((e) => e.reason),
      ['AutoscalerScaleDown'],
    );
    assert.equal(due.status.scaleDownSince, undefined);
  });

  it('a higher recommendation in between starts the scale-down delay over', () => {
    const idle = [0, 1, 2, 3, 4].map((i) => task(i, { inRate: 400, busy: 0.2, partitions: 2 }));
    const first = decide(idle, { current: 5 });
    const busy = decide(
      [0, 1, 2, 3, 4].map((i) => task(i, { inRate: 1300, busy: 0.65, partitions: 2 })),
      {
        current: 5,
        previous: first.status,
        now: at(200),
      },
    );
    assert.equal(busy.status.scaleDownSince, undefined);
  });

  it('no change while busy, within stabilization, or before half the window is measured', () => {
    const hot = [task(0, { inRate: 2000, busy: 1, lagRate: 4000, partitions: 12 })];
    assert.equal(decide(hot, { busy: 'an upgrade is under way' }).status.parallelism, undefined);
    const recent = decide(hot, { previous: { lastScaleTime: at(-30).toISOString() } });
    assert.equal(recent.status.parallelism, undefined);
    assert.equal(recent.status.recommendation?.parallelism, 5, 'the recommendation is still shown');
    const short = decideAutoscaler(undefined, {
      settings,
      current: 1,
      window: window(hot, 20_000),
      busy: undefined,
      deployedAt: at(-3600),
      now: t0,
    });
    assert.equal(short.status.recommendation, undefined);
  });

  it('mode recommend: writes the recommendation, an Event when it changes, and holds nothing', () => {
    const hot = [task(0, { inRate: 2000, busy: 1, lagRate: 4000, partitions: 12 })];
    const d = decide(hot, { settings: { mode: 'recommend' }, previous: { parallelism: 3 } });
    assert.equal(d.status.parallelism, undefined);
    assert.equal(d.status.recommendation?.parallelism, 5);
    assert.deepEqual(
      d.events.map((e) => e.reason),
      ['AutoscalerRecommendation'],
    );
    assert.deepEqual(decide(hot, { settings: { mode: 'recommend' }, previous: d.status }).events, []);
  });

  it('unchanged, the figures in status are refreshed once a minute, not every poll (one status write a minute)', () => {
    const steady = (busy: number) => [task(0, { busy }), task(1, { busy })];
    const first = decide(steady(0.5));
    const soon = decide(steady(0.52), { previous: first.status, now: at(30) });
    assert.deepEqual(soon.status, first.status, 'nothing to write 30 s later');
    const later = decide(steady(0.52), { previous: soon.status, now: at(60) });
    assert.equal(later.status.measurements?.stages?.[0]?.busiestBusyPercent, 52);
    assert.equal(later.status.measurements?.time, at(60).toISOString());
  });

  it('bounded by minParallelism and maxParallelism, and says so', () => {
    const hot = [task(0, { inRate: 2000, busy: 1, lagRate: 4000, partitions: 12 })];
    const d = decide(hot, { settings: { maxParallelism: 3 } });
    assert.equal(d.status.parallelism, 3);
    assert.match(d.status.recommendation?.reason ?? '', /bounded to 1–3/);
  });

  it('a noisy load around a steady mean: one decision at most', () => {
    let previous: AutoscalerStatus | undefined;
    let current = 2;
    let scalings = 0;
    // ±30 % every 30 s for 15 minutes around 1000 rec/s per task at 50 % busy (2000 rec/s per busy second).
    for (let s = 0; s <= 900; s += 30) {
      const factor = s % 60 === 0 ? 1.3 : 0.7;
      const tasks = [0, 1].map((i) => task(i, { inRate: 1000 * factor, busy: 0.5 * factor, partitions: 6 }));
      const d = decide(tasks, { current, ...(previous ? { previous } : {}), now: at(s) });
      if (d.status.parallelism !== undefined && d.status.parallelism !== current) {
        scalings++;
        current = d.status.parallelism;
      }
      previous = d.status;
    }
    assert.ok(scalings <= 1, `${scalings} scalings`);
  });
});

describe('loadWindow: rates from the counters of two polls', () => {
  const load = (recordsIn: number, busyMs: number, uptimeMs: number) => ({
    recordsIn,
    recordsOut: recordsIn,
    busyMs,
    backpressureMs: 0,
    uptimeMs,
  });

  it('differences over the task’s own uptime; the backlog’s growth over the operator’s time', () => {
    const history = new LoadHistory();
    history.add(0, 'r1', [
      {
        task: 0,
        state: 'running',
        checkpointId: 1,
        lag: 100,
        consecutiveFailures: 0,
        partitionCount: 4,
        load: load(0, 0, 1000),
      },
    ]);
    history.add(10_000, 'r1', [
      {
        task: 0,
        state: 'running',
        checkpointId: 2,
        lag: 600,
        consecutiveFailures: 0,
        partitionCount: 4,
        load: load(20_000, 5000, 11_000),
      },
    ]);
    assert.deepEqual(history.window(60_000, 10_000), {
      spanMs: 10_000,
      tasks: [
        {
          stage: 0,
          task: 0,
          inRate: 2000,
          outRate: 2000,
          busy: 0.5,
          backpressure: 0,
          lag: 600,
          lagRate: 50,
          recentInRate: 2000,
          recentLagRate: 50,
          partitions: 4,
        },
      ],
    });
  });

  it('a restarted task is measured from its restart; a new run starts over; tasks gone since are left out', () => {
    const sample = (atMs: number, tasks: { task: number; uptime: number; recordsIn: number }[]) => ({
      atMs,
      runId: 'r1',
      tasks: tasks.map((t) => ({
        stage: 0,
        task: t.task,
        lag: 0,
        partitions: 1,
        load: load(t.recordsIn, 0, t.uptime),
      })),
    });
    const w = loadWindow(
      [
        sample(0, [
          { task: 0, uptime: 50_000, recordsIn: 99_000 },
          { task: 1, uptime: 1000, recordsIn: 0 },
        ]),
        sample(5000, [{ task: 0, uptime: 1000, recordsIn: 0 }]),
        sample(10_000, [{ task: 0, uptime: 6000, recordsIn: 5000 }]),
      ],
      60_000,
      10_000,
    );
    assert.deepEqual(
      w?.tasks.map((t) => [t.task, t.inRate]),
      [[0, 1000]],
    );
  });
});
