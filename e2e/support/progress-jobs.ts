import { keyedInput } from './committed-state.ts';
import { nodeLossPlacement } from './harness-nodes.ts';
import type { JobSuite } from './job-suite.ts';
import { createTopics, produce, readCommitted, uniqueName } from './kafka-topics.ts';
import { weirDevJob } from './streamjobs.ts';

/** The keys and partitions of runningProgressJob's input and output. */
export const progressKeys = 10;
export const progressPartitions = 2;

/**
 * A keyed-count-sum job checkpointing every second with a 3 s timeout and a
 * 6 s progress window (so a test waits seconds, not minutes; `checkpoints`
 * overrides, `taskManager` is spec.taskManager), Running and through the
 * first `records` of its input; returns its topics.
 */
export async function runningProgressJob(
  suite: JobSuite,
  name: string,
  records: number,
  checkpoints: Record<string, unknown> = {},
  taskManager: Record<string, unknown> = {},
  spec: Record<string, unknown> = {},
  args: Record<string, unknown> = {},
): Promise<{ input: string; output: string }> {
  const partitions = progressPartitions;
  const input = uniqueName(`${name}-in`);
  const output = uniqueName(`${name}-out`);
  await createTopics({ name: input, partitions }, { name: output, partitions });
  await produce(input, keyedInput(0, records, progressKeys));
  const body = weirDevJob(name, 'keyed-count-sum', {
    args: { input, output, version: 'v1', ...args },
    storageUrl: `s3://weir/e2e-progress-${uniqueName('r')}`,
    interval: '1s',
    spec: {
      parallelism: partitions,
      restartStrategy: { type: 'fixed-delay', attempts: 10, delay: '1s' },
      ...(Object.keys(taskManager).length > 0 ? { taskManager } : {}),
      ...spec,
    },
  }) as { spec: { checkpoints: Record<string, unknown> } };
  Object.assign(body.spec.checkpoints, { timeout: '3s', progressWindow: '6s', ...checkpoints });
  await suite.jobs.create(body);
  await suite.jobs.waitFor(name, 'Running', (j) => j.status?.phase === 'Running', 120_000);
  await readCommitted(output, partitions, { expected: records, timeoutMs: 60_000, quietMs: 200 });
  return { input, output };
}

/**
 * A running progress job for the zombie suites, on the harness's node-loss pool (freezing a node stalls every pod
 * on it): its checkpoint timeout is long, so a TaskManager cut off from Kafka keeps its commit open until its link
 * heals, as a zombie would, and neither the progress window nor the failure budget ends it first.
 */
export async function runningZombieJob(
  suite: JobSuite,
  name: string,
  spec: Record<string, unknown> = {},
): Promise<{ input: string; output: string }> {
  const { taskManager } = await nodeLossPlacement();
  const checkpoints = { timeout: '2m', progressWindow: '5m', tolerableFailures: 100 };
  return runningProgressJob(suite, name, 1000, checkpoints, taskManager, spec);
}

/** The node and uid of pod `name` in the suite's namespace, for the node and link hooks. */
export async function podPlacement(suite: JobSuite, name: string): Promise<{ node: string; uid: string }> {
  const pod = await suite.cluster.core.readNamespacedPod({ name, namespace: suite.namespace });
  const node = pod.spec?.nodeName;
  const uid = pod.metadata?.uid;
  if (!node || !uid) throw new Error(`pod ${name} has no node or uid: ${JSON.stringify(pod.status ?? {})}`);
  return { node, uid };
}
