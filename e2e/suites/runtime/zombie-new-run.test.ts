import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  emittedCounts,
  exactlyOnceProblems,
  expectedCounts,
  keyedInput,
} from '../../support/committed-state.ts';
import {
  createTopics,
  produce,
  readCommitted,
  readUncommitted,
  uniqueName,
} from '../../support/kafka-topics.ts';
import { type TaskManagerProcess, TaskManagers } from '../../support/taskmanager-process.ts';

const partitions = 4;
const keys = 20;

/**
 * Issue 29, item 2 (the run half): a TaskManager of the previous run still
 * alive after a new run started (a stateless upgrade, a savepoint upgrade or a
 * new initialSavepoint while its node was frozen) must commit nothing more.
 * Run A's task 0 is paused with records in its open transaction; run B starts
 * (writing another topic, so each run's output can be checked on its own);
 * when A's task 0 wakes up, its commit is refused and its open transaction was
 * aborted: run A's output shows only what it committed before the new run.
 */
describe('TaskManager runtime: a zombie of the previous run after a new run starts', () => {
  const taskManagers = new TaskManagers();
  after(() => taskManagers.killAll());

  it('the new run’s task 0 fences every id of the old run before any task of the new run reads offsets', async () => {
    const input = uniqueName('zn-in');
    const outputA = uniqueName('zn-out-a');
    const outputB = uniqueName('zn-out-b');
    await createTopics(
      { name: input, partitions },
      { name: outputA, partitions },
      { name: outputB, partitions },
    );
    const runA = { job: 'zn', runId: uniqueName('ra'), input, output: outputA, parallelism: 2 };
    const runB = { job: 'zn', runId: uniqueName('rb'), input, output: outputB, parallelism: 2 };
    await produce(input, keyedInput(0, 400, keys));
    // Task 0 of run A commits every 10 s, so its transaction stays open a while after it processed records.
    const zombie = taskManagers.start({ ...runA, tasks: [0], interval: '10s' });
    const a1 = taskManagers.start({ ...runA, tasks: [1] });
    await readCommitted(outputA, partitions, { expected: 400, timeoutMs: 60_000, quietMs: 300 });
    await produce(input, keyedInput(400, 200, keys));
    await readUncommitted(outputA, partitions, { expected: 600, timeoutMs: 30_000, quietMs: 0 });
    zombie.signal('SIGSTOP');
    a1.signal('SIGTERM');
    assert.equal(await a1.exited, 0, a1.stderr);

    // Task 1 of run B starts first: it must wait for its task 0's fence of run A.
    const b1: TaskManagerProcess = taskManagers.start({ ...runB, tasks: [1] });
    await b1.waitForLog(
      'the wait for the fence',
      (l) => l.msg === 'waiting for task 0 to fence the earlier layout before reading offsets',
      30_000,
    );
    const b0 = taskManagers.start({ ...runB, tasks: [0] });
    await b0.waitForLog('run B recorded', (l) => l.msg === 'recorded the layout: its tasks may read offsets');
    await produce(input, keyedInput(600, 200, keys));
    const recordsB = await readCommitted(outputB, partitions, {
      expected: 800,
      timeoutMs: 120_000,
      quietMs: 1_000,
    });

    // Run A's task 0 wakes up with an open transaction and tries to commit it.
    zombie.signal('SIGCONT');
    assert.equal(await zombie.exited, 1, 'the zombie fails instead of committing');
    assert.ok(
      zombie.lines.some((l) => l.code === 'TASK_FENCED'),
      JSON.stringify(zombie.lines.filter((l) => Number(l.level) >= 50)),
    );
    for (const tm of [b0, b1]) tm.signal('SIGTERM');
    for (const tm of [b0, b1]) assert.equal(await tm.exited, 0, tm.exitReport());
    assert.ok(
      b0.lines.some(
        (l) =>
          l.msg === 'fenced a task of an earlier layout before this one reads offsets' &&
          l.transactionalId === `weir.e2e.zn.${runA.runId}.s0.t0`,
      ),
      'run B’s task 0 fenced run A’s task 0',
    );
    // Run B read the input from the start: every key exactly once.
    assert.deepEqual(exactlyOnceProblems(emittedCounts(recordsB), expectedCounts(800, keys)), []);

    // Run A: what it committed before run B started, and nothing the zombie held then.
    const recordsA = await readCommitted(outputA, partitions, {
      expected: 400,
      timeoutMs: 30_000,
      quietMs: 2_000,
    });
    const countsA = emittedCounts(recordsA);
    const finals = new Map([...countsA].map(([key, counts]) => [key, counts.length]));
    assert.deepEqual(
      exactlyOnceProblems(countsA, finals),
      [],
      'run A committed each key’s counts once, in order',
    );
    for (const [key, n] of finals) assert.ok(n === 20 || n === 30, `${key}: ${n} counts`);
    assert.ok(
      [...finals.values()].some((n) => n === 20),
      `the zombie’s open transaction was aborted: its keys stop at 20 (run A committed ${recordsA.length} records)`,
    );
  });
});
