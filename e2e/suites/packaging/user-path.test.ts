import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { installWeirChart } from '../../support/chart.ts';
import { helm } from '../../support/cli.ts';
import {
  type Cluster,
  connect,
  createTestNamespace,
  deleteNamespace,
  requireEnv,
} from '../../support/cluster.ts';
import { createMinioSecret } from '../../support/committed-state.ts';
import { needsPodCluster } from '../../support/harness-nodes.ts';
import { deleteJobsAndSnapshots } from '../../support/job-suite.ts';
import { grantJobAcls, scramUser } from '../../support/kafka-security.ts';
import {
  createTopics,
  produce,
  type ReadRecord,
  readCommitted,
  uniqueName,
} from '../../support/kafka-topics.ts';
import { podKafkaSaslSslBootstrap, podS3Endpoint } from '../../support/pod-services.ts';
import { StreamJobSnapshots } from '../../support/snapshots.ts';
import { applyCrd, StreamJobs } from '../../support/streamjobs.ts';

const hour = 3_600_000;
/** An hour boundary, so the windows' starts are known. */
const start = 480_000 * hour;
const partitions = 2;

/**
 * A new user's path, as the README tells it: the operator installed with the
 * chart; the job template (a project outside the repository, built against
 * the @weir-dev/sdk package, its image built FROM Weir's by
 * scripts/build-image.sh --test-images as the template's README says) run as
 * a StreamJob over SCRAM-SHA-512 with a Strimzi-shaped Secret and only the
 * ACLs `weir kafka-acls` prints for it (a keyBy job: a repartition topic and
 * a changelog); then operated: a savepoint, an upgrade, a suspend and a
 * resume, with every hour's revenue out exactly once.
 */
describe('a new user’s path: chart, job template on the SDK package, SCRAM with least-privilege ACLs, operations', {
  skip: needsPodCluster('run its image'),
}, () => {
  let cluster: Cluster;
  let releaseNamespace: string;
  let namespace: string;
  let jobs: StreamJobs;
  let installed = false;
  const release = `weir-user-${randomBytes(3).toString('hex')}`;

  before(async () => {
    cluster = connect();
    await applyCrd();
    releaseNamespace = await createTestNamespace(cluster, 'weir-user-system');
    namespace = await createTestNamespace(cluster, 'weir-user-jobs');
    jobs = new StreamJobs(cluster, namespace);
    await createMinioSecret(cluster.core, namespace);
    await installWeirChart(release, releaseNamespace, [namespace], '--set', 'statusPollInterval=2s');
    installed = true;
  });
  after(async () => {
    // Snapshot records carry the operator's finalizer: they go while it runs (docs/operating.md).
    if (installed && namespace) await deleteJobsAndSnapshots(cluster, namespace);
    if (installed) await helm('uninstall', release, '--namespace', releaseNamespace).catch(() => undefined);
    for (const ns of [releaseNamespace, namespace]) if (ns) await deleteNamespace(cluster, ns);
  });

  it('runs the revenue job exactly once through a savepoint, an upgrade, a suspend and a resume', async () => {
    const t = { input: uniqueName('orders'), output: uniqueName('revenue'), late: uniqueName('late') };
    await createTopics(
      { name: t.input, partitions },
      { name: t.output, partitions },
      { name: t.late, partitions: 1 },
    );
    // What Strimzi's User Operator writes for a KafkaUser "orders-<random>" with scram-sha-512.
    const user = uniqueName('orders');
    const password = randomBytes(12).toString('hex');
    await scramUser(user, 'SCRAM-SHA-512', password);
    const secret = (name: string, stringData: Record<string, string>) =>
      cluster.core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData } });
    await secret(user, {
      password,
      'sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="${user}" password="${password}";`,
    });
    await secret('kafka-ca', { 'ca.crt': readFileSync(requireEnv('WEIR_KAFKA_CA'), 'utf8') });
    await grantJobAcls(`User:${user}`, {
      namespace,
      name: 'revenue',
      input: t.input,
      output: t.output,
      moreOutputs: [t.late],
    });

    await jobs.create({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'StreamJob',
      metadata: { name: 'revenue' },
      spec: {
        image: 'weir-test/revenue:e2e',
        entry: '/opt/weir/jobs/revenue/job.js',
        args: t,
        parallelism: 2,
        kafka: {
          bootstrapServers: podKafkaSaslSslBootstrap(),
          securityProtocol: 'SASL_SSL',
          saslMechanism: 'SCRAM-SHA-512',
          secretRef: { name: user },
          username: user,
          tls: { ca: { secretKeyRef: { name: 'kafka-ca', key: 'ca.crt' } } },
        },
        checkpoints: {
          storage: {
            url: 's3://weir/e2e-user-path',
            endpoint: podS3Endpoint(),
            credentialsSecret: { name: 'minio' },
          },
          interval: '1s',
        },
      },
    });
    await jobs.waitFor('revenue', 'Running', (j) => j.status?.phase === 'Running', 120_000);

    const order = (id: string, customer: string, amount: number, at: number, partition: number) => ({
      key: id,
      value: JSON.stringify({ customer, amount, at: start + at }),
      partition,
    });
    /** An order on every input partition at `at`: the watermark is the slowest partition's. */
    const everywhere = (id: string, customer: string, amount: number, at: number) =>
      Array.from({ length: partitions }, (_, p) =>
        order(`${id}-${p}`, customer, p === 0 ? amount : 0, at, p),
      );
    const sums = (records: ReadRecord[]) =>
      records
        .map((r) => {
          const v = JSON.parse(r.value ?? '{}') as { start: number; result: number };
          return `${r.key}@${(v.start - start) / hour}=${v.result}`;
        })
        .sort();

    // Hour 0, then orders two hours on everywhere: hour 0 is complete.
    await produce(t.input, [
      order('o1', 'ada', 10, 1_000, 0),
      order('o2', 'bob', 5, 2_000, 1),
      order('o3', 'ada', 7, 50_000, 1),
    ]);
    await produce(t.input, everywhere('o4', 'carol', 1, 2 * hour + 1_000));
    const hourZero = await readCommitted(t.output, partitions, {
      expected: 2,
      timeoutMs: 90_000,
      quietMs: 500,
    });
    assert.deepEqual(sums(hourZero), ['ada@0=17', 'bob@0=5']);

    // A savepoint on request, as a StreamJobSnapshot (the chart's RBAC lets the operator write its status);
    // the upgrade's savepoint below gets a record of its own.
    const snapshots = new StreamJobSnapshots(cluster, namespace);
    await snapshots.create('before-release-2', { jobName: 'revenue' });
    await snapshots.waitFor('before-release-2', 'Completed', (s) => s?.status?.state === 'Completed', 90_000);

    // An upgrade (a change of args): a savepoint, then the new version from it, carol's hour 2 in its state.
    await jobs.patchSpec('revenue', { args: { ...t, release: '2' } });
    const upgraded = await jobs.get('revenue');
    const generation = upgraded.metadata.generation ?? 0;
    await jobs.waitFor(
      'revenue',
      'the upgrade to complete',
      (j) => j.status?.phase === 'Running' && j.status?.lastStableSpec?.generation === generation,
      180_000,
    );
    const upgradeSavepoint = (await jobs.get('revenue')).status?.savepoints?.find(
      (s) => s.reason === 'upgrade',
    );
    assert.ok(upgradeSavepoint);
    await snapshots.waitFor(
      `revenue-${upgradeSavepoint.id}`,
      'recorded',
      (s) => s?.status?.state === 'Completed',
    );
    await produce(t.input, [order('o5', 'carol', 4, 2 * hour + 2_000, 0)]);

    // Suspended with a savepoint, then resumed from it.
    await jobs.patchSpec('revenue', { state: 'suspended' });
    await jobs.waitFor(
      'revenue',
      'Suspended with its savepoint',
      (j) =>
        j.status?.phase === 'Suspended' && (j.status.savepoints ?? []).some((s) => s.reason === 'suspend'),
      120_000,
    );
    await jobs.patchSpec('revenue', { state: 'running' });
    await jobs.waitFor('revenue', 'Running again', (j) => j.status?.phase === 'Running', 120_000);

    // Hour 4 everywhere: hour 2 is complete, and each hour came out once.
    await produce(t.input, everywhere('o6', 'dave', 2, 4 * hour));
    const all = await readCommitted(t.output, partitions, { expected: 3, timeoutMs: 90_000, quietMs: 1_000 });
    assert.deepEqual(sums(all), ['ada@0=17', 'bob@0=5', 'carol@2=5']);
  });
});
