import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTaskManagerStatus } from '../../api/control-api.ts';

const task = (fields: Record<string, unknown> = {}) => ({
  task: 1,
  state: 'running',
  partitions: [],
  lastCheckpointId: 4,
  lastCheckpoint: null,
  committedAsOf: '2026-11-22T04:00:00.000Z',
  consecutiveCheckpointFailures: 0,
  ...fields,
});
const body = (tasks: unknown[], extra: Record<string, unknown> = {}) => ({
  job: 'j',
  runId: 'r1',
  tasks,
  ...extra,
});

describe('parseTaskManagerStatus', () => {
  it('reads each task’s state, checkpoint id, committed time, time since its commit, lag and failures', () => {
    const partitions = [
      { topic: 'in', partition: 0, offset: 10, lag: 5 },
      { topic: 'in', partition: 1, offset: 3, lag: 7 },
    ];
    const unknownLag = [{ topic: 'in', partition: 2, offset: null, lag: null }, ...partitions];
    const tasks = [
      task({ partitions, sinceCommitMs: 1500 }),
      task({ task: 3, state: 'restoring', committedAsOf: null, sinceCommitMs: null, partitions: unknownLag }),
    ];
    assert.deepEqual(parseTaskManagerStatus(body(tasks)), {
      runId: 'r1',
      tasks: [
        {
          task: 1,
          state: 'running',
          checkpointId: 4,
          committedAsOf: new Date('2026-11-22T04:00:00.000Z'),
          sinceCommitMs: 1500,
          lag: 12,
          consecutiveFailures: 0,
          partitionCount: 2,
        },
        {
          task: 3,
          state: 'restoring',
          checkpointId: 4,
          lag: null,
          consecutiveFailures: 0,
          partitionCount: 3,
        },
      ],
    });
  });

  it('reads a TaskManager too old to say how long ago it committed: no progress verdict, not an error', () => {
    const [report] = parseTaskManagerStatus(body([task()])).tasks;
    assert.equal(report?.sinceCommitMs, undefined);
  });

  it('reads a task’s load counters, and refuses ones that cannot be, naming the field', () => {
    const load = { recordsIn: 10, recordsOut: 9, busyMs: 400, backpressureMs: 100, uptimeMs: 1000 };
    assert.deepEqual(parseTaskManagerStatus(body([task({ load })])).tasks[0]?.load, load);
    for (const [bad, why] of [
      [{ ...load, recordsIn: -1 }, /tasks\[0\]\.load: recordsIn is not a whole number/],
      [{ ...load, busyMs: 1.5 }, /tasks\[0\]\.load: busyMs is not a whole number/],
      [{ ...load, busyMs: 5000 }, /busyMs and backpressureMs add up to more than uptimeMs/],
      ['busy', /tasks\[0\]\.load: not an object/],
    ] as const) {
      assert.throws(() => parseTaskManagerStatus(body([task({ load: bad })])), {
        code: 'TASKMANAGER_STATUS_INVALID',
        message: why,
      });
    }
  });

  it('reads a task’s offset resets', () => {
    const reset = {
      topic: 'in',
      partition: 2,
      from: 9,
      to: 40,
      policy: 'earliest',
      reason: 'out-of-range',
      at: '2026-12-06T10:00:00.000Z',
    };
    const [report] = parseTaskManagerStatus(body([task({ offsetResets: [reset] })])).tasks;
    assert.deepEqual(report?.offsetResets, [{ ...reset, at: new Date(reset.at) }]);
  });

  it('reads how a promoted task restored, cutting a long reason', () => {
    const [warm] = parseTaskManagerStatus(body([task({ warmRestore: { warm: true } })])).tasks;
    assert.deepEqual(warm?.warmRestore, { warm: true });
    const [cold] = parseTaskManagerStatus(
      body([task({ warmRestore: { warm: false, why: 'x'.repeat(1_000) } })]),
    ).tasks;
    assert.equal(cold?.warmRestore?.why?.length, 300);
  });

  it('reads a standby TaskManager’s lag: the sum of its standby tasks’, null while one is unknown', () => {
    const doc = (standby: unknown) => ({ ...(body([]) as Record<string, unknown>), standby });
    assert.equal(parseTaskManagerStatus(doc([{ lag: 3 }, { lag: 4 }])).standbyLag, 7);
    assert.equal(parseTaskManagerStatus(doc([{ lag: 3 }, { lag: null }])).standbyLag, null);
    assert.equal(parseTaskManagerStatus(body([])).standbyLag, undefined);
    assert.throws(() => parseTaskManagerStatus(doc([{ lag: -1 }])), /standby\[0\]\.lag: not a count or null/);
    assert.throws(
      () => parseTaskManagerStatus(doc(Array.from({ length: 4097 }, () => ({ lag: 0 })))),
      /standby: 4097 entries, more than 4096/,
    );
  });

  const reset = (fields: Record<string, unknown>) => ({
    topic: 'in',
    partition: 0,
    from: 1,
    to: 2,
    policy: 'latest',
    reason: 'truncated',
    at: '2026-12-06T10:00:00.000Z',
    ...fields,
  });
  const invalid: { name: string; body: unknown; field: string }[] = [
    {
      name: 'an offset reset with another policy',
      body: body([task({ offsetResets: [reset({ policy: 'fail' })] })]),
      field: 'tasks[0].offsetResets',
    },
    {
      name: 'more offset resets than a task reports',
      body: body([task({ offsetResets: Array.from({ length: 9 }, () => reset({})) })]),
      field: 'tasks[0].offsetResets',
    },
    { name: 'a task without a state', body: body([task({ state: 3 })]), field: 'tasks[0].state' },
    {
      name: 'a warm restore that is not a boolean',
      body: body([task({ warmRestore: { warm: 'yes' } })]),
      field: 'tasks[0].warmRestore',
    },
    {
      name: 'a negative time since the commit',
      body: body([task({ sinceCommitMs: -5 })]),
      field: 'tasks[0].sinceCommitMs',
    },
    {
      name: 'a partition lag that is not a count',
      body: body([task({ partitions: [{ topic: 'in', partition: 0, lag: '3' }] })]),
      field: 'tasks[0].partitions',
    },
    { name: 'partitions not a list', body: body([task({ partitions: {} })]), field: 'tasks[0].partitions' },
    { name: 'not an object', body: [], field: '(document)' },
    { name: 'no run id', body: { tasks: [] }, field: 'runId' },
    { name: 'tasks not a list', body: { runId: 'r', tasks: {} }, field: 'tasks' },
    { name: 'a task index that is negative', body: body([task({ task: -1 })]), field: 'tasks[0].task' },
    {
      name: 'a fractional checkpoint id',
      body: body([task({ lastCheckpointId: 1.5 })]),
      field: 'tasks[0].lastCheckpointId',
    },
    {
      name: 'a missing checkpoint id',
      body: body([task({ lastCheckpointId: undefined })]),
      field: 'tasks[0].lastCheckpointId',
    },
    {
      name: 'a failure count as text',
      body: body([task(), task({ consecutiveCheckpointFailures: '2' })]),
      field: 'tasks[1].consecutiveCheckpointFailures',
    },
    {
      name: 'a time that does not parse',
      body: body([task({ committedAsOf: 'yesterday' })]),
      field: 'tasks[0].committedAsOf',
    },
    {
      name: 'a time as a number',
      body: body([task({ committedAsOf: 17 })]),
      field: 'tasks[0].committedAsOf',
    },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name}, naming ${c.field}`, () => {
      assert.throws(
        () => parseTaskManagerStatus(c.body),
        (error: Error & { code?: string; retriable?: boolean }) => {
          assert.equal(error.code, 'TASKMANAGER_STATUS_INVALID');
          assert.equal(error.retriable, false);
          assert.ok(error.message.startsWith(`status field ${c.field}:`), error.message);
          return true;
        },
      );
    });
  }
});
