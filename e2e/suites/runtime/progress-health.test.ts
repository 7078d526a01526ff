import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { requireEnv } from '../../support/cluster.ts';
import { countSumProblems, keyedInput } from '../../support/committed-state.ts';
import { harnessAgentUrl, setPodTrafficDrop } from '../../support/harness-agent.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

const keys = 10;
const partitions = 2;

/**
 * Health by progress: a TaskManager that its kubelet still reaches but that
 * no longer reaches Kafka stops committing; its liveness probe fails after
 * checkpoints.progressWindow, the pod fails (restartPolicy Never) and the
 * restart strategy replaces it. An idle job is never restarted.
 */
describe('health by progress', {
  skip: harnessAgentUrl() ? false : 'needs the local harness (pod network partitions)',
}, () => {
  const suite = jobSuite('rt-progress');

  /**
   * A keyed-count-sum job checkpointing every second with a 3 s timeout and a
   * 6 s progress window (so the test waits seconds, not minutes), Running and
   * through the first `records` of its input; returns its topics.
   */
  async function runningJob(name: string, records: number) {
    const input = uniqueName(`${name}-in`);
    const output = uniqueName(`${name}-out`);
    await createTopics({ name: input, partitions }, { name: output, partitions });
    await produce(input, keyedInput(0, records, keys));
    const body = weirDevJob(name, 'keyed-count-sum', {
      args: { input, output, version: 'v1' },
      storageUrl: `s3://weir/e2e-progress-${uniqueName('r')}`,
      interval: '1s',
      spec: { parallelism: partitions, restartStrategy: { type: 'fixed-delay', attempts: 10, delay: '1s' } },
    }) as { spec: { checkpoints: Record<string, unknown> } };
    Object.assign(body.spec.checkpoints, { timeout: '3s', progressWindow: '6s' });
    await suite.jobs.create(body);
    await suite.jobs.waitFor(name, 'Running', (j) => j.status?.phase === 'Running', 120_000);
    await readCommitted(output, partitions, { expected: records, timeoutMs: 60_000, quietMs: 200 });
    return { input, output };
  }

  it('a TaskManager cut off from Kafka only is replaced, and exactly once holds', async () => {
    const { input, output } = await runningJob('cutoff', 1000);

    await setPodTrafficDrop(suite.namespace, 'cutoff-tm-0', requireEnv('WEIR_KAFKA_BOOTSTRAP'), 'on');
    await produce(input, keyedInput(1000, 1000, keys));
    const replaced = await suite.jobs.waitFor(
      'cutoff',
      'the cut-off TaskManager failed and was replaced',
      (j) => (j.status?.restarts?.count ?? 0) >= 1,
      120_000,
    );
    assert.match(
      replaced.status?.restarts?.lastFailure?.message ?? '',
      /pod cutoff-tm-0 failed: .*NO_PROGRESS: no commit within the progress window of 6s: task 0 \(lag/,
      'the failure names the cut-off pod, its task and the cause',
    );
    await produce(input, keyedInput(2000, 1000, keys));
    const records = await readCommitted(output, partitions, {
      expected: 3000,
      timeoutMs: 120_000,
      quietMs: 2000,
    });
    assert.deepEqual(countSumProblems(records, 3000, keys), []);
  });

  it('an idle job is never restarted for want of progress', async () => {
    await runningJob('idle', 100);
    // Five progress windows without input: the tasks prove they are idle at every checkpoint due.
    const since = Date.now();
    await delay(30_000);
    const idle = await suite.jobs.get('idle');
    assert.equal(idle.status?.restarts?.count ?? 0, 0, JSON.stringify(idle.status?.restarts));
    assert.equal(idle.status?.phase, 'Running');
    const progress = new Date(idle.status?.checkpoint?.latestCompleted?.time ?? 0).getTime();
    assert.ok(progress > since, 'the idle tasks kept their progress moving');
  });
});
