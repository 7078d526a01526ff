import { keyedInput } from './committed-state.ts';
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
