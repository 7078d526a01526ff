import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoordinationV1Api } from '@kubernetes/client-node';
import {
  type Cluster,
  connect,
  createTestNamespace,
  deleteNamespace,
  waitFor,
} from '../../support/cluster.ts';
import { type OperatorProcess, startOperator } from '../../support/operator.ts';
import { applyCrd, StreamJobs, standinJob } from '../../support/streamjobs.ts';

function metricValue(metrics: string, name: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('operator: leader election', () => {
  let cluster: Cluster;
  let namespace: string;
  let jobs: StreamJobs;
  const operators: OperatorProcess[] = [];

  before(async () => {
    cluster = connect();
    await applyCrd();
    namespace = await createTestNamespace(cluster, 'op-leader');
    jobs = new StreamJobs(cluster, namespace);
    for (const name of ['a', 'b']) {
      operators.push(
        await startOperator({
          name: `${namespace}-${name}`,
          watchNamespaces: [namespace],
          leaseName: 'weir-operator',
          leaseNamespace: namespace,
        }),
      );
    }
  });
  after(async () => {
    for (const operator of operators) await operator.stop();
    await deleteNamespace(cluster, namespace);
  });

  it("lets only the leader reconcile, and hands over only after the dead leader's lease expired", async () => {
    const leases = cluster.kubeConfig.makeApiClient(CoordinationV1Api);
    const leaderIndex = await waitFor('one operator to lead', 30_000, async () => {
      const states = await Promise.all(
        operators.map(async (o) => metricValue(await o.metrics(), 'weir_operator_leader')),
      );
      return states.filter((s) => s === 1).length === 1 ? states.indexOf(1) : undefined;
    });
    const leader = operators[leaderIndex] as OperatorProcess;
    const standby = operators[1 - leaderIndex] as OperatorProcess;

    await jobs.create(standinJob('first', { parallelism: 1 }));
    await jobs.waitFor('first', 'Running', (j) => j.status?.phase === 'Running');
    const reconciles = (o: OperatorProcess) =>
      o.metrics().then((m) => metricValue(m, 'weir_reconcile_duration_seconds_count{result="success"}'));
    assert.ok((await reconciles(leader)) > 0, 'the leader reconciled');
    assert.equal(await reconciles(standby), 0, 'the standby did not reconcile');

    const lease = await leases.readNamespacedLease({ name: 'weir-operator', namespace });
    const duration = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
    await leader.stop('SIGKILL'); // no release: the standby must wait the lease out
    // A liveness bound only (generous): the verdict is the order of the Lease's own times below.
    await waitFor(
      'the standby to take over',
      duration + 60_000,
      async () => metricValue(await standby.metrics(), 'weir_operator_leader') === 1,
    );
    const taken = await leases.readNamespacedLease({ name: 'weir-operator', namespace });
    const lastRenewal = new Date(lease.spec?.renewTime ?? 0).getTime();
    const acquired = new Date(taken.spec?.acquireTime ?? 0).getTime();
    // The dead leader renewed at lastRenewal or later, so its lease held at least until lastRenewal + duration.
    assert.ok(
      acquired >= lastRenewal + duration,
      `the standby acquired at ${taken.spec?.acquireTime?.toString()}, inside the dead leader's lease (renewed ${lease.spec?.renewTime?.toString()}, ${duration} ms)`,
    );

    await jobs.create(standinJob('second', { parallelism: 1 }));
    await jobs.waitFor('second', 'Running under the new leader', (j) => j.status?.phase === 'Running');
    const after = await leases.readNamespacedLease({ name: 'weir-operator', namespace });
    assert.notEqual(after.spec?.holderIdentity, lease.spec?.holderIdentity);
    assert.equal(after.spec?.leaseTransitions, (lease.spec?.leaseTransitions ?? 0) + 1);
  });
});
