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
 * A TaskManager left running on a lost node comes back as a zombie after its
 * replacement started: it is fenced and exits, and the job's phase says
 * Restarting while the node is NotReady. Freezing a node stalls every pod on
 * it, so the job runs on the harness's node-loss pool (nodeLossPlacement).
 */
describe('health by progress: a zombie on a lost node', {
  skip: needsHarnessNodes('freeze a node'),
}, () => {
  const suite = jobSuite('rt-zombie');

  it('a TaskManager left running on a lost node is fenced once its replacement runs, and exactly once holds', async () => {
    const { input, output } = await runningZombieJob(suite, 'zombie');
    const { node, uid: victimUid } = await podPlacement(suite, 'zombie-tm-0');

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

      assert.ok(
        (await podInstance(suite.namespace, 'zombie-tm-0', victimUid))?.containers[0]?.running,
        'the old TaskManager still runs beside its replacement',
      );
      await setPodLink(suite.namespace, 'zombie-tm-0', 'up', victimUid);
      const exited = await awaitInstanceExit(suite.namespace, 'zombie-tm-0', victimUid);
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
