import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import type { Condition } from '../../../src/api/streamjob.ts';
import { jobToken } from '../../../src/operator/control/job-token.ts';
import { type Cluster, waitFor } from '../../support/cluster.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { type StreamJobs, standinJob } from '../../support/streamjobs.ts';

async function jobPods(cluster: Cluster, namespace: string, job: string): Promise<V1Pod[]> {
  const list = await cluster.core.listNamespacedPod({ namespace, labelSelector: `weir.dev/job=${job}` });
  return list.items.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
}

describe('operator: StreamJob lifecycle', () => {
  const suite = jobSuite('op-lifecycle');
  let cluster: Cluster;
  let namespace: string;
  let jobs: StreamJobs;

  // The local names the tests use, for what jobSuite made.
  before(() => {
    ({ cluster, namespace, jobs } = suite);
  });

  it('runs ceil(parallelism / taskSlots) owned TaskManager pods and reports Running', async () => {
    const created = await jobs.create(standinJob('wc', { parallelism: 3, taskSlots: 2 }));
    const job = await jobs.waitFor('wc', 'Running with 3 ready tasks', (j) => j.status?.phase === 'Running');
    assert.deepEqual(job.status?.tasks, { ready: 3, total: 3, pods: 2 });
    assert.equal(job.status?.observedGeneration, job.metadata.generation);
    for (const type of ['Ready', 'Progressing', 'Degraded']) {
      const condition: Condition | undefined = job.status?.conditions?.find((c) => c.type === type);
      assert.ok(condition, `condition ${type}`);
      assert.equal(condition.observedGeneration, job.metadata.generation);
    }
    assert.equal(job.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');

    const pods = await jobPods(cluster, namespace, 'wc');
    assert.deepEqual(
      pods.map((p) => p.metadata?.name),
      ['wc-tm-0', 'wc-tm-1'],
    );
    for (const [index, pod] of pods.entries()) {
      const owner = pod.metadata?.ownerReferences?.[0];
      assert.deepEqual(
        [owner?.kind, owner?.name, owner?.uid, owner?.controller],
        ['StreamJob', 'wc', created.metadata.uid, true],
      );
      assert.equal(pod.spec?.restartPolicy, 'Never');
      assert.equal(pod.metadata?.labels?.['weir.dev/pod-index'], String(index));
      assert.equal(pod.metadata?.labels?.['weir.dev/run'], job.status?.run?.id);
      assert.equal(pod.spec?.securityContext?.runAsNonRoot, true);
      assert.equal(pod.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
      const env = new Map(pod.spec?.containers[0]?.env?.map((e) => [e.name, e]));
      assert.equal(env.get('WEIR_TASKS')?.value, index === 0 ? '0,1' : '2');
      assert.equal(env.get('WEIR_RUN_ID')?.value, job.status?.run?.id);
      // The token is a file of the credentials volume, from the job's Secret: never a variable.
      assert.equal(env.get('WEIR_CONTROL_TOKEN'), undefined);
      const credentials = pod.spec?.volumes?.find((v) => v.name === 'credentials')?.projected?.sources ?? [];
      assert.ok(
        credentials.some(
          (s) => s.secret?.name === 'wc-weir-token' && s.secret.items?.[0]?.path === 'WEIR_CONTROL_TOKEN',
        ),
        'token by Secret reference, as a file',
      );
    }

    const secret = await cluster.core.readNamespacedSecret({ name: 'wc-weir-token', namespace });
    assert.equal(secret.metadata?.ownerReferences?.[0]?.uid, created.metadata.uid);
    const token = Buffer.from(secret.data?.token ?? '', 'base64').toString();
    assert.match(token, /^[0-9a-f]{64}$/);
    // The stand-in answers its control API only with the job's token.
    const ip = pods[0]?.status?.podIP;
    const unauthenticated = await fetch(`http://${ip}:8081/v1/status`);
    assert.equal(unauthenticated.status, 401);
    const status = await fetch(`http://${ip}:8081/v1/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await status.json()) as { tasks: { task: number }[] };
    assert.deepEqual(
      body.tasks.map((t) => t.task),
      [0, 1],
    );

    const events = await cluster.core.listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=wc',
    });
    const reasons = events.items.map((e) => e.reason);
    assert.ok(reasons.includes('Deploying') && reasons.includes('Running'), `events: ${reasons.join(', ')}`);
  });

  it('suspends by removing the pods and resumes by bringing them back', async () => {
    await jobs.patchSpec('wc', { state: 'suspended' });
    await jobs.waitFor('wc', 'Suspended', (j) => j.status?.phase === 'Suspended');
    await waitFor(
      'the pods to be gone',
      60_000,
      async () => (await jobPods(cluster, namespace, 'wc')).length === 0,
    );
    const suspended = await jobs.get('wc');
    assert.equal(suspended.status?.restarts?.count ?? 0, 0, 'suspending is not a failure');
    assert.equal(suspended.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'Suspended');

    await jobs.patchSpec('wc', { state: 'running' });
    await jobs.waitFor('wc', 'Running again', (j) => j.status?.phase === 'Running');
    assert.equal((await jobPods(cluster, namespace, 'wc')).length, 2);
  });

  it('restarts every pod once when restartNonce changes', async () => {
    const before = new Set((await jobPods(cluster, namespace, 'wc')).map((p) => p.metadata?.uid));
    const epochBefore = (await jobs.get('wc')).status?.restartEpoch ?? 0;
    await jobs.patchSpec('wc', { restartNonce: 1 });
    await waitFor('all pods replaced and ready', 60_000, async () => {
      const pods = await jobPods(cluster, namespace, 'wc');
      const job = await jobs.get('wc');
      return (
        pods.length === 2 &&
        pods.every((p) => !before.has(p.metadata?.uid)) &&
        job.status?.phase === 'Running'
      );
    });
    const job = await jobs.get('wc');
    assert.equal(job.status?.restarts?.count ?? 0, 0);
    assert.equal(job.status?.restartEpoch, epochBefore + 1, 'one restart of every pod');
  });

  it('rescales through the scale subresource', async () => {
    const { execFile } = await import('node:child_process');
    await new Promise((resolve, reject) =>
      execFile('kubectl', ['scale', 'streamjob/wc', '-n', namespace, '--replicas=5'], (e) =>
        e ? reject(e) : resolve(undefined),
      ),
    );
    const job = await jobs.waitFor(
      'wc',
      '5 ready tasks',
      (j) => j.status?.tasks?.ready === 5 && j.status.phase === 'Running',
    );
    assert.equal(job.spec.parallelism, 5);
    assert.equal((await jobPods(cluster, namespace, 'wc')).length, 3);
  });

  it('warns when TaskManagers refuse the operator token, and renews a deleted token Secret with the next pods', async () => {
    // A token Secret this operator's key did not derive (made by hand, or by an operator with another key).
    await cluster.core.deleteNamespacedSecret({ name: 'wc-weir-token', namespace });
    await cluster.core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'wc-weir-token' }, stringData: { token: 'f'.repeat(64) } },
    });
    const allReplaced = async (nonce: number) => {
      const old = new Set((await jobPods(cluster, namespace, 'wc')).map((p) => p.metadata?.uid));
      await jobs.patchSpec('wc', { restartNonce: nonce });
      await waitFor(`all pods replaced and Running (restartNonce ${nonce})`, 90_000, async () => {
        const pods = await jobPods(cluster, namespace, 'wc');
        const job = await jobs.get('wc');
        return (
          pods.length === 3 && pods.every((p) => !old.has(p.metadata?.uid)) && job.status?.phase === 'Running'
        );
      });
    };
    await allReplaced(2);
    const warning = await waitFor('a ControlTokenRejected event', 60_000, async () => {
      const events = await cluster.core.listNamespacedEvent({
        namespace,
        fieldSelector: 'involvedObject.name=wc',
      });
      return events.items.find((e) => e.reason === 'ControlTokenRejected');
    });
    assert.equal(warning.type, 'Warning');
    assert.match(warning.message ?? '', /wc-weir-token/);

    // The remedy the event names: delete the Secret and restart; the new pods come with a renewed Secret.
    await cluster.core.deleteNamespacedSecret({ name: 'wc-weir-token', namespace });
    await allReplaced(3);
    const job = await jobs.get('wc');
    const key = await cluster.core.readNamespacedSecret({ name: 'weir-operator-control-key', namespace });
    const renewed = await cluster.core.readNamespacedSecret({ name: 'wc-weir-token', namespace });
    assert.equal(
      Buffer.from(renewed.data?.token ?? '', 'base64').toString(),
      jobToken(Buffer.from(key.data?.key ?? '', 'base64'), job),
    );
    assert.equal(renewed.metadata?.ownerReferences?.[0]?.uid, job.metadata.uid);
  });

  it('a pod the API server refuses shows as Ready=False PodRejected with the server’s message and a Warning event; fixing the spec runs it', async () => {
    await jobs.create(
      standinJob('refused', {
        parallelism: 1,
        taskManager: { tolerations: [{ key: 'dedicated', operator: 'Sometimes', effect: 'NoSchedule' }] },
      }),
    );
    const refused = await jobs.waitFor(
      'refused',
      'Ready=False with reason PodRejected',
      (j) => j.status?.conditions?.some((c) => c.type === 'Ready' && c.reason === 'PodRejected') ?? false,
      60_000,
    );
    const ready = refused.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.match(
      ready?.message ?? '',
      /pod refused-tm-0: PodRejected: the API server refused to create it: .*spec\.tolerations\[0\]\.operator: Unsupported value: "Sometimes"/,
    );
    const warning = await waitFor('a PodRejected Warning event', 30_000, async () => {
      const events = await cluster.core.listNamespacedEvent({
        namespace,
        fieldSelector: `involvedObject.uid=${refused.metadata.uid}`,
      });
      return events.items.find((e) => e.reason === 'PodRejected');
    });
    assert.equal(warning.type, 'Warning');
    await jobs.patchSpec('refused', {
      taskManager: { tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }] },
    });
    await jobs.waitFor(
      'refused',
      'Running once the spec is fixed',
      (j) => j.status?.phase === 'Running',
      90_000,
    );
  });

  it('args too large for one environment variable: PodRejected naming spec.args and the limit, not an exec failure', async () => {
    await jobs.create(standinJob('huge-args', { parallelism: 1, args: { blob: 'x'.repeat(140_000) } }));
    const refused = await jobs.waitFor(
      'huge-args',
      'Ready=False with reason PodRejected',
      (j) => j.status?.conditions?.some((c) => c.type === 'Ready' && c.reason === 'PodRejected') ?? false,
      60_000,
    );
    assert.match(
      refused.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '',
      /pod huge-args-tm-0: PodRejected: spec\.args is 1400\d\d bytes as WEIR_ARGS; one environment variable holds at most 131072 bytes/,
    );
    assert.deepEqual(await jobPods(cluster, namespace, 'huge-args'), []);
  });

  it('deleting the StreamJob garbage-collects its pods and Secret', async () => {
    await jobs.delete('wc');
    await waitFor('pods and secret to be collected', 60_000, async () => {
      const pods = await jobPods(cluster, namespace, 'wc');
      const secrets = await cluster.core.listNamespacedSecret({
        namespace,
        labelSelector: 'weir.dev/job=wc',
      });
      return pods.length === 0 && secrets.items.length === 0;
    });
  });
});
