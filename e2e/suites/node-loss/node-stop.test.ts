import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type Cluster,
  connect,
  createTestNamespace,
  deleteNamespace,
  waitFor,
  waitForPodPhase,
} from '../../support/cluster.ts';
import { createFixturesConfigMap, echoAnswers, echoPod } from '../../support/fixture-pods.ts';
import { needsHarnessNodes, nodeLossPlacement, setNodeState } from '../../support/harness-nodes.ts';

/**
 * The harness's node-stop hook. Stopping a node takes down every pod on it, so
 * the test stops a node of the harness's node-loss pool (nodeLossPlacement).
 */
describe('local harness: stopping a real node', {
  skip: needsHarnessNodes('stop a node'),
}, () => {
  let cluster: Cluster;
  let namespace: string;
  let node = '';

  before(async () => {
    cluster = connect();
    namespace = await createTestNamespace(cluster, 'node-stop');
    await createFixturesConfigMap(cluster, namespace);
  });
  after(async () => {
    if (node) await setNodeState(node, 'running').catch(() => undefined);
    await deleteNamespace(cluster, namespace);
  });

  it('stops a node: it turns NotReady and its pods stop answering; it comes back on start', async () => {
    const placement = await nodeLossPlacement();
    node = placement.nodes.at(-1) ?? '';
    assert.ok(node, 'a harness node to stop');
    await cluster.core.createNamespacedPod({
      namespace,
      body: echoPod('on-lost-node', node, { tolerations: placement.tolerations }),
    });
    const pod = await waitForPodPhase(cluster, namespace, 'on-lost-node', ['Running']);
    const ip = pod.status?.podIP ?? '';
    await waitFor('the pod to answer', 30_000, () => echoAnswers(ip));
    await setNodeState(node, 'stopped');
    assert.equal(await echoAnswers(ip), false, 'the processes of a stopped node are gone');
    // The node lifecycle controller marks the node Unknown after its grace period (20 s on the harness).
    await waitFor(`${node} to turn NotReady`, 90_000, async () => {
      const current = await cluster.core.readNode({ name: node });
      const ready = current.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status !== 'True';
    });
    await setNodeState(node, 'running');
    await waitFor(`${node} to be Ready again`, 60_000, async () => {
      const current = await cluster.core.readNode({ name: node });
      return current.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    });
    // The pod's process is gone, and restartPolicy Always brings it back on the returned node.
    await waitFor('the pod to answer again after the node returns', 60_000, async () => {
      const current = await cluster.core.readNamespacedPod({ name: 'on-lost-node', namespace });
      return current.status?.podIP ? echoAnswers(current.status.podIP) : false;
    });
  });
});
