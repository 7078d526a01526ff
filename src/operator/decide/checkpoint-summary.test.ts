import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamJobStatus } from '../../api/streamjob.ts';
import { checkpointEvents, type ObservedTaskCheckpoint, summarizeCheckpoints } from './checkpoint-summary.ts';

const at = (s: number) => new Date(Date.UTC(2026, 10, 22, 4, 0, s));
const iso = (s: number) => at(s).toISOString();
const task = (t: number, id = 0, s?: number, failures = 0): ObservedTaskCheckpoint => ({
  task: t,
  checkpointId: id,
  consecutiveFailures: failures,
  ...(s !== undefined ? { committedAsOf: at(s) } : {}),
});
const earlier: StreamJobStatus['checkpoint'] = {
  latestCompleted: { id: 3, time: iso(1) },
  consecutiveFailures: 0,
};

describe('summarizeCheckpoints', () => {
  const cases: {
    name: string;
    previous: StreamJobStatus['checkpoint'];
    reports: ObservedTaskCheckpoint[];
    parallelism: number;
    expect: StreamJobStatus['checkpoint'];
  }[] = [
    {
      name: 'no reports keep the previous status',
      previous: earlier,
      reports: [],
      parallelism: 2,
      expect: earlier,
    },
    {
      name: 'a multi-stage job: every task of every stage counts, and the slowest of all is the job’s',
      previous: undefined,
      reports: [task(0, 5, 9), task(1, 6, 8), { ...task(0, 4, 3), stage: 1 }, { ...task(1, 7, 7), stage: 1 }],
      parallelism: 2,
      expect: { latestCompleted: { id: 4, time: iso(3) }, consecutiveFailures: 0 },
    },
    {
      name: 'no reports and nothing before',
      previous: undefined,
      reports: [],
      parallelism: 2,
      expect: undefined,
    },
    {
      name: 'every task reported: the oldest time and the lowest id',
      previous: undefined,
      reports: [task(0, 9, 20), task(1, 7, 15)],
      parallelism: 2,
      expect: { latestCompleted: { id: 7, time: iso(15) }, consecutiveFailures: 0 },
    },
    {
      name: 'a task still restoring keeps the previous latest',
      previous: earlier,
      reports: [task(0, 9, 20), task(1)],
      parallelism: 2,
      expect: { latestCompleted: { id: 3, time: iso(1) }, consecutiveFailures: 0 },
    },
    {
      name: 'a missing task (pod not ready) keeps the previous latest',
      previous: earlier,
      reports: [task(0, 9, 20)],
      parallelism: 2,
      expect: earlier,
    },
    {
      name: 'failures are the worst task’s, even before the latest can move',
      previous: earlier,
      reports: [task(0, 9, 20, 1), task(1, undefined, undefined, 2)],
      parallelism: 2,
      expect: { latestCompleted: { id: 3, time: iso(1) }, consecutiveFailures: 2 },
    },
    {
      name: 'tasks beyond parallelism (a pod of the old scale) are ignored',
      previous: undefined,
      reports: [task(0, 4, 30), task(1, 2, 5)],
      parallelism: 1,
      expect: { latestCompleted: { id: 4, time: iso(30) }, consecutiveFailures: 0 },
    },
    {
      name: 'a task reported twice counts its newer report',
      previous: undefined,
      reports: [task(0, 4, 30), task(0, 5, 40)],
      parallelism: 1,
      expect: { latestCompleted: { id: 5, time: iso(40) }, consecutiveFailures: 0 },
    },
    {
      name: 'a task that has not checkpointed yet but is up to date counts, with id 0',
      previous: undefined,
      reports: [task(0, 0, 12), task(1, 6, 20)],
      parallelism: 2,
      expect: { latestCompleted: { id: 0, time: iso(12) }, consecutiveFailures: 0 },
    },
    {
      name: 'failures clear once every task succeeds again',
      previous: { latestCompleted: { id: 3, time: iso(1) }, consecutiveFailures: 4 },
      reports: [task(0, 5, 40)],
      parallelism: 1,
      expect: { latestCompleted: { id: 5, time: iso(40) }, consecutiveFailures: 0 },
    },
    {
      name: 'lag: summed over every stage and task, each from its newest report',
      previous: undefined,
      reports: [
        { ...task(0, 5, 9), lag: 10 },
        { ...task(0, 4, 2), lag: 500 },
        { ...task(1, 6, 8), lag: 20 },
        { ...task(0, 4, 3), stage: 1, lag: 7 },
      ],
      parallelism: 2,
      expect: { latestCompleted: { id: 4, time: iso(3) }, consecutiveFailures: 0, lagRecords: 37 },
    },
    {
      name: 'lag: absent while a task’s lag is not known, or a task has not reported',
      previous: { consecutiveFailures: 0, lagRecords: 99 },
      reports: [
        { ...task(0, 5, 9), lag: 10 },
        { ...task(1, 6, 8), lag: null },
      ],
      parallelism: 2,
      expect: { latestCompleted: { id: 5, time: iso(8) }, consecutiveFailures: 0 },
    },
    {
      name: 'lag: absent while the first stage has tasks without a report',
      previous: undefined,
      reports: [{ ...task(0, 5, 9), lag: 10 }],
      parallelism: 2,
      expect: { consecutiveFailures: 0 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(summarizeCheckpoints(c.previous, c.reports, c.parallelism), c.expect));
  }
});

describe('checkpointEvents', () => {
  const withFailures = (n: number | undefined): StreamJobStatus['checkpoint'] =>
    n === undefined ? undefined : { consecutiveFailures: n };
  const cases: { before?: number; after?: number; expect: string[] }[] = [
    { before: undefined, after: 0, expect: [] },
    { before: 0, after: 1, expect: ['Warning CheckpointFailing'] },
    { before: undefined, after: 2, expect: ['Warning CheckpointFailing'] },
    { before: 1, after: 2, expect: [] },
    { before: 2, after: 0, expect: ['Normal CheckpointRecovered'] },
    { before: 0, after: 0, expect: [] },
  ];
  for (const c of cases) {
    it(`${c.before} → ${c.after} failures: ${c.expect.join(', ') || 'no event'}`, () => {
      const events = checkpointEvents(withFailures(c.before), withFailures(c.after), 3);
      assert.deepEqual(
        events.map((e) => `${e.type} ${e.reason}`),
        c.expect,
      );
      for (const e of events.filter((e) => e.type === 'Warning')) assert.match(e.message, /after 4$/);
    });
  }
});
