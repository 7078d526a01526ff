import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { countSumProblems, keyedInput } from '../../support/committed-state.ts';
import {
  awaitInstanceExit,
  needsHarnessNodes,
  podInstance,
  setNodeState,
  setPodLink,
} from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { produce, readCommitted } from '../../support/kafka-topics.ts';
import {
  progressKeys as keys,
  progressPartitions as partitions,
  podPlacement,
  runningZombieJob,
} from '../../support/progress-jobs.ts';

/**
 * Issue 29, item 2, the run half on real nodes: a stateless upgrade while a
 * TaskManager's node is frozen. The operator force-deletes the lost pod and
 * starts the new run; the old TaskManager still runs, with a transaction
 * open. Once its link is back it must not commit: the new run's task 0 fenced
 * every id of the old run before the new run read anything, so the zombie
 * exits TASK_FENCED. The new run counts the whole input once, from zero.
 */
describe('node loss: a zombie of the previous run after a stateless upgrade', {
  skip: needsHarnessNodes('freeze a node'),
}, () => {
  const suite = jobSuite('nl-zrun');

  it('the old run’s TaskManager on a lost node is fenced by the new run and commits nothing more', async () => {
    const { input, output } = await runningZombieJob(suite, 'zrun');
    const { node, uid: victimUid } = await podPlacement(suite, 'zrun-tm-0');
    const oldRun = (await suite.jobs.get('zrun')).status?.run?.id;
    assert.ok(oldRun);

    await setNodeState(node, 'frozen');
    try {
      await setPodLink(suite.namespace, 'zrun-tm-0', 'down', victimUid);
      // Input the cut-off TaskManager has read but cannot commit: its transaction stays open.
      await produce(input, keyedInput(1000, 500, keys));
      await suite.jobs.patchSpec('zrun', {
        upgradeMode: 'stateless',
        args: { input, output, version: 'v2' },
      });
      await suite.jobs.waitFor(
        'zrun',
        'the new run Running',
        (j) => j.status?.phase === 'Running' && j.status.run?.id !== oldRun && j.status.upgrade === undefined,
        180_000,
      );
      assert.ok(
        (await podInstance(suite.namespace, 'zrun-tm-0', victimUid))?.containers[0]?.running,
        'the old TaskManager still runs beside the new run',
      );

      // Within the transaction timeout (at least 60 s), so only a fence can stop its commit.
      await setPodLink(suite.namespace, 'zrun-tm-0', 'up', victimUid);
      const exited = await awaitInstanceExit(suite.namespace, 'zrun-tm-0', victimUid);
      assert.equal(
        exited?.containers[0]?.running,
        false,
        'the zombie exits once it is back (it commits on the old code)',
      );
      const log = await readFile(exited?.containers[0]?.logFile ?? '', 'utf8');
      assert.match(log, /"TASK_FENCED"/, 'the zombie says it was fenced');
    } finally {
      await setNodeState(node, 'running');
    }
    await produce(input, keyedInput(1500, 500, keys));
    const records = await readCommitted(output, partitions, {
      expected: 2000,
      timeoutMs: 120_000,
      quietMs: 2000,
    });
    const v2 = records.filter((r) => (JSON.parse(r.value ?? '{}') as { version?: string }).version === 'v2');
    assert.deepEqual(
      countSumProblems(v2, 2000, keys),
      [],
      'the new run counted the whole input once, from zero',
    );
  });
});
