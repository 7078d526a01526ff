import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SchedulingV1Api } from '@kubernetes/client-node';
import { labels } from '../../../src/api/constants.ts';
import { committedCountSumProblems, keyedInput } from '../../support/committed-state.ts';
import { needsPodCluster } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, produce, uniqueName } from '../../support/kafka-topics.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

const keys = 10;
const partitions = 2;

/**
 * spec.taskManager's pod shaping on a real cluster: the kubelet runs the pod
 * as the user shaped it (labels, annotations, a priority class, a topology
 * spread, an extra ConfigMap volume and mount, a sidecar) and the job runs.
 */
describe('TaskManager pods shaped by the spec', { skip: needsPodCluster('run its pods') }, () => {
  const suite = jobSuite('rt-pod-shape');

  it('runs the job in pods with the user’s labels, annotations, placement, volumes and sidecar', async (t) => {
    const input = uniqueName('shape-in');
    const output = uniqueName('shape-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    const priorityClass = uniqueName('weir-e2e-streaming');
    const scheduling = suite.cluster.kubeConfig.makeApiClient(SchedulingV1Api);
    await scheduling.createPriorityClass({ body: { metadata: { name: priorityClass }, value: 1000 } });
    t.after(() => scheduling.deletePriorityClass({ name: priorityClass }).then(() => undefined));
    await suite.cluster.core.createNamespacedConfigMap({
      namespace: suite.namespace,
      body: { metadata: { name: 'rates' }, data: { 'eur.txt': '1.08' } },
    });
    await suite.jobs.create(
      weirDevJob('shaped', 'keyed-count-sum', {
        args: { input, output, version: 'v1' },
        storageUrl: 's3://weir/e2e-pod-shape',
        interval: '500ms',
        spec: {
          parallelism: 2,
          taskSlots: 1,
          taskManager: {
            podLabels: { team: 'payments' },
            podAnnotations: { 'example.com/owner': 'data-platform' },
            priorityClassName: priorityClass,
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: 'kubernetes.io/hostname',
                whenUnsatisfiable: 'ScheduleAnyway',
                labelSelector: { matchLabels: { [labels.job]: 'shaped' } },
              },
            ],
            volumes: [{ name: 'rates', configMap: { name: 'rates' } }],
            volumeMounts: [{ name: 'rates', mountPath: '/etc/rates', readOnly: true }],
            sidecars: [
              {
                name: 'idle',
                image: 'weir:dev',
                command: ['node', '-e', 'setInterval(() => {}, 1 << 30)'],
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      }),
    );
    await suite.jobs.waitFor('shaped', 'Running', (j) => j.status?.phase === 'Running', 120_000);
    await produce(input, keyedInput(0, 500, keys));
    assert.deepEqual(await committedCountSumProblems(output, partitions, 500, keys), []);

    const pod = await suite.cluster.core.readNamespacedPod({
      name: 'shaped-tm-0',
      namespace: suite.namespace,
    });
    assert.equal(pod.metadata?.labels?.team, 'payments');
    assert.equal(pod.metadata?.labels?.[labels.job], 'shaped');
    assert.equal(pod.metadata?.annotations?.['example.com/owner'], 'data-platform');
    assert.equal(pod.spec?.priorityClassName, priorityClass);
    assert.equal(pod.spec?.topologySpreadConstraints?.[0]?.topologyKey, 'kubernetes.io/hostname');
    const mounts = pod.spec?.containers.find((c) => c.name === 'taskmanager')?.volumeMounts ?? [];
    assert.ok(mounts.some((m) => m.name === 'rates' && m.mountPath === '/etc/rates'));
    const running = (pod.status?.containerStatuses ?? []).filter((c) => c.state?.running).map((c) => c.name);
    assert.deepEqual(running.sort(), ['idle', 'taskmanager'], 'the sidecar runs beside the TaskManager');
  });
});
