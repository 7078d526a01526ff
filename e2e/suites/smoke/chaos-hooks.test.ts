import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kubectl } from '../../support/cli.ts';
import {
  type Cluster,
  connect,
  createTestNamespace,
  deleteNamespace,
  waitFor,
  waitForPodPhase,
} from '../../support/cluster.ts';
import { createFixturesConfigMap, echoAnswers, echoPod, weirImage } from '../../support/fixture-pods.ts';
import { needsHarnessNodes, setPodLink } from '../../support/harness-nodes.ts';

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
    await deleteNamespace(cluster, namespace);
  });

  it('cuts and heals a pod network link', async () => {
    await cluster.core.createNamespacedPod({ namespace, body: echoPod('cut', 'weir-node-1') });
    const pod = await waitForPodPhase(cluster, namespace, 'cut', ['Running']);
    const ip = pod.status?.podIP ?? '';
    await waitFor('the pod to answer', 30_000, () => echoAnswers(ip));
    await setPodLink(namespace, 'cut', 'down');
    assert.equal(await echoAnswers(ip), false, 'a cut pod must not answer');
    await setPodLink(namespace, 'cut', 'up');
    await waitFor('the healed pod to answer again', 10_000, () => echoAnswers(ip));
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
});
