import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoordinationV1Api, NetworkingV1Api, type V1Pod } from '@kubernetes/client-node';
import {
  clusterPermissions,
  controlKeySecretName,
  operatorNamespacePermissions,
  watchedNamespacePermissions,
} from '../../../src/operator/permissions.ts';
import { installWeirChart, operatorImageRepository, operatorImageTag } from '../../support/chart.ts';
import { helm, kubectl, repositoryRoot, runTool } from '../../support/cli.ts';
import {
  type Cluster,
  connect,
  createTestNamespace,
  deleteNamespace,
  waitFor,
} from '../../support/cluster.ts';
import { deleteJobsAndSnapshots } from '../../support/job-suite.ts';
import {
  accessMatrix,
  accessMismatches,
  grants,
  namedObjectQuestions,
  withNames,
} from '../../support/rbac.ts';
import { applyCrd, StreamJobs, standinJob } from '../../support/streamjobs.ts';

/**
 * The chart installed with Helm: the operator runs as two pods of the Weir
 * image built from the Dockerfile (`weir:dev`), under the chart's RBAC, with
 * in-cluster config, in namespaced mode.
 */

describe('helm install: the operator running in-cluster', () => {
  let cluster: Cluster;
  let releaseNamespace: string;
  let jobsNamespace: string;
  let unwatchedNamespace: string;
  let jobs: StreamJobs;
  let leases: CoordinationV1Api;
  let installed = false;
  const release = `weir-e2e-${randomBytes(3).toString('hex')}`;

  async function operatorPods(): Promise<V1Pod[]> {
    const list = await cluster.core.listNamespacedPod({
      namespace: releaseNamespace,
      labelSelector: `app.kubernetes.io/instance=${release},app.kubernetes.io/component=operator`,
    });
    return list.items.filter((p) => !p.metadata?.deletionTimestamp);
  }

  async function leaseHolder(): Promise<string> {
    const lease = await leases.readNamespacedLease({ name: release, namespace: releaseNamespace });
    return lease.spec?.holderIdentity ?? '';
  }

  /** The operator's identity is <pod name>-<pid>-<random>; the pod is the one whose name prefixes it. */
  async function leaderPod(): Promise<string | undefined> {
    const holder = await leaseHolder();
    return (await operatorPods()).map((p) => p.metadata?.name ?? '').find((n) => holder.startsWith(`${n}-`));
  }

  /** helm install of the chart into the release namespace, watching the jobs namespace, with `extra` values. */
  const networking = () => cluster.kubeConfig.makeApiClient(NetworkingV1Api);

  function installChart(...extra: string[]) {
    return installWeirChart(release, releaseNamespace, [jobsNamespace], ...extra);
  }

  /** The control key as it was before the uninstall test. */
  let keyBeforeUninstall: string | undefined;

  before(async () => {
    cluster = connect();
    leases = cluster.kubeConfig.makeApiClient(CoordinationV1Api);
    // Other suites may have applied the CRD already; Helm then leaves it as it is.
    await applyCrd();
    releaseNamespace = await createTestNamespace(cluster, 'weir-system');
    jobsNamespace = await createTestNamespace(cluster, 'weir-jobs');
    unwatchedNamespace = await createTestNamespace(cluster, 'weir-unwatched');
    jobs = new StreamJobs(cluster, jobsNamespace);
    await installChart('--set', 'logLevel=debug');
    installed = true;
  });
  after(async () => {
    // Snapshot records carry the operator's finalizer: they go while it runs (docs/operating.md).
    if (installed && jobsNamespace) await deleteJobsAndSnapshots(cluster, jobsNamespace);
    if (installed) await helm('uninstall', release, '--namespace', releaseNamespace).catch(() => undefined);
    for (const ns of [releaseNamespace, jobsNamespace, unwatchedNamespace]) {
      if (ns) await deleteNamespace(cluster, ns);
    }
  });

  it('runs two Ready operator pods under the chart service account, one holding the Lease', async () => {
    const pods = await operatorPods();
    assert.equal(pods.length, 2);
    for (const pod of pods) {
      assert.equal(pod.spec?.serviceAccountName, release);
      assert.deepEqual(pod.spec?.containers[0]?.args, ['operator']);
      assert.equal(pod.spec?.containers[0]?.image, `${operatorImageRepository}:${operatorImageTag}`);
      assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    }
    const leader = await waitFor('a leader among the operator pods', 30_000, leaderPod);
    assert.ok(pods.some((p) => p.metadata?.name === leader));
    // The chart made the key Secret empty; an operator replica generated the key into it.
    const key = await cluster.core.readNamespacedSecret({
      name: `${release}-control-key`,
      namespace: releaseNamespace,
    });
    assert.equal(Buffer.from(key.data?.key ?? '', 'base64').length, 32);
  });

  it('reconciles a StreamJob in its watched namespace and leaves other namespaces alone', async () => {
    const unwatched = new StreamJobs(cluster, unwatchedNamespace);
    await unwatched.create(standinJob('ignored'));
    await jobs.create(standinJob('in-cluster', { parallelism: 1 }));
    const job = await jobs.waitFor('in-cluster', 'Running', (j) => j.status?.phase === 'Running', 90_000);
    assert.deepEqual(job.status?.tasks, { ready: 1, total: 1, pods: 1 });
    const pods = await cluster.core.listNamespacedPod({
      namespace: jobsNamespace,
      labelSelector: 'weir.dev/job=in-cluster',
    });
    assert.deepEqual(
      pods.items.map((p) => p.metadata?.name),
      ['in-cluster-tm-0'],
    );
    // The token Secret was created by an operator that cannot read Secrets.
    await cluster.core.readNamespacedSecret({ name: 'in-cluster-weir-token', namespace: jobsNamespace });
    // networkPolicy.enabled (the default): only this release's operator pods may reach the control port.
    const policy = await networking().readNamespacedNetworkPolicy({
      name: 'in-cluster-weir-taskmanagers',
      namespace: jobsNamespace,
    });
    // The client's model classes, as plain data.
    const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
    const [control, metrics] = plain(policy.spec?.ingress ?? []);
    assert.deepEqual(plain(policy.spec?.podSelector?.matchLabels), {
      'weir.dev/job': 'in-cluster',
      'app.kubernetes.io/component': 'taskmanager',
    });
    assert.deepEqual(control?._from, [
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': releaseNamespace } },
        podSelector: {
          matchLabels: {
            'app.kubernetes.io/name': 'weir',
            'app.kubernetes.io/instance': release,
            'app.kubernetes.io/component': 'operator',
          },
        },
      },
    ]);
    assert.deepEqual(control?.ports, [{ port: 8081, protocol: 'TCP' }]);
    assert.deepEqual(metrics?.ports, [{ port: 9249, protocol: 'TCP' }]);
    // Every operator pod matches the policy's peer: the operator can still reach its TaskManagers.
    const peerLabels: Record<string, string> = control?._from?.[0]?.podSelector?.matchLabels ?? {};
    for (const pod of await operatorPods()) {
      for (const [key, value] of Object.entries(peerLabels)) {
        assert.equal(
          pod.metadata?.labels?.[key],
          value,
          `operator pod ${pod.metadata?.name} has ${key}=${value}`,
        );
      }
    }
    assert.equal(
      (await unwatched.get('ignored')).status,
      undefined,
      'a job outside watchNamespaces has no status',
    );
  });

  it('holds exactly the RBAC the operator uses, in the watched namespace only', async () => {
    const user = `system:serviceaccount:${releaseNamespace}:${release}`;
    const keySecret = `${release}-control-key`;
    const operatorNamespace = withNames(operatorNamespacePermissions, { [controlKeySecretName]: keySecret });
    const questions = [
      ...accessMatrix([jobsNamespace, releaseNamespace, unwatchedNamespace]),
      ...namedObjectQuestions(releaseNamespace, 'secrets', keySecret),
      ...namedObjectQuestions(jobsNamespace, 'secrets', keySecret),
    ];
    const mismatches = await accessMismatches(user, questions, (q) => {
      if (q.allNamespaces) return false;
      if (q.namespace === undefined) return grants(clusterPermissions, q);
      if (q.namespace === jobsNamespace) return grants(watchedNamespacePermissions, q);
      if (q.namespace === releaseNamespace) return grants(operatorNamespace, q);
      return false;
    });
    assert.deepEqual(mismatches, [], `${questions.length} questions asked`);
  });

  it('hands leadership to another replica when the leader pod goes, and keeps reconciling', async () => {
    const leader = await waitFor('a leader', 30_000, leaderPod);
    await cluster.core.deleteNamespacedPod({ name: leader, namespace: releaseNamespace });
    // The leader releases the Lease as it shuts down, so either the warm standby or the Deployment's
    // replacement pod may win it; what matters is that a live replica other than the deleted one holds it.
    const next = await waitFor(
      `the Lease to move from ${leader} to a live operator pod`,
      60_000,
      async () => {
        const pod = await leaderPod();
        return pod && pod !== leader ? pod : undefined;
      },
      leaseHolder,
    );
    assert.notEqual(next, leader);

    await jobs.patchSpec('in-cluster', { parallelism: 2 });
    const job = await jobs.waitFor(
      'in-cluster',
      'Running with 2 tasks after the hand-over',
      (j) => j.status?.phase === 'Running' && j.status.tasks?.total === 2 && j.status.tasks.ready === 2,
      90_000,
    );
    assert.equal(job.status?.observedGeneration, job.metadata.generation);
    // The Deployment replaces the deleted pod, which comes back as the new standby.
    await waitFor('two Ready operator pods again', 90_000, async () => {
      const pods = await operatorPods();
      const ready = pods.filter((p) =>
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return ready.length === 2;
    });
  });

  it('helm upgrade keeps the generated control key, and the upgraded operator keeps reconciling', async () => {
    const keyOf = async () =>
      (
        await cluster.core.readNamespacedSecret({
          name: `${release}-control-key`,
          namespace: releaseNamespace,
        })
      ).data?.key;
    const before = await keyOf();
    assert.ok(before);
    await helm(
      'upgrade',
      release,
      join(repositoryRoot, 'charts', 'weir'),
      '--namespace',
      releaseNamespace,
      '--reuse-values',
      '--set',
      'statusPollInterval=5s',
      '--set',
      'networkPolicy.enabled=false',
      '--wait',
      '--timeout',
      '180s',
    );
    assert.equal(await keyOf(), before, 'Helm’s three-way merge left the data the chart never sets');
    await waitFor('two Ready operator pods of the upgraded Deployment', 120_000, async () => {
      const pods = await operatorPods();
      return (
        pods.length === 2 &&
        pods.every(
          (p) =>
            p.spec?.containers[0]?.env?.find((e) => e.name === 'WEIR_STATUS_POLL_INTERVAL')?.value === '5s' &&
            p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        )
      );
    });
    await waitFor('a leader among the upgraded pods', 60_000, leaderPod);
    await waitFor('the job’s NetworkPolicy deleted once networkPolicy.enabled is false', 60_000, async () => {
      const policies = await networking().listNamespacedNetworkPolicy({ namespace: jobsNamespace });
      return !policies.items.some((p) => p.metadata?.name === 'in-cluster-weir-taskmanagers');
    });
    await jobs.patchSpec('in-cluster', { parallelism: 1 });
    await jobs.waitFor(
      'in-cluster',
      'Running with 1 task after the upgrade',
      (j) => j.status?.phase === 'Running' && j.status.tasks?.total === 1 && j.status.tasks.ready === 1,
      90_000,
    );
  });

  it('helm uninstall removes everything it installed except the CRD and the control key', async () => {
    keyBeforeUninstall = (
      await cluster.core.readNamespacedSecret({ name: `${release}-control-key`, namespace: releaseNamespace })
    ).data?.key;
    await helm('uninstall', release, '--namespace', releaseNamespace, '--wait', '--timeout', '120s');
    installed = false;
    const leftovers: string[] = [];
    for (const [kind, namespace] of [
      [
        'deployments,services,serviceaccounts,secrets,roles,rolebindings,poddisruptionbudgets',
        releaseNamespace,
      ],
      ['roles,rolebindings', jobsNamespace],
    ] as const) {
      const out = await kubectl(
        'get',
        kind,
        '-n',
        namespace,
        '-l',
        `app.kubernetes.io/instance=${release}`,
        '-o',
        'name',
      );
      if (out.trim()) leftovers.push(out.trim());
    }
    const clusterScoped = await kubectl(
      'get',
      'clusterroles,clusterrolebindings',
      '-l',
      `app.kubernetes.io/instance=${release}`,
      '-o',
      'name',
    );
    if (clusterScoped.trim()) leftovers.push(clusterScoped.trim());
    // Kept (helm.sh/resource-policy: keep): every job's token is derived from it.
    assert.deepEqual(leftovers, [`secret/${release}-control-key`]);
    await waitFor('the operator pods to be gone', 60_000, async () => (await operatorPods()).length === 0);
    const crd = await runTool('kubectl', ['get', 'crd', 'streamjobs.weir.dev', '-o', 'name']);
    assert.equal(crd.stdout.trim(), 'customresourcedefinition.apiextensions.k8s.io/streamjobs.weir.dev');
  });

  it('a reinstall keeps the control key, so running jobs stay controllable with the tokens they have', async () => {
    assert.ok(keyBeforeUninstall, 'the key was read before the uninstall');
    await installChart();
    installed = true;
    const key = await cluster.core.readNamespacedSecret({
      name: `${release}-control-key`,
      namespace: releaseNamespace,
    });
    assert.equal(
      key.data?.key,
      keyBeforeUninstall,
      'the reinstalled chart kept the key the jobs’ tokens derive from',
    );
    await jobs.patchSpec('in-cluster', { parallelism: 2 });
    await jobs.waitFor(
      'in-cluster',
      'Running with 2 tasks under the reinstalled operator',
      (j) => j.status?.phase === 'Running' && j.status.tasks?.total === 2 && j.status.tasks.ready === 2,
      90_000,
    );
  });
});
