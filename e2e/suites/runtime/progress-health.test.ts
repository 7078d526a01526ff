import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { requireEnv } from '../../support/cluster.ts';
import { committedCountSumProblems, keyedInput } from '../../support/committed-state.ts';
import {
  needsHarnessNodes,
  podInstances,
  setNodeState,
  setPodLink,
  setPodTrafficDrop,
} from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

const keys = 10;
const partitions = 2;

/**
 * Health by progress: a TaskManager that its kubelet still reaches but that
 * no longer reaches Kafka stops committing. After checkpoints.progressWindow
 * the operator sees it in the TaskManager's own report (or the kubelet's
 * liveness probe fails first), the pod goes and the restart strategy replaces
 * it. An idle job is never restarted. A TaskManager left running on a lost
 * node comes back as a zombie after its replacement started: it is fenced
 * and exits, and the job's phase says Restarting while the node is NotReady.
 */
describe('health by progress', {
  skip: needsHarnessNodes('partition a pod'),
}, () => {
  const suite = jobSuite('rt-progress');

  /**
   * A keyed-count-sum job checkpointing every second with a 3 s timeout and a
   * 6 s progress window (so the test waits seconds, not minutes), Running and
   * through the first `records` of its input; returns its topics.
   */
  async function runningJob(name: string, records: number, checkpoints: Record<string, unknown> = {}) {
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
    Object.assign(body.spec.checkpoints, { timeout: '3s', progressWindow: '6s', ...checkpoints });
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

  it('a TaskManager left running on a lost node is fenced once its replacement runs, and exactly once holds', async () => {
    // A long checkpoint timeout: the cut-off TaskManager keeps its commit open until the link heals, as a zombie would.
    const { input, output } = await runningJob('zombie', 1000, {
      timeout: '2m',
      progressWindow: '5m',
      tolerableFailures: 100,
    });
    const pods = await suite.cluster.core.listNamespacedPod({
      namespace: suite.namespace,
      labelSelector: 'weir.dev/job=zombie',
    });
    const victim = pods.items.find((p) => p.metadata?.name === 'zombie-tm-0');
    const node = victim?.spec?.nodeName ?? '';
    const victimUid = victim?.metadata?.uid ?? '';
    assert.ok(node && victimUid);

    // The node's kubelet hangs (no heartbeats, probes or deletions) and the pod's link goes down: its process runs on.
    await setNodeState(node, 'frozen');
    try {
      await setPodLink(suite.namespace, 'zombie-tm-0', 'down', victimUid);
      await produce(input, keyedInput(1000, 1000, keys));
      const phases = new Set<string>();
      const replaced = await suite.jobs.waitFor(
        'zombie',
        'the lost pod replaced and the job Running again',
        (j) => {
          if (j.status?.phase) phases.add(j.status.phase);
          return (j.status?.restarts?.count ?? 0) >= 1 && j.status?.phase === 'Running';
        },
        180_000,
      );
      assert.ok(phases.has('Restarting'), `phases seen: ${[...phases].join(', ')}`);
      assert.ok(
        !phases.has('Deploying'),
        `a job with a pod on a NotReady node is never Deploying: ${[...phases].join(', ')}`,
      );
      assert.equal(replaced.status?.restarts?.lastFailure?.reason, 'NodeLost');

      const zombie = async () =>
        (await podInstances(suite.namespace, 'zombie-tm-0')).find((i) => i.uid === victimUid);
      assert.ok(
        (await zombie())?.containers[0]?.running,
        'the old TaskManager still runs beside its replacement',
      );
      await setPodLink(suite.namespace, 'zombie-tm-0', 'up', victimUid);
      const deadline = Date.now() + 120_000;
      let exited = await zombie();
      while (exited?.containers[0]?.running && Date.now() < deadline) {
        await delay(500);
        exited = await zombie();
      }
      assert.equal(exited?.containers[0]?.running, false, 'the zombie exits once it is back');
      const logFile = exited?.containers[0]?.logFile ?? '';
      const lines = (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.includes('"TASK_FENCED"'));
      assert.ok(lines.length > 0, `the zombie says it was fenced (log ${logFile})`);
      assert.match(
        lines[0] ?? '',
        /task 0 was fenced: a newer attempt of it took over its transactional id, so this TaskManager is a zombie/,
      );
    } finally {
      await setNodeState(node, 'running');
    }
    await produce(input, keyedInput(2000, 1000, keys));
    assert.deepEqual(await committedCountSumProblems(output, partitions, 3000, keys), []);
  });
});
