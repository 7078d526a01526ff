import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { TaskManagerReport } from '../../api/control-api.ts';
import type { StreamJob } from '../../api/streamjob.ts';
import type { ObservedPod } from '../decide/observation.ts';
import { testingSpec } from '../decide/testing-spec.ts';
import { TaskManagerPoller } from './taskmanager-poller.ts';

const job: StreamJob = {
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'StreamJob',
  metadata: { name: 'j', namespace: 'ns', uid: 'u1', generation: 1 },
  spec: testingSpec({}),
  status: { run: { id: 'r1', startedAt: '2026-11-30T00:00:00Z' } } as StreamJob['status'],
};

const pod = (over: Partial<ObservedPod> = {}): ObservedPod => ({
  name: 'j-tm-0',
  uid: 'p0',
  index: 0,
  restartEpoch: 0,
  specHash: 'h',
  runId: 'r1',
  phase: 'Running',
  ready: true,
  deleting: false,
  podIP: '10.0.0.1',
  ...over,
});

/** Lets the poll's promise chain take the answer (it settles within the microtasks before the next macrotask). */
const answered = () => new Promise((resolve) => setImmediate(resolve));

/** A stand-in for the TaskManagers: each ask waits until the test answers it. */
class TestingTaskManagers {
  readonly pending: ((report: TaskManagerReport) => void)[] = [];
  readonly fetch = (): Promise<TaskManagerReport> => new Promise((resolve) => this.pending.push(resolve));
}

function poller(now: () => Date, maxConcurrentRequests?: number) {
  const requeued: string[] = [];
  const taskManagers = new TestingTaskManagers();
  const p = new TaskManagerPoller({
    ...(maxConcurrentRequests ? { maxConcurrentRequests } : {}),
    fetchStatus: taskManagers.fetch,
    key: Buffer.alloc(32, 1),
    minIntervalMs: 5_000,
    timeoutMs: 500,
    now,
    log: pino({ level: 'silent' }),
    onReports: (j) => requeued.push(j.metadata.name ?? ''),
  });
  return { p, requeued, taskManagers };
}

describe('TaskManagerPoller', () => {
  it('keeps at most its limit of status requests in flight over all jobs; the others wait their turn', async () => {
    const { p, taskManagers, requeued } = poller(() => new Date(0), 2);
    const jobs = ['a', 'b', 'c'].map((name, i) => ({
      ...job,
      metadata: { ...job.metadata, name, uid: `u-${name}` },
      pods: [pod({ name: `${name}-tm-0`, podIP: `10.0.0.${i + 1}` })],
    }));
    for (const j of jobs) p.observe(j, j.pods);
    await answered();
    assert.equal(taskManagers.pending.length, 2, 'two asked, the third waits for a slot');
    const report: TaskManagerReport = { runId: 'r1', tasks: [] };
    taskManagers.pending.shift()?.(report);
    await answered();
    assert.equal(taskManagers.pending.length, 2, 'the answer handed its slot to the waiting job');
    for (const answer of taskManagers.pending.splice(0)) answer(report);
    await answered();
    assert.deepEqual(requeued.sort(), ['a', 'b', 'c']);
  });

  it('asks for no requeue while no pod can be asked, however long since the last poll', () => {
    const { p } = poller(() => new Date(0));
    assert.deepEqual(p.observe(job, []), { reports: undefined, nextPollInMs: undefined });
    assert.deepEqual(p.observe(job, [pod({ ready: false })]), {
      reports: undefined,
      nextPollInMs: undefined,
    });
    assert.deepEqual(p.observe(job, [pod({ runId: 'old' })]), {
      reports: undefined,
      nextPollInMs: undefined,
    });
  });

  it('while a poll is in flight the answer requeues the job; after it, the next poll is due one period later', async () => {
    let clock = 0;
    const { p, requeued, taskManagers } = poller(() => new Date(clock));
    const started = p.observe(job, [pod()]);
    assert.equal(started.nextPollInMs, undefined, 'a poll started: its answer brings the job back');
    clock = 600;
    assert.equal(p.observe(job, [pod()]).nextPollInMs, undefined, 'still in flight: no requeue asked');
    assert.equal(taskManagers.pending.length, 1, 'one ask at a time');
    const task = {
      task: 0,
      state: 'running',
      checkpointId: 3,
      lag: 0,
      consecutiveFailures: 0,
      sinceCommitMs: 200,
    };
    taskManagers.pending[0]?.({ runId: 'r1', tasks: [task] });
    await answered();
    assert.deepEqual(requeued, ['j']);
    clock = 1_000;
    const after = p.observe(job, [pod()]);
    assert.deepEqual(after, { reports: [{ ...task, pod: 'j-tm-0', podUid: 'p0' }], nextPollInMs: 4_000 });
    clock = 4_999;
    assert.equal(p.observe(job, [pod()]).nextPollInMs, 1);
  });

  it('a job whose commit is overdue is asked every tenth of its window', async () => {
    let clock = 0;
    const { p, taskManagers } = poller(() => new Date(clock));
    const windowed: StreamJob = {
      ...job,
      spec: testingSpec({
        checkpoints: { ...testingSpec().checkpoints, interval: '1s', progressWindow: '20s' },
      }),
    };
    p.observe(windowed, [pod()]);
    taskManagers.pending[0]?.({
      runId: 'r1',
      tasks: [
        { task: 0, state: 'running', checkpointId: 3, lag: 9, consecutiveFailures: 0, sinceCommitMs: 2_500 },
      ],
    });
    await answered();
    clock = 100;
    assert.equal(
      p.observe(windowed, [pod()]).nextPollInMs,
      1_900,
      'due 2 s (a tenth of 20 s) after the last',
    );
  });
});
