import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import {
  type Cluster,
  connect,
  createTestNamespace,
  deleteNamespace,
  harnessContainerPid,
  waitFor,
  waitForPodPhase,
} from '../../support/cluster.ts';

const shellImage = 'weir-harness/shell';
const checkoutImage = 'weir-harness/checkout';

async function podLog(cluster: Cluster, namespace: string, name: string): Promise<string> {
  return cluster.core.readNamespacedPodLog({ name, namespace });
}

describe('local harness: pods', () => {
  let cluster: Cluster;
  let namespace: string;

  before(async () => {
    cluster = connect();
    namespace = await createTestNamespace(cluster, 'smoke-pods');
  });
  after(async () => {
    await deleteNamespace(cluster, namespace);
  });

  it('runs a pod with a command to completion, and its output reads back through the API', async () => {
    await cluster.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'hello' },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'main',
              image: shellImage,
              args: ['echo "hello from $(POD_NAME) in $POD_NAMESPACE"; echo second line; exit 0'],
              env: [
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              ],
            },
          ],
        },
      },
    });
    const pod = await waitForPodPhase(cluster, namespace, 'hello', ['Succeeded', 'Failed']);
    assert.equal(pod.status?.phase, 'Succeeded');
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.exitCode, 0);
    assert.equal(terminated?.reason, 'Completed');
    const log = await podLog(cluster, namespace, 'hello');
    assert.equal(log, `hello from hello in ${namespace}\nsecond line\n`);
  });

  it('runs a 3-replica Deployment with distinct, reachable pod IPs, and garbage-collects its pods on delete', async () => {
    const labels = { app: 'echo' };
    await cluster.apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'echo' },
        spec: {
          replicas: 3,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              terminationGracePeriodSeconds: 5,
              containers: [
                {
                  name: 'echo',
                  image: checkoutImage,
                  args: ['e2e/suites/smoke/fixtures/echo-server.ts'],
                  env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
                  ports: [{ name: 'http', containerPort: 8080 }],
                  readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      },
    });
    const pods = await waitFor('3 ready echo pods', 90_000, async () => {
      const list = await cluster.core.listNamespacedPod({ namespace, labelSelector: 'app=echo' });
      const ready = list.items.filter(
        (p) =>
          p.status?.phase === 'Running' &&
          p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return ready.length === 3 ? ready : undefined;
    });
    const ips = pods.map((p) => p.status?.podIP ?? '');
    assert.equal(new Set(ips).size, 3, `pod IPs must be distinct: ${ips.join(', ')}`);
    for (const pod of pods) {
      const response = await fetch(`http://${pod.status?.podIP}:8080/`, {
        signal: AbortSignal.timeout(5000),
      });
      assert.deepEqual(await response.json(), { pod: pod.metadata?.name, ip: pod.status?.podIP });
    }
    await cluster.apps.deleteNamespacedDeployment({
      name: 'echo',
      namespace,
      propagationPolicy: 'Background',
    });
    await waitFor('echo pods to be garbage-collected', 90_000, async () => {
      const list = await cluster.core.listNamespacedPod({ namespace, labelSelector: 'app=echo' });
      return list.items.length === 0;
    });
    for (const ip of ips) {
      await assert.rejects(
        fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(2000) }),
        `${ip} still answers`,
      );
    }
  });

  it('mounts a configMap, and in-cluster config lists pods only with a RoleBinding', async () => {
    await cluster.core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'greeting' }, data: { greeting: 'hello from a configMap' } },
    });
    await cluster.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'lister' } } });
    await cluster.rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'pod-reader' },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }],
      },
    });
    const listerPod = (name: string): V1Pod => ({
      metadata: { name },
      spec: {
        restartPolicy: 'Never',
        serviceAccountName: 'lister',
        securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 },
        containers: [
          {
            name: 'main',
            image: checkoutImage,
            args: ['e2e/suites/smoke/fixtures/list-pods.ts'],
            securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
            volumeMounts: [{ name: 'config', mountPath: '/etc/weir-config', readOnly: true }],
          },
        ],
        volumes: [{ name: 'config', configMap: { name: 'greeting' } }],
      },
    });
    const runLister = async (name: string) => {
      await cluster.core.createNamespacedPod({ namespace, body: listerPod(name) });
      const pod = await waitForPodPhase(cluster, namespace, name, ['Succeeded', 'Failed']);
      const log = await podLog(cluster, namespace, name);
      assert.equal(pod.status?.phase, 'Succeeded', log);
      return JSON.parse(log.trim().split('\n').at(-1) ?? '{}') as {
        greeting: string;
        status: number;
        pods?: string[];
      };
    };

    const forbidden = await runLister('without-binding');
    assert.deepEqual(forbidden, { greeting: 'hello from a configMap', status: 403 });

    await cluster.rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'lister-reads-pods' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'lister', namespace }],
      },
    });
    const allowed = await waitFor('the RoleBinding to take effect', 30_000, async () => {
      const result = await runLister(`with-binding-${Date.now() % 100000}`);
      return result.status === 200 ? result : undefined;
    });
    assert.equal(allowed.greeting, 'hello from a configMap');
    assert.ok(allowed.pods?.includes('without-binding'), `pod list: ${allowed.pods?.join(', ')}`);
  });

  it('reports a killed container process in pod status', async () => {
    await cluster.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'victim' },
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'main', image: shellImage, args: ['exec sleep 300'] }],
        },
      },
    });
    const running = await waitForPodPhase(cluster, namespace, 'victim', ['Running']);
    const pid = harnessContainerPid(running, 'main');
    process.kill(pid, 'SIGKILL');
    const pod = await waitForPodPhase(cluster, namespace, 'victim', ['Failed']);
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.exitCode, 137);
    assert.equal(terminated?.signal, 9);
    assert.equal(terminated?.reason, 'Error');
    assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
  });
});
