import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { StreamJob } from '../../api/streamjob.ts';
import { observeNode, observePod } from '../controller/observe.ts';
import { testingSpec } from '../decide/testing-spec.ts';
import { taskManagerPod } from '../deploy/taskmanager-pod.ts';
import { podJobKey, slimNode, slimPod, slimStreamJob } from './slim.ts';

function testingJob(): StreamJob {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'StreamJob',
    metadata: { name: 'wc', namespace: 'team', uid: 'job-uid', generation: 3 },
    spec: testingSpec(),
  };
}

const managedFields = [
  {
    manager: 'kube-controller-manager',
    operation: 'Update',
    apiVersion: 'v1',
    fieldsType: 'FieldsV1',
    fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:phase': {} } },
  },
];

/** A TaskManager pod as the API server returns it: the operator's own pod spec, a status, managed fields. */
function apiServerPod(status: V1Pod['status'], extra: { deleting?: boolean; nodeName?: string } = {}): V1Pod {
  const job = testingJob();
  const pod = taskManagerPod(job, { index: 1, runId: 'r1', restartEpoch: 2, specHash: 'h' });
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      uid: 'pod-uid',
      resourceVersion: '42',
      managedFields,
      ...(extra.deleting ? { deletionTimestamp: new Date('2026-12-01T00:00:00Z') } : {}),
    },
    spec: { ...(pod.spec ?? { containers: [] }), ...(extra.nodeName ? { nodeName: extra.nodeName } : {}) },
    status,
  };
}

const now = '2026-12-01T00:00:00Z';
const pods: Record<string, V1Pod> = {
  running: apiServerPod(
    {
      phase: 'Running',
      podIP: '10.244.1.7',
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: new Date(now) },
        { type: 'Ready', status: 'True', lastTransitionTime: new Date(now) },
      ],
      containerStatuses: [
        {
          name: 'taskmanager',
          image: 'weir:dev',
          imageID: 'sha256:abc',
          ready: true,
          restartCount: 0,
          state: { running: { startedAt: new Date(now) } },
        },
      ],
    },
    { nodeName: 'node-a' },
  ),
  failed: apiServerPod(
    {
      phase: 'Failed',
      containerStatuses: [
        {
          name: 'taskmanager',
          image: 'weir:dev',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 2, reason: 'Error', message: 'KAFKA_UNREACHABLE: no broker' } },
        },
      ],
    },
    { nodeName: 'node-a' },
  ),
  unschedulable: apiServerPod({
    phase: 'Pending',
    conditions: [
      { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available' },
    ],
  }),
  imagePull: apiServerPod(
    {
      phase: 'Pending',
      containerStatuses: [
        {
          name: 'taskmanager',
          image: 'weir:nope',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: 'ImagePullBackOff', message: 'pull access denied' } },
        },
      ],
    },
    { nodeName: 'node-b' },
  ),
  evicted: apiServerPod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on memory.' }),
  deleting: apiServerPod({ phase: 'Running' }, { deleting: true, nodeName: 'node-a' }),
};

describe('slim cache objects', () => {
  for (const [name, pod] of Object.entries(pods)) {
    it(`a ${name} pod is observed the same through its slim copy`, () => {
      assert.deepEqual(observePod(slimPod(pod)), observePod(pod));
      assert.equal(podJobKey(slimPod(pod)), podJobKey(pod));
      assert.deepEqual(slimPod(pod).metadata?.ownerReferences, pod.metadata?.ownerReferences);
    });
  }

  it('a slim pod holds a small part of the pod the API server sends', () => {
    const full = JSON.stringify(pods.running).length;
    const slim = JSON.stringify(slimPod(pods.running as V1Pod)).length;
    assert.ok(slim * 4 < full, `slim ${slim} bytes against ${full}`);
    assert.equal(slimPod(pods.running as V1Pod).metadata?.managedFields, undefined);
  });

  it('the index key of a pod is its job as the work queue names it', () => {
    assert.equal(
      podJobKey(pods.running as V1Pod),
      `${testingJob().metadata.namespace}/${testingJob().metadata.name}`,
    );
    assert.equal(podJobKey({ metadata: { name: 'stray', namespace: 'ns' } }), undefined);
  });

  it('a node keeps its name and Ready condition, observed the same', () => {
    const node: V1Node = {
      metadata: { name: 'node-a', uid: 'n', labels: { zone: 'a' }, managedFields },
      status: {
        conditions: [
          { type: 'MemoryPressure', status: 'False' },
          { type: 'Ready', status: 'False', lastTransitionTime: new Date(now), reason: 'KubeletNotReady' },
        ],
        images: [{ names: ['weir:dev'], sizeBytes: 300_000_000 }],
      },
    };
    assert.deepEqual(observeNode(slimNode(node)), observeNode(node));
    assert.equal(slimNode(node).status?.images, undefined);
  });

  it('a StreamJob loses only managedFields and kubectl last-applied copy', () => {
    const job = testingJob();
    const applied: StreamJob = {
      ...job,
      metadata: {
        ...job.metadata,
        finalizers: ['weir.dev/final-savepoint'],
        managedFields,
        annotations: { team: 'payments', 'kubectl.kubernetes.io/last-applied-configuration': '{"spec":{}}' },
      },
    };
    const slim = slimStreamJob(applied);
    assert.deepEqual(slim.spec, applied.spec);
    assert.deepEqual(slim.metadata.finalizers, ['weir.dev/final-savepoint']);
    assert.deepEqual(slim.metadata.annotations, { team: 'payments' });
    assert.equal(slim.metadata.managedFields, undefined);
    assert.equal(slim.metadata.uid, applied.metadata.uid);
  });
});
