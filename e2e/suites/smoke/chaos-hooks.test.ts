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
  fixtureContainer,
  fixturesVolume,
  weirImage,
} from '../../support/fixture-pods.ts';
import { needsHarnessNodes, setNodeState, setPodLink } from '../../support/harness-nodes.ts';

function echoPod(name: string, node: string, extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 2,
      containers: [
        fixtureContainer('echo', 'echo-server.ts', {
          env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
        }),
      ],
      volumes: [fixturesVolume],
      ...extra,
    },
  };
}

async function answers(ip: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${ip}:8080/healthz`, { signal: AbortSignal.timeout(1500) });
    return response.ok;
  } catch {
    return false;
  }
}

describe('local harness: failure injection on real nodes', {
  skip: needsHarnessNodes('inject failures'),
}, () => {
  let cluster: Cluster;
  let namespace: string;

  before(async () => {
    cluster = connect();
    namespace = await createTestNamespace(cluster, 'smoke-chaos');
    await createFixturesConfigMap(cluster, namespace);
  });
  after(async () => {
    await setNodeState('weir-node-2', 'running').catch(() => undefined);
    await deleteNamespace(cluster, namespace);
  });

  it('cuts and heals a pod network link', async () => {
    await cluster.core.createNamespacedPod({ namespace, body: echoPod('cut', 'weir-node-1') });
    const pod = await waitForPodPhase(cluster, namespace, 'cut', ['Running']);
    const ip = pod.status?.podIP ?? '';
    await waitFor('the pod to answer', 30_000, () => answers(ip));
    await setPodLink(namespace, 'cut', 'down');
    assert.equal(await answers(ip), false, 'a cut pod must not answer');
    await setPodLink(namespace, 'cut', 'up');
    await waitFor('the healed pod to answer again', 10_000, () => answers(ip));
  });

  it('restarts a container whose liveness probe fails, and shows its previous log', async () => {
    await cluster.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'unhealthy' },
        spec: {
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image: weirImage,
              command: ['sh', '-c', 'echo started; exec sleep 600'],
              livenessProbe: { tcpSocket: { port: 9 }, periodSeconds: 1, failureThreshold: 2 },
            },
          ],
        },
      },
    });
    const restarted = await waitFor('a liveness restart', 60_000, async () => {
      const pod = await cluster.core.readNamespacedPod({ name: 'unhealthy', namespace });
      const status = pod.status?.containerStatuses?.[0];
      return (status?.restartCount ?? 0) >= 1 ? status : undefined;
    });
    assert.equal(restarted.lastState?.terminated?.exitCode, 137, 'killed by the kubelet');
    const events = await cluster.core.listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=unhealthy',
    });
    assert.ok(
      events.items.some((e) => e.reason === 'Killing' && /failed liveness probe/.test(e.message ?? '')),
      `events: ${events.items.map((e) => `${e.reason}: ${e.message}`).join('; ')}`,
    );
    assert.equal(await kubectl('logs', '-n', namespace, 'unhealthy', '--previous'), 'started\n');
  });

  it('stops a node: it turns NotReady and its pods stop answering; it comes back on start', async () => {
    await cluster.core.createNamespacedPod({ namespace, body: echoPod('on-lost-node', 'weir-node-2') });
    const pod = await waitForPodPhase(cluster, namespace, 'on-lost-node', ['Running']);
    const ip = pod.status?.podIP ?? '';
    await waitFor('the pod to answer', 30_000, () => answers(ip));
    await setNodeState('weir-node-2', 'stopped');
    assert.equal(await answers(ip), false, 'the processes of a stopped node are gone');
    // The node lifecycle controller marks the node Unknown after its grace period (40 s by default).
    await waitFor('weir-node-2 to turn NotReady', 90_000, async () => {
      const node = await cluster.core.readNode({ name: 'weir-node-2' });
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status !== 'True';
    });
    await setNodeState('weir-node-2', 'running');
    await waitFor('weir-node-2 to be Ready again', 60_000, async () => {
      const node = await cluster.core.readNode({ name: 'weir-node-2' });
      return node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    });
    // The pod's process is gone, and restartPolicy Always brings it back on the returned node.
    await waitFor('the pod to answer again after the node returns', 60_000, async () => {
      const current = await cluster.core.readNamespacedPod({ name: 'on-lost-node', namespace });
      return current.status?.podIP ? answers(current.status.podIP) : false;
    });
  });
});
