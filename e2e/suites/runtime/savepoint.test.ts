import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { waitFor } from '../../support/cluster.ts';
import {
  committedCounts,
  committedOffsets,
  emittedCounts,
  exactlyOnceProblems,
  expectedCounts,
  keyedInput,
} from '../../support/committed-state.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { TaskManagers } from '../../support/taskmanager-process.ts';

const keys = 10;

describe('TaskManager runtime: savepoints', () => {
  const taskManagers = new TaskManagers();
  const start = taskManagers.start.bind(taskManagers);
  after(() => taskManagers.killAll());

  it('stops with a savepoint, and a new run restores from it and continues the counts', async () => {
    const input = uniqueName('sp-in');
    const firstOut = uniqueName('sp-out1');
    const secondOut = uniqueName('sp-out2');
    await createTopics(
      { name: input, partitions: 4 },
      { name: firstOut, partitions: 4 },
      { name: secondOut, partitions: 4 },
    );
    await produce(input, keyedInput(0, 500, keys));
    const job = uniqueName('sp');
    const token = 'savepoint-test-token';
    const base = { job, input, parallelism: 2, tasks: [0, 1], token };
    const first = start({ ...base, runId: 'r1', output: firstOut });
    const url = await first.controlUrl();
    await readCommitted(firstOut, 4, { expected: 500, timeoutMs: 60_000, quietMs: 200 });
    const stop = await fetch(`${url}/v1/stop`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
      body: JSON.stringify({ savepointId: 'before-upgrade' }),
    });
    assert.equal(stop.status, 200);
    const body = (await stop.json()) as { manifest: string };
    assert.match(body.manifest, new RegExp(`^e2e/${job}/savepoints/before-upgrade/_manifest-t0-t1\\.json$`));
    assert.equal(await first.exited, 0);

    // A new run (new offset group, new transactional ids) of the "upgraded" job, writing to a new topic.
    const second = start(
      { ...base, runId: 'r2', output: secondOut },
      { WEIR_RESTORE_SAVEPOINT: 'before-upgrade' },
    );
    await second.waitForLog('restoring from a savepoint', (l) => l.msg === 'restoring from a savepoint');
    // Before any new input, the restored state is stored into the run (the first checkpoint names the
    // savepoint's sections, which the run keeps from disposal, and a background round at once stores the run's
    // own): soon its commits name only its own snapshots, so deleting the savepoint cannot break it.
    await waitFor('the new run to commit only its own snapshots', 30_000, async () => {
      const pointers = (await committedOffsets(`weir.e2e.${job}.r2`, input, 4)).map(
        (p) => p.pointer?.objectKey,
      );
      return pointers.length === 4 && pointers.every((key) => key?.startsWith(`e2e/${job}/runs/r2/`));
    });
    await produce(input, keyedInput(500, 500, keys));
    const records = await readCommitted(secondOut, 4, { expected: 500, timeoutMs: 60_000 });
    second.signal('SIGTERM');
    assert.equal(await second.exited, 0, second.exitReport());
    assert.equal(records.length, 500, 'only the records after the savepoint are processed again');
    // The new run continues every key's count from where the savepoint left it.
    const problems = exactlyOnceProblems(
      emittedCounts(records),
      expectedCounts(1000, keys),
      expectedCounts(500, keys),
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(await committedCounts(`weir.e2e.${job}.r2`, input, 4), expectedCounts(1000, keys));
  });

  it('refuses a savepoint that does not exist, naming it', async () => {
    const input = uniqueName('sp-missing-in');
    const output = uniqueName('sp-missing-out');
    await createTopics({ name: input, partitions: 1 }, { name: output, partitions: 1 });
    const tm = start(
      { job: uniqueName('sp'), runId: 'r1', input, output, parallelism: 1, tasks: [0] },
      {
        WEIR_RESTORE_SAVEPOINT: 'never-taken',
      },
    );
    assert.equal(await tm.exited, 1);
    const failure = tm.lines.find((l) => l.msg === 'task failed');
    assert.equal(failure?.code, 'SNAPSHOT_MISSING');
    assert.match(JSON.stringify(failure), /savepoints\/never-taken\//);
  });
});
