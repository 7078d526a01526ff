import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { committedCountSumProblems, keyedInput } from '../../support/committed-state.ts';
import {
  awaitInstanceExit,
  needsHarnessNodes,
  podInstance,
  setNodeState,
  setPodLink,
} from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { produce } from '../../support/kafka-topics.ts';
import {
  progressKeys as keys,
  progressPartitions as partitions,
  podPlacement,
  runningZombieJob,
} from '../../support/progress-jobs.ts';

/**
 * A standby promoted while the active TaskManager still runs on a frozen node
 * (issue 32): the operator promotes the standby on the other node once the
 * node counts as lost, the promotion fences the old task's transactional id,
 * and the old TaskManager, back from the frozen node, is a zombie that can no
 * longer commit. Runs on the harness's node-loss pool (two nodes of its own),
 * where the standby's anti-affinity puts it on the other node.
 */
describe('standby tasks: promoted while a zombie of the active task still runs', {
  skip: needsHarnessNodes('freeze a node'),
}, () => {
  const suite = jobSuite('rt-standby-zombie');

  it('the standby on the other node takes over from a frozen node, the zombie is fenced, and exactly once holds', async () => {
    const name = 'sbz';
    const { input, output } = await runningZombieJob(suite, name, {
      parallelism: 1,
      standby: { replicas: 1 },
    });
    const { core } = suite.cluster;
    const list = async () =>
      (await core.listNamespacedPod({ namespace: suite.namespace, labelSelector: `weir.dev/job=${name}` }))
        .items;
    let standby = (await list()).find((p) => p.metadata?.name === `${name}-tm-0-1`);
    for (
      let i = 0;
      i < 600 && !standby?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      i++
    ) {
      await new Promise((r) => setTimeout(r, 200));
      standby = (await list()).find((p) => p.metadata?.name === `${name}-tm-0-1`);
    }
    const { node, uid: victimUid } = await podPlacement(suite, `${name}-tm-0`);
    assert.ok(standby?.spec?.nodeName);
    assert.notEqual(standby?.spec?.nodeName, node, 'the anti-affinity put the standby on the other node');

    await setNodeState(node, 'frozen');
    try {
      await setPodLink(suite.namespace, `${name}-tm-0`, 'down', victimUid);
      await produce(input, keyedInput(1000, 1000, keys));
      const promoted = await suite.jobs.waitFor(
        name,
        'the standby promoted and the job Running',
        (j) =>
          j.status?.standby?.activeSlots?.[0] === 1 &&
          j.status?.phase === 'Running' &&
          j.status.tasks?.ready === 1,
        180_000,
      );
      assert.equal(promoted.status?.restarts?.lastFailure?.reason, 'NodeLost');
      assert.ok(
        (await podInstance(suite.namespace, `${name}-tm-0`, victimUid))?.containers[0]?.running,
        'the old TaskManager still runs beside the promoted standby',
      );
      await setPodLink(suite.namespace, `${name}-tm-0`, 'up', victimUid);
      const exited = await awaitInstanceExit(suite.namespace, `${name}-tm-0`, victimUid);
      assert.equal(exited?.containers[0]?.running, false, 'the zombie exits once it is back');
      const logFile = exited?.containers[0]?.logFile ?? '';
      const fenced = (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.includes('"TASK_FENCED"'));
      assert.ok(fenced.length > 0, `the zombie says it was fenced (log ${logFile})`);
    } finally {
      await setNodeState(node, 'running');
    }
    await produce(input, keyedInput(2000, 1000, keys));
    assert.deepEqual(await committedCountSumProblems(output, partitions, 3000, keys), []);
    const events = await core.listNamespacedEvent({
      namespace: suite.namespace,
      fieldSelector: `involvedObject.name=${name}`,
    });
    assert.ok(events.items.some((e) => e.reason === 'StandbyPromoted'));
  });
});
