import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamJob } from '../../api/streamjob.ts';
import { taskManagerNetworkPolicy } from './network-policy.ts';

const job = {
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'StreamJob',
  metadata: { name: 'orders', namespace: 'team-a', uid: 'u-1' },
} as StreamJob;

describe('taskManagerNetworkPolicy', () => {
  const policy = taskManagerNetworkPolicy(job, {
    namespace: 'weir-system',
    podLabels: { 'app.kubernetes.io/name': 'weir', 'app.kubernetes.io/component': 'operator' },
  });

  it('selects the job’s TaskManager pods only, is owned by the job and isolates their ingress', () => {
    assert.equal(policy.metadata?.name, 'orders-weir-taskmanagers');
    assert.equal(policy.metadata?.namespace, 'team-a');
    assert.deepEqual(policy.spec?.podSelector?.matchLabels, {
      'weir.dev/job': 'orders',
      'app.kubernetes.io/component': 'taskmanager',
    });
    assert.deepEqual(policy.spec?.policyTypes, ['Ingress']);
    assert.equal(policy.metadata?.ownerReferences?.[0]?.uid, 'u-1');
  });

  it('admits the control port from the operator’s pods in its namespace (both selectors in one peer: AND), metrics from anyone', () => {
    const [control, metrics] = policy.spec?.ingress ?? [];
    assert.deepEqual(control?.ports, [{ port: 8081, protocol: 'TCP' }]);
    assert.deepEqual(control?._from, [
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'weir-system' } },
        podSelector: {
          matchLabels: { 'app.kubernetes.io/name': 'weir', 'app.kubernetes.io/component': 'operator' },
        },
      },
    ]);
    assert.deepEqual(metrics, { ports: [{ port: 9249, protocol: 'TCP' }] });
    assert.equal(policy.spec?.ingress?.length, 2, 'nothing else is admitted');
  });
});
