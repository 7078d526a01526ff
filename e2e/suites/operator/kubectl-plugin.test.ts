import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repositoryRoot, runTool } from '../../support/cli.ts';
import { committedCountSumProblems, keyedInput } from '../../support/committed-state.ts';
import { needsPodCluster } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, produce, uniqueName } from '../../support/kafka-topics.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

const keys = 10;
const partitions = 4;

/**
 * `kubectl weir`, found by kubectl as the plugin bin/kubectl-weir on the
 * PATH, against a running job on the harness: every command, as a user
 * types it, and the job still exactly once after all of them.
 */
describe('kubectl weir: the kubectl plugin', { skip: needsPodCluster('run the job it operates') }, () => {
  const suite = jobSuite('op-kubectl-weir');
  const env = { ...process.env, PATH: `${join(repositoryRoot, 'bin')}:${process.env.PATH}` };
  const weir = async (...args: string[]) => {
    const result = await runTool('kubectl', ['weir', ...args, '-n', suite.namespace], {
      allowFailure: true,
      env,
      timeoutMs: 300_000,
    });
    return { ...result, all: `${result.stdout}${result.stderr}` };
  };

  it('shows, savepoints, suspends, resumes, restarts and reads the logs of a job, which stays exactly once', async () => {
    const input = uniqueName('plugin-in');
    const output = uniqueName('plugin-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    await suite.jobs.create(
      weirDevJob('orders', 'keyed-count-sum', {
        args: { input, output, version: 'v1' },
        storageUrl: 's3://weir/e2e-kubectl-weir',
        interval: '500ms',
        spec: { parallelism: 2, taskSlots: 1 },
      }),
    );
    await suite.jobs.waitFor('orders', 'Running', (j) => j.status?.phase === 'Running', 120_000);
    await produce(input, keyedInput(0, 1000, keys));

    const status = await weir('status');
    assert.equal(status.code, 0, status.all);
    assert.match(
      status.stdout,
      /^NAME\s+PHASE\s+PARALLELISM\s+READY\s+CHECKPOINT\s+LAG\s+RESTARTS\s+LAST FAILURE\n/,
    );
    assert.match(status.stdout, /\norders\s+Running\s+2\s+2\/2\s/);
    const asJson = JSON.parse((await weir('status', '-o', 'json')).stdout) as {
      name: string;
      phase: string;
    }[];
    assert.deepEqual(
      asJson.map((j) => [j.name, j.phase]),
      [['orders', 'Running']],
    );

    const described = await weir('describe', 'orders');
    assert.equal(described.code, 0, described.all);
    for (const part of [
      /Phase:\s+Running/,
      /Conditions:\n(?:.*\n)*?\s+Ready\s+True\s+Running/,
      /Rollout:/,
      /TaskManagers:\n\s+orders-tm-0\s+Running/,
      // Each TaskManager's own report, read through the API server's pod proxy from its metrics port.
      // A task that runs is caught either between checkpoints or in one: both are its running states.
      /TaskManager reports .*:\n\s+orders-tm-0\s+run \S+\s+active\s+1 task\(s\)\n\s+s0-t0\s+(?:running|checkpointing)\s+checkpoint #\d+\s+committed \d+s ago\s+lag \d+/,
      /\n\s+orders-tm-1\s+run \S+\s+active/,
      /Events:/,
    ])
      assert.match(described.stdout, part);

    const savepoint = await weir('savepoint', 'orders', '--wait', '--timeout', '2m', '--name', 'before-v2');
    assert.equal(savepoint.code, 0, savepoint.all);
    assert.match(savepoint.stderr, /streamjobsnapshot \S+\/before-v2 created: savepoint of orders requested/);
    assert.match(
      savepoint.stdout,
      /^savepoint \S+ completed: s3:\/\/weir\/e2e-kubectl-weir\/.*\/savepoints\/\S+ \(streamjobsnapshot before-v2\)/,
    );
    const taken = await weir('describe', 'orders');
    assert.match(taken.stdout, /Snapshots: .*\n\s+before-v2\s+Completed\s+manual\s/);

    const suspend = await weir('suspend', 'orders', '--wait');
    assert.equal(suspend.code, 0, suspend.all);
    assert.match(suspend.stdout, /^suspended; resume restores savepoint \S+/);
    assert.match(suspend.stderr, /\d+s: phase /, 'progress is shown while it waits');
    await produce(input, keyedInput(1000, 1000, keys));
    const resume = await weir('resume', 'orders', '--wait');
    assert.equal(resume.code, 0, resume.all);
    assert.match(resume.stdout, /^running: 2\/2 tasks ready, run \S+/);

    const restart = await weir('restart', 'orders', '--wait');
    assert.equal(restart.code, 0, restart.all);
    assert.match(restart.stdout, /^running: 2\/2 tasks ready/);
    await produce(input, keyedInput(2000, 1000, keys));
    assert.deepEqual(await committedCountSumProblems(output, partitions, 3000, keys), []);

    const rollout = await weir('rollback-status', 'orders');
    assert.match(rollout.stdout, /generation \d+ is deployed/);
    const logs = await weir('logs', 'orders', '--task', '1', '--tail', '50');
    assert.equal(logs.code, 0, logs.all);
    const lines = logs.stdout.split('\n').filter(Boolean);
    assert.ok(lines.length > 0 && lines.length <= 50, `${lines.length} lines`);
    assert.ok(
      lines.every((l) => (JSON.parse(l) as { job?: string }).job === 'orders'),
      'the TaskManager’s JSON log lines, with the job',
    );
  });

  it('names what is wrong: an unknown job, an unknown command, a task the job does not have', async () => {
    const missing = await weir('describe', 'nosuch');
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      new RegExp(`NOT_FOUND: streamjob "nosuch" not found in namespace "${suite.namespace}"`),
    );
    const unknown = await weir('pause', 'orders');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "pause"/);
    const task = await weir('logs', 'orders', '--task', '7');
    assert.equal(task.code, 2);
    assert.match(task.stderr, /--task 7: the job has tasks 0 to 1/);
  });
});
