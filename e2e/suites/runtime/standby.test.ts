import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { repositoryRoot } from '../../support/cli.ts';
import { countSumProblems, keyedInput } from '../../support/committed-state.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { type TaskManagerProcess, TaskManagers } from '../../support/taskmanager-process.ts';

const partitions = 4;
const keys = 16;
const token = randomBytes(16).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Standby tasks (issue 32) with real TaskManager processes on the harness's
 * Kafka and MinIO: an active TaskManager runs a task, a standby TaskManager
 * (WEIR_STANDBY=true, what the operator sets on a standby pod) tails its
 * changelog, and the standby is promoted (POST /v1/promote, what the operator
 * sends) after the active one is killed, stopped or frozen, with input
 * flowing throughout. Every key's count and sum, in order, must come out as
 * a run without failures would give them.
 */
describe('TaskManager runtime: standby tasks promoted on failure', () => {
  const taskManagers = new TaskManagers();
  after(() => taskManagers.killAll());

  async function setup(stages: 1 | 2) {
    const input = uniqueName('sb-in');
    const output = uniqueName('sb-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    const job = uniqueName('sb');
    const env = {
      WEIR_ARGS: JSON.stringify({ input, output, stages }),
      WEIR_ENTRY: `${repositoryRoot}/src/jobs/keyed-count-sum.ts`,
    };
    const start = (role: 'active' | 'standby'): TaskManagerProcess =>
      taskManagers.start(
        {
          job,
          runId: 'r1',
          input,
          output,
          parallelism: 1,
          tasks: [0],
          interval: '300ms',
          timeout: '5s',
          token,
        },
        { ...env, ...(role === 'standby' ? { WEIR_STANDBY: 'true' } : {}) },
      );
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
    const stopFeeding = async () => {
      flowing = false;
      await feeding;
      return produced;
    };
    return { output, start, stopFeeding };
  }

  async function control(tm: TaskManagerProcess, path: string, method = 'GET') {
    const response = await fetch(`${await tm.controlUrl()}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** Waits until the standby's readiness says it has loaded and caught up with the changelog. */
  async function caughtUp(tm: TaskManagerProcess): Promise<void> {
    await tm.waitForLog(
      'the standby tailing',
      (l) => l.msg === 'standby: snapshots loaded; tailing the changelog',
      60_000,
    );
    for (let i = 0; i < 300; i++) {
      const response = await fetch(`${await tm.controlUrl()}/readyz`);
      await response.body?.cancel();
      if (response.status === 200) return;
      await sleep(100);
    }
    assert.fail('the standby did not catch up within 30 s');
  }

  /** Promotes the standby; resolves with the changelog records its restore replayed beyond what it had applied. */
  async function promote(standby: TaskManagerProcess): Promise<number> {
    const answer = await control(standby, '/v1/promote', 'POST');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, { promoted: true, warm: 1 });
    const again = await control(standby, '/v1/promote', 'POST');
    assert.equal(again.body.promoted, false, 'a second promotion is answered, and changes nothing');
    const replay = await standby.waitForLog(
      'the warm restore',
      (l) => typeof l.msg === 'string' && l.msg.startsWith('restore: the standby state replayed'),
      60_000,
    );
    assert.equal(replay.warm, true);
    return Number(replay.records);
  }

  async function finish(
    promoted: TaskManagerProcess,
    setup: { output: string; stopFeeding: () => Promise<number> },
  ): Promise<void> {
    await sleep(1_500); // input keeps flowing into the promoted task
    const produced = await setup.stopFeeding();
    const records = await readCommitted(setup.output, partitions, {
      expected: produced,
      timeoutMs: 120_000,
      quietMs: 2_000,
    });
    promoted.signal('SIGTERM');
    assert.equal(await promoted.exited, 0, promoted.exitReport());
    assert.deepEqual(countSumProblems(records, produced, keys), []);
  }

  for (const stages of [1, 2] as const) {
    it(`${stages === 1 ? 'single-stage' : 'two-stage'}: a standby behind the changelog takes over after a SIGKILL of the active TaskManager`, async (t) => {
      const job = await setup(stages);
      const active = job.start('active');
      await active.waitForLog('a first commit', (l) => l.msg === 'checkpoint: committed', 60_000);
      const standby = job.start('standby');
      await caughtUp(standby);
      const status = await control(standby, '/v1/status');
      assert.equal(status.body.role, 'standby');
      assert.deepEqual(status.body.tasks, [], 'a standby runs no task until promoted');
      // Held back while the active task commits three more checkpoints: it resumes behind, and the promotion
      // lands while it catches up (how much of the tail is left to the restore's replay depends on timing).
      standby.signal('SIGSTOP');
      for (let i = 0; i < 3; i++) {
        await active.waitForNextLog(
          'a commit while the standby is held',
          (l) => l.msg === 'checkpoint: committed',
        );
      }
      active.signal('SIGKILL');
      await active.exited;
      standby.signal('SIGCONT');
      t.diagnostic(`changelog records replayed at the promotion: ${await promote(standby)}`);
      await finish(standby, job);
    });
  }

  it('two-stage: the standby takes over after a graceful stop of the active TaskManager (SIGTERM, its last commit)', async () => {
    const job = await setup(2);
    const active = job.start('active');
    await active.waitForLog('a first commit', (l) => l.msg === 'checkpoint: committed', 60_000);
    const standby = job.start('standby');
    await caughtUp(standby);
    active.signal('SIGTERM');
    assert.equal(await active.exited, 0, active.exitReport());
    await promote(standby);
    await finish(standby, job);
  });

  it('a standby promoted while the active TaskManager is frozen fences it: the zombie, resumed, cannot commit', async () => {
    const job = await setup(1);
    const active = job.start('active');
    await active.waitForLog('a first commit', (l) => l.msg === 'checkpoint: committed', 60_000);
    const standby = job.start('standby');
    await caughtUp(standby);
    active.signal('SIGSTOP'); // a frozen node: the process holds an open transaction and knows nothing
    await promote(standby);
    await standby.waitForLog(
      'a commit of the promoted task',
      (l) => l.msg === 'checkpoint: committed',
      60_000,
    );
    active.signal('SIGCONT');
    const code = await active.exited;
    assert.equal(code, 1, 'the zombie ends failed');
    assert.match(active.exitReport(), /TASK_FENCED|fenced/i);
    await finish(standby, job);
  });
});
