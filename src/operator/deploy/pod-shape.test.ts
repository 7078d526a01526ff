import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { labels } from '../../api/constants.ts';
import { type StreamJob, taskManagerDefaults } from '../../api/streamjob.ts';
import { testingSpec } from '../decide/testing-spec.ts';
import { mergeAffinity } from './pod-shape.ts';
import { defaultTaskManagerResources, taskManagerPod } from './taskmanager-pod.ts';

const identity = { index: 0, runId: 'r1', restartEpoch: 0, specHash: 'h' };
const jobWith = (taskManager: Record<string, unknown>, standby = false): StreamJob => ({
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'StreamJob',
  metadata: { name: 'orders', namespace: 'shop', uid: 'u1', generation: 1 },
  spec: testingSpec({
    taskManager: { ...taskManagerDefaults, ...taskManager },
    ...(standby ? { standby: { replicas: 1 } } : {}),
  }),
});

const zoneSpread = {
  maxSkew: 1,
  topologyKey: 'topology.kubernetes.io/zone',
  whenUnsatisfiable: 'ScheduleAnyway',
};
const onGpuNodes = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['stream'] }] }],
    },
  },
};

describe('TaskManager pods users shape', () => {
  it('carries placement, pull secrets, priority, metadata, volumes, mounts and sidecars beside what Weir sets', () => {
    const pod = taskManagerPod(
      jobWith({
        topologySpreadConstraints: [zoneSpread],
        imagePullSecrets: [{ name: 'registry' }],
        priorityClassName: 'streaming',
        podLabels: { team: 'payments' },
        podAnnotations: { 'prometheus.io/scrape': 'true' },
        volumes: [{ name: 'rates', configMap: { name: 'fx-rates' } }],
        volumeMounts: [{ name: 'rates', mountPath: '/etc/rates', readOnly: true }],
        sidecars: [{ name: 'shipper', image: 'fluent-bit:3' }],
        affinity: onGpuNodes,
      }),
      identity,
    );
    const spec = pod.spec;
    assert.deepEqual(spec?.topologySpreadConstraints, [zoneSpread]);
    assert.deepEqual(spec?.imagePullSecrets, [{ name: 'registry' }]);
    assert.equal(spec?.priorityClassName, 'streaming');
    assert.deepEqual(spec?.affinity, onGpuNodes);
    assert.equal(pod.metadata?.labels?.team, 'payments');
    assert.equal(pod.metadata?.labels?.[labels.job], 'orders', "Weir's labels stay");
    assert.deepEqual(pod.metadata?.annotations, { 'prometheus.io/scrape': 'true' });
    assert.deepEqual(
      spec?.containers.map((c) => c.name),
      ['taskmanager', 'shipper'],
    );
    const mounts = spec?.containers[0]?.volumeMounts?.map((m) => m.mountPath);
    assert.deepEqual(mounts, ['/tmp', '/var/run/weir/secrets', '/var/lib/weir/state', '/etc/rates']);
    assert.deepEqual(
      spec?.volumes?.map((v) => v.name),
      ['scratch', 'state', 'credentials', 'rates'],
    );
    assert.deepEqual(
      spec?.containers[1]?.env,
      undefined,
      'a sidecar gets none of the TaskManager environment',
    );
  });

  it('with standbys, keeps the user affinity and adds the anti-affinity between an index’s slots', () => {
    const userAnti = {
      weight: 10,
      podAffinityTerm: {
        topologyKey: 'topology.kubernetes.io/zone',
        labelSelector: { matchLabels: { a: 'b' } },
      },
    };
    const pod = taskManagerPod(
      jobWith(
        {
          affinity: {
            ...onGpuNodes,
            podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [userAnti] },
          },
        },
        true,
      ),
      identity,
    );
    const anti = pod.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.deepEqual(pod.spec?.affinity?.nodeAffinity, onGpuNodes.nodeAffinity);
    assert.equal(anti.length, 2);
    assert.deepEqual(anti[0], userAnti);
    assert.equal(anti[1]?.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
  });

  it('merges affinities: none, only the user’s, only Weir’s, both', () => {
    const weir = { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } };
    assert.equal(mergeAffinity(undefined, undefined), undefined);
    assert.equal(mergeAffinity(onGpuNodes, undefined), onGpuNodes);
    assert.equal(mergeAffinity(undefined, weir), weir);
    assert.deepEqual(mergeAffinity(onGpuNodes, weir), {
      ...onGpuNodes,
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] },
    });
  });

  it('sets default resources when the spec sets none, and exactly the spec’s when it does', () => {
    const defaulted = taskManagerPod(jobWith({}), identity).spec?.containers[0]?.resources;
    assert.deepEqual(defaulted, defaultTaskManagerResources);
    const given = taskManagerPod(jobWith({ resources: { limits: { memory: '4Gi' } } }), identity).spec
      ?.containers[0]?.resources;
    assert.deepEqual(given, { limits: { memory: '4Gi' } });
  });
});
