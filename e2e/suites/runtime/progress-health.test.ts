import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { requireEnv } from '../../support/cluster.ts';
import { committedCountSumProblems, keyedInput } from '../../support/committed-state.ts';
import { needsHarnessNodes, setPodTrafficDrop } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { produce } from '../../support/kafka-topics.ts';
import {
  progressKeys as keys,
  progressPartitions as partitions,
  runningProgressJob,
} from '../../support/progress-jobs.ts';

/**
 * Health by progress: a TaskManager that its kubelet still reaches but that
 * no longer reaches Kafka stops committing. After checkpoints.progressWindow
 * the operator sees it in the TaskManager's own report (or the kubelet's
 * liveness probe fails first), the pod goes and the restart strategy replaces
 * it. An idle job is never restarted. (A TaskManager left running on a lost
 * node: node-loss/zombie-fencing.test.ts.) The two jobs share nothing but the
 * operator (the cut is the one pod's), so the tests run side by side.
 */
describe('health by progress', {
  skip: needsHarnessNodes('partition a pod'),
  concurrency: true,
}, () => {
  const suite = jobSuite('rt-progress');

  it('a TaskManager cut off from Kafka only is replaced, and exactly once holds', async () => {
    const { input, output } = await runningProgressJob(suite, 'cutoff', 1000);

    await setPodTrafficDrop(suite.namespace, 'cutoff-tm-0', requireEnv('WEIR_KAFKA_BOOTSTRAP'), 'on');
    await produce(input, keyedInput(1000, 1000, keys));
    const replaced = await suite.jobs.waitFor(
      'cutoff',
      'the cut-off TaskManager failed and was replaced',
      (j) => (j.status?.restarts?.count ?? 0) >= 1,
      120_000,
    );
    // The operator's poll or the kubelet's probe may see the stall first; the failure reads the same.
    const lastFailure = replaced.status?.restarts?.lastFailure;
    assert.equal(lastFailure?.reason, 'NoProgress', JSON.stringify(lastFailure));
    assert.match(
      lastFailure?.message ?? '',
      /^pod cutoff-tm-0 (made no progress|failed: exit code \d+): NO_PROGRESS: no commit within the progress window of 6s: task 0 \(lag/,
      'the failure names the cut-off pod, its task and the cause',
    );
    assert.equal(
      replaced.status?.restarts?.count,
      1,
      'counted once, though both the operator and the probe see it',
    );
    await produce(input, keyedInput(2000, 1000, keys));
    assert.deepEqual(await committedCountSumProblems(output, partitions, 3000, keys), []);
  });

  it('an idle job is never restarted for want of progress', async () => {
    await runningProgressJob(suite, 'idle', 100);
    // Five progress windows without input: the tasks prove they are idle at every checkpoint due.
    const since = Date.now();
    await delay(30_000);
    const idle = await suite.jobs.get('idle');
    assert.equal(idle.status?.restarts?.count ?? 0, 0, JSON.stringify(idle.status?.restarts));
    assert.equal(idle.status?.phase, 'Running');
    const progress = new Date(idle.status?.checkpoint?.latestCompleted?.time ?? 0).getTime();
    assert.ok(progress > since, 'the idle tasks kept their progress moving');
  });

  it('an idle keyBy job is never restarted for want of progress: its repartition topic ends in a commit marker', async () => {
    // The second stage reads a topic written in transactions: the last offset of each partition is a commit
    // marker no task reads, so its own position stays one short of the end offset while nothing comes.
    await runningProgressJob(suite, 'idle-keyby', 100, {}, {}, {}, { stages: 2 });
    const since = Date.now();
    await delay(30_000);
    const idle = await suite.jobs.get('idle-keyby');
    assert.equal(idle.status?.restarts?.count ?? 0, 0, JSON.stringify(idle.status?.restarts));
    assert.equal(idle.status?.phase, 'Running');
    const progress = new Date(idle.status?.checkpoint?.latestCompleted?.time ?? 0).getTime();
    assert.ok(progress > since, 'the idle tasks of both stages kept their progress moving');
  });
});
