import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { repositoryRoot } from '../../support/cli.ts';
import {
  countSumProblems,
  emittedCounts,
  exactlyOnceProblems,
  expectedCounts,
  keyedInput,
} from '../../support/committed-state.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { type TaskManagerProcess, TaskManagers } from '../../support/taskmanager-process.ts';

const partitions = 4;
const keys = 16;
const token = randomBytes(16).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Warm upgrades (issue 32) with real TaskManager processes on the harness's
 * Kafka and MinIO, doing what the operator does with pods: the new version's
 * TaskManager starts as a standby of the old run (WEIR_STANDBY,
 * WEIR_WARM_FROM_RUN, and the savepoint its run will restore from), the old
 * version stops with that savepoint (POST /v1/stop), and the new one is
 * promoted (POST /v1/promote). With input flowing throughout, every key's
 * count and sum, in order, must come out as one run without an upgrade would
 * give them; and a warm state that cannot stand for the savepoint must not be
 * used.
 */
describe('TaskManager runtime: warm upgrades', () => {
  const taskManagers = new TaskManagers();
  after(() => taskManagers.killAll());

  function starter(job: string, input: string, stages: 1 | 2) {
    return (runId: string, output: string, env: NodeJS.ProcessEnv = {}): TaskManagerProcess =>
      taskManagers.start(
        { job, runId, input, output, parallelism: 1, tasks: [0], interval: '300ms', timeout: '5s', token },
        {
          WEIR_ARGS: JSON.stringify({ input, output, stages }),
          WEIR_ENTRY: `${repositoryRoot}/src/jobs/keyed-count-sum.ts`,
          ...env,
        },
      );
  }

  const warmEnv = (fromRun: string, savepointId: string) => ({
    WEIR_STANDBY: 'true',
    WEIR_WARM_FROM_RUN: fromRun,
    WEIR_RESTORE_SAVEPOINT: savepointId,
  });

  async function control(tm: TaskManagerProcess, path: string, method = 'GET', body?: unknown) {
    const response = await fetch(`${await tm.controlUrl()}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}` },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function caughtUp(tm: TaskManagerProcess): Promise<void> {
    await tm.waitForLog(
      'the warm standby tailing',
      (l) => l.msg === 'standby: snapshots loaded; tailing the changelog',
      60_000,
    );
    for (let i = 0; i < 300; i++) {
      const response = await fetch(`${await tm.controlUrl()}/readyz`);
      await response.body?.cancel();
      if (response.status === 200) return;
      await sleep(100);
    }
    assert.fail('the warm standby did not catch up within 30 s');
  }

  async function stopWithSavepoint(tm: TaskManagerProcess, savepointId: string): Promise<void> {
    const stop = await control(tm, '/v1/stop', 'POST', { savepointId });
    assert.equal(stop.status, 200, JSON.stringify(stop.body));
    assert.equal(await tm.exited, 0, tm.exitReport());
  }

  /** The promoted task's report of its restore (GET /v1/status), once it has one. */
  async function warmRestore(tm: TaskManagerProcess): Promise<unknown> {
    for (let i = 0; i < 600; i++) {
      const tasks = (await control(tm, '/v1/status')).body.tasks as { warmRestore?: unknown }[] | undefined;
      const report = tasks?.find((t) => t.warmRestore)?.warmRestore;
      if (report) return report;
      await sleep(100);
    }
    return assert.fail('no warmRestore in the promoted TaskManager status within 60 s');
  }

  for (const stages of [1, 2] as const) {
    it(`${stages === 1 ? 'single-stage' : 'two-stage'}: the new version warms beside the old, which stops with the savepoint; the new one continues on its warm state`, async (t) => {
      const input = uniqueName('wu-in');
      const output = uniqueName('wu-out');
      await createTopics({ name: input, partitions }, { name: output, partitions });
      const start = starter(uniqueName('wu'), input, stages);
      let produced = 0;
      let flowing = true;
      // Bounded: at most 1,200 batches of 10 records (about 2 minutes of input), fewer when the test ends first.
      const feeding = (async () => {
        for (let i = 0; i < 1_200 && flowing; i++) {
          await produce(input, keyedInput(produced, 10, keys));
          produced += 10;
          await sleep(100);
        }
      })();
      const old = start('r1', output);
      await old.waitForLog('a first commit', (l) => l.msg === 'checkpoint: committed', 60_000);
      const warm = start('r2', output, warmEnv('r1', 'sp-warm'));
      await caughtUp(warm);
      // Held back while the old version commits three more checkpoints: the hand-over has the changelog's
      // tail to replay (how much of it the standby applies first, once resumed, depends on timing).
      warm.signal('SIGSTOP');
      for (let i = 0; i < 3; i++) {
        await old.waitForNextLog(
          'a commit while the new version is held',
          (l) => l.msg === 'checkpoint: committed',
        );
      }
      await stopWithSavepoint(old, 'sp-warm');
      warm.signal('SIGCONT');
      const promoted = await control(warm, '/v1/promote', 'POST');
      assert.deepEqual(promoted.body, { promoted: true, warm: 1 });
      const replayed = await warm.waitForLog(
        'the warm hand-over',
        (l) => typeof l.msg === 'string' && l.msg.startsWith('warm upgrade: the old run changelog replayed'),
        60_000,
      );
      t.diagnostic(`changelog records replayed at the hand-over: ${replayed.records}`);
      assert.deepEqual(await warmRestore(warm), { warm: true });
      assert.ok(
        !warm.lines.some((l) => l.msg === 'restoring from a savepoint' && l.from !== 'r1'),
        'the savepoint restored is the old run’s',
      );
      await sleep(1_500); // input keeps flowing into the new version
      flowing = false;
      await feeding;
      const records = await readCommitted(output, partitions, {
        expected: produced,
        timeoutMs: 120_000,
        quietMs: 2_000,
      });
      warm.signal('SIGTERM');
      assert.equal(await warm.exited, 0, warm.exitReport());
      assert.deepEqual(countSumProblems(records, produced, keys), []);
    });
  }

  it('a warm state past the savepoint is not used: the old run committed after it, so the new one restores the sections', async () => {
    const input = uniqueName('wu-late-in');
    const firstOut = uniqueName('wu-late-out1');
    const secondOut = uniqueName('wu-late-out2');
    await createTopics(
      { name: input, partitions },
      { name: firstOut, partitions },
      { name: secondOut, partitions },
    );
    const start = starter(uniqueName('wu-late'), input, 1);
    await produce(input, keyedInput(0, 500, keys));
    const old = start('r1', firstOut);
    const warm = start('r2', secondOut, warmEnv('r1', 'sp-early'));
    await readCommitted(firstOut, partitions, { expected: 500, timeoutMs: 60_000, quietMs: 500 });
    await stopWithSavepoint(old, 'sp-early');
    // The old run goes on after its savepoint (a savepoint taken, then the old version resumed): 200 more
    // records counted and committed, which the warm standby tails too.
    const resumed = start('r1', firstOut);
    await produce(input, keyedInput(500, 200, keys));
    await readCommitted(firstOut, partitions, { expected: 700, timeoutMs: 60_000, quietMs: 500 });
    resumed.signal('SIGTERM');
    assert.equal(await resumed.exited, 0, resumed.exitReport());
    await caughtUp(warm);
    const promoted = await control(warm, '/v1/promote', 'POST');
    assert.equal(promoted.body.promoted, true);
    const report = (await warmRestore(warm)) as { warm: boolean; why?: string };
    assert.equal(report.warm, false);
    assert.match(report.why ?? '', /run r1 committed .* at \d+, not at its savepoint's \d+/);
    // Restored from the savepoint's sections: every key continues from its count at the savepoint (500
    // records), not from the warm state's (700), over the 200 records after the savepoint.
    const records = await readCommitted(secondOut, partitions, { expected: 200, timeoutMs: 60_000 });
    warm.signal('SIGTERM');
    assert.equal(await warm.exited, 0, warm.exitReport());
    assert.deepEqual(
      exactlyOnceProblems(emittedCounts(records), expectedCounts(700, keys), expectedCounts(500, keys)),
      [],
    );
  });
});
