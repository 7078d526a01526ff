import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { podsByName } from '../../support/cluster.ts';
import { needsHarnessNodes, nodeLossPlacement, setNodeState } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { standinJob } from '../../support/streamjobs.ts';

/**
 * The operator's failover when a node is lost (the rest of failover is in
 * operator/failover.test.ts). Stopping a node takes down every pod on it, so
 * the job runs on the harness's node-loss pool (nodeLossPlacement).
 */
describe('operator: failover from a lost node', {
  skip: needsHarnessNodes('stop a node'),
}, () => {
  const suite = jobSuite('op-node-lost', { WEIR_LOG_LEVEL: 'debug' });

  it('force-deletes and replaces a pod whose node is lost', async () => {
    const { taskManager } = await nodeLossPlacement();
    await suite.jobs.create(
      standinJob('node-lost', {
        parallelism: 2,
        restartStrategy: { type: 'fixed-delay', attempts: 5, delay: '1s' },
        taskManager,
      }),
    );
    await suite.jobs.waitFor('node-lost', 'Running', (j) => j.status?.phase === 'Running');
    const victim = (await podsByName(suite.cluster, suite.namespace, 'node-lost')).get('node-lost-tm-0');
    const lostNode = victim?.spec?.nodeName ?? '';
    assert.ok(victim && lostNode);
    await setNodeState(lostNode, 'stopped');
    try {
      const job = await suite.jobs.waitFor(
        'node-lost',
        'the lost pod counted and replaced',
        (j) => j.status?.restarts?.lastFailure?.reason === 'NodeLost' && j.status.phase === 'Running',
        120_000,
      );
      const lost = job.status?.restarts?.recentFailures
        ?.filter((f) => f.reason === 'NodeLost')
        .map((f) => f.pod);
      assert.ok(lost?.includes('node-lost-tm-0'), `NodeLost failures: ${lost?.join(', ')}`);
      assert.equal(
        job.status?.restarts?.count,
        lost?.length,
        'each lost pod is counted once, and not again when it vanishes',
      );
      const replacement = (await podsByName(suite.cluster, suite.namespace, 'node-lost')).get(
        'node-lost-tm-0',
      );
      assert.notEqual(replacement?.metadata?.uid, victim.metadata?.uid);
      assert.notEqual(
        replacement?.spec?.nodeName,
        lostNode,
        'the unreachable node is tainted, so it is avoided',
      );
    } finally {
      await setNodeState(lostNode, 'running');
    }
  });
});
