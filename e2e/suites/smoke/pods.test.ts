import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { kubectl } from '../../support/cli.ts';
import {
  type Cluster,
  connect,
  createTestNamespace,
  deleteNamespace,
  waitFor,
  waitForPodPhase,
} from '../../support/cluster.ts';
import {
  createFixturesConfigMap,
  echoContainer,
  fixtureContainer,
  fixturesVolume,
  weirImage,
} from '../../support/fixture-pods.ts';
import { killContainer, needsHarnessNodes } from '../../support/harness-nodes.ts';

async function podLog(cluster: Cluster, namespace: string, name: string): Promise<string> {
  return cluster.core.readNamespacedPodLog({ name, namespace });
}

/** Pods of the Weir image, built from the Dockerfile, on the cluster's nodes (on the local harness: real kubelets with containerd). */
describe('pods of the Weir image', () => {
  let cluster: Cluster;
  let namespace: string;

  before(async () => {
    cluster = connect();
    namespace = await createTestNamespace(cluster, 'smoke-pods');
    await createFixturesConfigMap(cluster, namespace);
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
              image: weirImage,
              command: ['sh', '-c'],
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
              containers: [echoContainer()],
              volumes: [fixturesVolume],
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
          fixtureContainer('main', 'list-pods.ts', {
            securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
            volumeMounts: [{ name: 'config', mountPath: '/etc/weir-config', readOnly: true }],
          }),
        ],
        volumes: [{ name: 'config', configMap: { name: 'greeting' } }, fixturesVolume],
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

  it('runs `weir version` as the image user, and the API through the kubernetes Service with its projected token; kubectl exec runs in the container', async () => {
    // The pod reaches the API server only by the Service address, which kube-proxy rewrites.
    const probe = [
      "const fs = require('node:fs'), https = require('node:https');",
      "const dir = '/var/run/secrets/kubernetes.io/serviceaccount';",
      'const req = https.get({ host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT,',
      "  path: '/api', ca: fs.readFileSync(dir + '/ca.crt'),",
      "  headers: { Authorization: 'Bearer ' + fs.readFileSync(dir + '/token', 'utf8') } }, (res) => {",
      "  let body = ''; res.on('data', (c) => (body += c));",
      "  res.on('end', () => console.log(res.statusCode, JSON.parse(body).kind, process.env.KUBERNETES_SERVICE_HOST)); });",
      "req.on('error', (e) => console.log('error', e.message));",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    await cluster.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'api-client' },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image: weirImage,
              command: ['node', '-e', probe],
              securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
            },
          ],
        },
      },
    });
    await waitForPodPhase(cluster, namespace, 'api-client', ['Running'], 120_000);
    const line = await waitFor('the pod to report its API call', 30_000, async () => {
      return (await podLog(cluster, namespace, 'api-client')).trim() || undefined;
    });
    assert.match(line, /^200 APIVersions 10\.96\.0\.1$/);
    const exec = await kubectl(
      'exec',
      '-n',
      namespace,
      'api-client',
      '--',
      'sh',
      '-c',
      'id -u; weir version',
    );
    assert.match(exec, /^65532\nweir \d+\.\d+\.\d+/);
  });

  it('reports a killed container process in pod status', {
    skip: needsHarnessNodes("kill a container's process"),
  }, async () => {
    await cluster.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'victim' },
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'main', image: weirImage, command: ['sleep', '300'] }],
        },
      },
    });
    const running = await waitForPodPhase(cluster, namespace, 'victim', ['Running']);
    await killContainer(running, 'main');
    const pod = await waitForPodPhase(cluster, namespace, 'victim', ['Failed']);
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(terminated?.exitCode, 137);
    assert.equal(terminated?.reason, 'Error');
    assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'False');
  });

  it('restarts a killed container (restartPolicy Always) and keeps its previous log', {
    skip: needsHarnessNodes("kill a container's process"),
  }, async () => {
    await cluster.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'restarted' },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            { name: 'main', image: weirImage, command: ['sh', '-c', 'echo started; exec sleep 600'] },
          ],
        },
      },
    });
    const running = await waitForPodPhase(cluster, namespace, 'restarted', ['Running']);
    await killContainer(running, 'main');
    const status = await waitFor('the container restarted', 60_000, async () => {
      const pod = await cluster.core.readNamespacedPod({ name: 'restarted', namespace });
      const s = pod.status?.containerStatuses?.[0];
      return s?.restartCount === 1 && s.state?.running ? s : undefined;
    });
    assert.equal(status.lastState?.terminated?.exitCode, 137, 'SIGKILL');
    assert.equal(await kubectl('logs', '-n', namespace, 'restarted', '--previous'), 'started\n');
  });
});
