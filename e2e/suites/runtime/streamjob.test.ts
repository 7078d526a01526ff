import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type Cluster,
  connect,
  createTestNamespace,
  deleteNamespace,
  harnessContainerPid,
  requireEnv,
  waitFor,
} from '../../support/cluster.ts';
import {
  committedCounts,
  emittedCounts,
  exactlyOnceProblems,
  expectedCounts,
  keyedInput,
} from '../../support/committed-state.ts';
import { harnessAgentUrl } from '../../support/harness-agent.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { type OperatorProcess, startOperator } from '../../support/operator.ts';
import { applyCrd, StreamJobs } from '../../support/streamjobs.ts';

/**
 * The whole path: a StreamJob whose pods run the Weir image (`weir:dev`,
 * this checkout on the harness) with the keyed-count job, checkpointing to
 * MinIO, one TaskManager killed mid-stream and replaced by the operator.
 */
describe('StreamJob running the real TaskManager runtime', {
  skip: harnessAgentUrl() ? false : 'needs the local harness (weir:dev maps to this checkout)',
}, () => {
  let cluster: Cluster;
  let namespace: string;
  let jobs: StreamJobs;
  let operator: OperatorProcess;

  before(async () => {
    cluster = connect();
    await applyCrd();
    namespace = await createTestNamespace(cluster, 'rt-streamjob');
    jobs = new StreamJobs(cluster, namespace);
    await cluster.core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: 'minio' },
        stringData: {
          accessKeyId: requireEnv('WEIR_S3_ACCESS_KEY'),
          secretAccessKey: requireEnv('WEIR_S3_SECRET_KEY'),
        },
      },
    });
    operator = await startOperator({
      name: namespace,
      watchNamespaces: [namespace],
      leaseName: 'weir-operator',
      leaseNamespace: namespace,
    });
  });
  after(async () => {
    await operator?.stop();
    await deleteNamespace(cluster, namespace);
  });

  it('counts exactly once across a killed TaskManager pod', async () => {
    const input = uniqueName('sj-in');
    const output = uniqueName('sj-out');
    await createTopics({ name: input, partitions: 4 }, { name: output, partitions: 4 });
    await produce(input, keyedInput(0, 3000, 10));
    await jobs.create({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'StreamJob',
      metadata: { name: 'count' },
      spec: {
        image: 'weir:dev',
        entry: '/app/src/jobs/keyed-count.ts',
        args: { input, output },
        parallelism: 4,
        taskSlots: 2,
        kafka: { bootstrapServers: requireEnv('WEIR_KAFKA_BOOTSTRAP') },
        checkpoints: {
          storage: {
            url: 's3://weir/e2e-streamjob',
            endpoint: requireEnv('WEIR_S3_ENDPOINT'),
            credentialsSecret: { name: 'minio' },
          },
          interval: '500ms',
        },
        restartStrategy: { type: 'fixed-delay', attempts: 5, delay: '1s' },
      },
    });
    const running = await jobs.waitFor('count', 'Running', (j) => j.status?.phase === 'Running', 120_000);
    await readCommitted(output, 4, { expected: 3000, timeoutMs: 60_000, quietMs: 200 });

    const victim = await cluster.core.readNamespacedPod({ name: 'count-tm-1', namespace });
    await produce(input, keyedInput(3000, 3000, 10));
    process.kill(harnessContainerPid(victim, 'taskmanager'), 'SIGKILL');
    await jobs.waitFor('count', 'a restart counted', (j) => (j.status?.restarts?.count ?? 0) >= 1, 60_000);
    await jobs.waitFor('count', 'Running again', (j) => j.status?.phase === 'Running', 120_000);
    const records = await readCommitted(output, 4, { expected: 6000, timeoutMs: 90_000, quietMs: 2000 });
    assert.equal(records.length, 6000);
    assert.deepEqual(exactlyOnceProblems(emittedCounts(records), expectedCounts(6000, 10)), []);
    await waitFor('the committed state to reach every record', 30_000, async () => {
      const state = await committedCounts(
        `weir.${namespace}.count.${running.status?.run?.id}`,
        input,
        4,
        's3://weir/e2e-streamjob',
      );
      return [...expectedCounts(6000, 10)].every(([k, n]) => state.get(k) === n);
    });
  });
});
