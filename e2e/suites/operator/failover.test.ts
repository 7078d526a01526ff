import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { type Cluster, podsByName, waitFor } from '../../support/cluster.ts';
import { killContainer, needsHarnessNodes } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { type OperatorProcess, startNamespaceOperator } from '../../support/operator.ts';
import { type StreamJobs, standinJob } from '../../support/streamjobs.ts';

const uids = (pods: Map<string, V1Pod>) =>
  new Map([...pods].map(([name, pod]) => [name, pod.metadata?.uid ?? '']));

/** Killing a container's process directly needs the harness's nodes (their containerd); kind runs skip. */
const killNeedsHarness = needsHarnessNodes("kill a container's process");

describe('operator: failure detection, failover and restart strategies', () => {
  const operatorEnv = { WEIR_LOG_LEVEL: 'debug' };
  const suite = jobSuite('op-failover', operatorEnv);
  let cluster: Cluster;
  let namespace: string;
  let jobs: StreamJobs;
  let operator: OperatorProcess;

  // The local names the tests use, for what jobSuite made.
  before(() => {
    ({ cluster, namespace, jobs, operator } = suite);
  });

  async function runningJob(name: string, spec: Parameters<typeof standinJob>[1]) {
    await jobs.create(standinJob(name, { parallelism: 3, ...spec }));
    await jobs.waitFor(name, 'Running', (j) => j.status?.phase === 'Running');
    return uids(await podsByName(cluster, namespace, name));
  }

  async function waitReplaced(name: string, before: Map<string, string>, expectReplaced: string[]) {
    await jobs.waitFor(
      name,
      'Running after the failure',
      (j) => j.status?.phase === 'Running' && (j.status.restarts?.count ?? 0) >= 1,
    );
    const after = uids(await podsByName(cluster, namespace, name));
    const replaced = [...before].filter(([pod, uid]) => after.get(pod) !== uid).map(([pod]) => pod);
    assert.deepEqual(replaced.sort(), expectReplaced.sort());
  }

  // Each failure on a job of its own, side by side; the operator restart below would disturb them.
  describe('failures of separate jobs', { concurrency: true }, () => {
    it('region: a killed TaskManager process is replaced alone', { skip: killNeedsHarness }, async () => {
      const before = await runningJob('region-kill', {
        failoverStrategy: 'region',
        restartStrategy: { type: 'fixed-delay', attempts: 5, delay: '1s' },
      });
      const victim = (await podsByName(cluster, namespace, 'region-kill')).get('region-kill-tm-1');
      assert.ok(victim);
      await killContainer(victim, 'taskmanager');
      await waitReplaced('region-kill', before, ['region-kill-tm-1']);
      const job = await jobs.get('region-kill');
      assert.equal(job.status?.restarts?.count, 1);
      assert.equal(job.status?.restarts?.lastFailure?.reason, 'PodFailed');
      assert.match(job.status?.restarts?.lastFailure?.message ?? '', /exit code 137/);
    });

    it('region: a pod deleted out from under the operator is replaced alone', async () => {
      const before = await runningJob('region-delete', {
        failoverStrategy: 'region',
        restartStrategy: { type: 'fixed-delay', attempts: 5, delay: '1s' },
      });
      await cluster.core.deleteNamespacedPod({ name: 'region-delete-tm-0', namespace });
      await waitReplaced('region-delete', before, ['region-delete-tm-0']);
      assert.equal((await jobs.get('region-delete')).status?.restarts?.lastFailure?.reason, 'PodDeleted');
    });

    it('full: one killed process replaces every pod', { skip: killNeedsHarness }, async () => {
      const before = await runningJob('full-kill', {
        failoverStrategy: 'full',
        restartStrategy: { type: 'fixed-delay', attempts: 5, delay: '1s' },
      });
      const victim = (await podsByName(cluster, namespace, 'full-kill')).get('full-kill-tm-2');
      assert.ok(victim);
      await killContainer(victim, 'taskmanager');
      await waitReplaced('full-kill', before, ['full-kill-tm-0', 'full-kill-tm-1', 'full-kill-tm-2']);
      assert.equal(
        (await jobs.get('full-kill')).status?.restarts?.count,
        1,
        'the healthy pods replaced are not failures',
      );
    });

    it('full: one deleted pod replaces every pod', async () => {
      const before = await runningJob('full-delete', {
        failoverStrategy: 'full',
        restartStrategy: { type: 'fixed-delay', attempts: 5, delay: '1s' },
      });
      await cluster.core.deleteNamespacedPod({ name: 'full-delete-tm-1', namespace });
      await waitReplaced('full-delete', before, ['full-delete-tm-0', 'full-delete-tm-1', 'full-delete-tm-2']);
    });

    it('fixed-delay with 2 attempts restarts twice, then fails the job on the third failure', {
      skip: killNeedsHarness,
    }, async () => {
      await runningJob('exhaust', {
        parallelism: 1,
        restartStrategy: { type: 'fixed-delay', attempts: 2, delay: '1s' },
      });
      for (let failure = 1; failure <= 3; failure++) {
        const pod = await waitFor(`a running pod before failure ${failure}`, 60_000, async () => {
          const job = await jobs.get('exhaust');
          const current = (await podsByName(cluster, namespace, 'exhaust')).get('exhaust-tm-0');
          return job.status?.phase === 'Running' && current?.status?.phase === 'Running'
            ? current
            : undefined;
        });
        await killContainer(pod, 'taskmanager');
        await jobs.waitFor(
          'exhaust',
          `failure ${failure} counted`,
          (j) => (j.status?.restarts?.count ?? 0) >= failure,
        );
      }
      const failed = await jobs.waitFor('exhaust', 'Failed', (j) => j.status?.phase === 'Failed');
      const ready = failed.status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.status, 'False');
      assert.equal(ready?.reason, 'RestartStrategyExhausted');
      assert.match(ready?.message ?? '', /fixed-delay: failure 3 exceeds the 2 restart attempts/);
      await waitFor(
        'the failed job to have no pods',
        30_000,
        async () => (await podsByName(cluster, namespace, 'exhaust')).size === 0,
      );
      const events = await cluster.core.listNamespacedEvent({
        namespace,
        fieldSelector: 'involvedObject.name=exhaust',
      });
      const exhausted = events.items.find((e) => e.reason === 'RestartStrategyExhausted');
      assert.equal(exhausted?.type, 'Warning');
    });

    it('a failing liveness probe is detected as a task failure', async () => {
      await runningJob('liveness', {
        parallelism: 1,
        restartStrategy: { type: 'fixed-delay', attempts: 3, delay: '1s' },
      });
      const pod = (await podsByName(cluster, namespace, 'liveness')).get('liveness-tm-0');
      const secret = await cluster.core.readNamespacedSecret({ name: 'liveness-weir-token', namespace });
      const token = Buffer.from(secret.data?.token ?? '', 'base64').toString();
      const response = await fetch(`http://${pod?.status?.podIP}:8081/test/unhealthy`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 200);
      const job = await jobs.waitFor(
        'liveness',
        'the liveness failure counted',
        (j) => (j.status?.restarts?.count ?? 0) >= 1,
        90_000,
      );
      assert.match(job.status?.restarts?.lastFailure?.message ?? '', /liveness/);
      await jobs.waitFor('liveness', 'Running again', (j) => j.status?.phase === 'Running');
    });
  });

  it('keeps the failure count and the next restart time across an operator restart', {
    skip: killNeedsHarness,
  }, async (t) => {
    await runningJob('backoff', {
      parallelism: 1,
      restartStrategy: { type: 'exponential-delay', initialDelay: '20s', maxDelay: '1m', jitter: 0 },
    });
    const pod = (await podsByName(cluster, namespace, 'backoff')).get('backoff-tm-0');
    assert.ok(pod);
    await killContainer(pod, 'taskmanager');
    const pending = await jobs.waitFor('backoff', 'a scheduled restart', (j) =>
      Boolean(j.status?.restarts?.nextRestartAt),
    );
    const nextRestartAt = pending.status?.restarts?.nextRestartAt ?? '';

    await operator.stop();
    // The suite's after hook stops whichever operator runs last.
    operator = suite.operator = await startNamespaceOperator(namespace, operatorEnv);
    // Once the new operator has reconciled the job, it has read the same history: one failure, the same
    // due time, and (when that reconcile came before the due time, as it does unless this machine stalls for
    // the whole 20 s back-off) no pod yet. Whatever the timing, the pod is created only at the due time (below).
    const reconciled = await operator.waitForLog(
      'a successful reconcile of the job',
      (l) => l.msg === 'reconciled' && l.job === `${namespace}/backoff` && l.failed === false,
    );
    const during = await jobs.get('backoff');
    assert.equal(during.status?.restarts?.count, 1, 'the failure count survived the operator restart');
    if (Number(reconciled.time) < new Date(nextRestartAt).getTime()) {
      assert.equal(during.status?.restarts?.nextRestartAt, nextRestartAt);
      assert.equal(
        (await podsByName(cluster, namespace, 'backoff')).size,
        0,
        'no pod before the back-off ends',
      );
    } else {
      t.diagnostic(
        `the new operator first reconciled after the due time ${nextRestartAt}; checked only the pod's creation time`,
      );
    }

    const running = await jobs.waitFor(
      'backoff',
      'Running after the back-off',
      (j) => j.status?.phase === 'Running',
      60_000,
    );
    const recreated = (await podsByName(cluster, namespace, 'backoff')).get('backoff-tm-0');
    const createdAt = new Date(recreated?.metadata?.creationTimestamp ?? 0).getTime();
    assert.ok(
      createdAt >= new Date(nextRestartAt).getTime() - 1000,
      'the pod was recreated when the back-off ended',
    );
    assert.equal(running.status?.restarts?.count, 1);
  });
});
