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
 * Issue 29, item 2: a TaskManager of the previous layout that is still alive
 * after a rescale (its node froze; the operator force-deleted its pod and
 * started the new layout) must not commit offsets of a partition a task of the
 * new layout has already read. Partition 2 moves from task 0 (of 2) to task 2
 * (of 3); the old task 0 is paused with records of partition 2 in its open
 * transaction while the new layout's tasks 1 and 2 start, then resumes and
 * commits before the new task 0 starts.
 */
describe('TaskManager runtime: a zombie of the previous layout after a rescale 2 → 3', () => {
  const taskManagers = new TaskManagers();
  after(() => taskManagers.killAll());

  it('new tasks read offsets only after the old layout is fenced: what the zombie commits is not processed twice', async () => {
    const input = uniqueName('zr-in');
    const output = uniqueName('zr-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    const base = { job: 'zr', runId: uniqueName('r'), input, output };
    const start = (parallelism: number, task: number, interval = '300ms'): TaskManagerProcess =>
      taskManagers.start({ ...base, parallelism, tasks: [task], interval });
    await produce(input, keyedInput(0, 400, keys));
    // The old task 0 commits every 10 s, so its transaction is open for a while after it processed records.
    const zombie = start(2, 0, '10s');
    const old1 = start(2, 1);
    await readCommitted(output, partitions, { expected: 400, timeoutMs: 60_000, quietMs: 300 });
    await produce(input, keyedInput(400, 200, keys));
    // Processed, not committed: the zombie's open transaction holds its partitions' outputs.
    await readUncommitted(output, partitions, { expected: 600, timeoutMs: 30_000, quietMs: 0 });
    zombie.signal('SIGSTOP');
    old1.signal('SIGTERM');
    assert.equal(await old1.exited, 0, old1.stderr);

    // The new layout's tasks 1 and 2 start first; task 2 takes partition 2 over from the paused task 0.
    const new1 = start(3, 1);
    const new2 = start(3, 2);
    await new2.waitForLog('started', (l) => l.msg === 'serving', 30_000);
    await new Promise((r) => setTimeout(r, 3_000));
    // The zombie wakes up and commits what it had open: nothing has fenced its id yet.
    const committed = zombie.waitForNextLog(
      'the zombie’s commit',
      (l) => l.msg === 'checkpoint: committed',
      30_000,
    );
    zombie.signal('SIGCONT');
    await committed;
    const new0 = start(3, 0);
    await produce(input, keyedInput(600, 200, keys));
    const records = await readCommitted(output, partitions, {
      expected: 800,
      timeoutMs: 120_000,
      quietMs: 2_000,
    });
    for (const tm of [new0, new1, new2]) tm.signal('SIGTERM');
    for (const tm of [new0, new1, new2]) assert.equal(await tm.exited, 0, tm.exitReport());
    assert.ok(
      new0.lines.some((l) => l.msg === 'fenced a task of an earlier layout before this one reads offsets'),
      'task 0 of the new layout fenced the old layout',
    );
    assert.ok(
      new2.lines.some(
        (l) => l.msg === 'waiting for task 0 to fence the earlier layout before reading offsets',
      ),
      'task 2 waited for the fence before reading offsets',
    );
    assert.deepEqual(exactlyOnceProblems(emittedCounts(records), expectedCounts(800, keys)), []);
    assert.equal(records.length, 800);
  });
});
