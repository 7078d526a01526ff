import type { Logger } from 'pino';
import { TransactionalProducer } from '../../kafka/transactional-producer.ts';
import { backoffMs, delay } from '../../retry.ts';
import type { CheckpointStorage } from '../../storage/checkpoint-storage.ts';
import { ObjectMissingError } from '../../storage/checkpoint-storage.ts';
import type { TaskManagerConfig } from '../config.ts';
import { RuntimeError } from '../errors.ts';
import { transactionalId } from './paths.ts';

const layoutFormatVersion = 1;

export function layoutKey(namespace: string, job: string, runId: string): string {
  return `${namespace}/${job}/runs/${runId}/layout.json`;
}

/** Initialises a transactional id and lets it go: the broker aborts what its earlier holder had open and fences it. */
export type Fence = (transactionalId: string) => Promise<void>;

/** The fence of a TaskManager: a producer of that id, connected (which initialises it) and closed. */
export function kafkaFence(config: TaskManagerConfig): Fence {
  return async (id) => {
    const fencer = await TransactionalProducer.connect({
      bootstrapServers: config.kafkaBootstrap,
      transactionalId: id,
      settings: config.kafkaSecurity,
    });
    await fencer.disconnect();
  };
}

/** The parallelism of the run's recorded layout; undefined when none is recorded yet. */
async function recordedParallelism(storage: CheckpointStorage, key: string): Promise<number | undefined> {
  let text: string;
  try {
    text = (await storage.get(key)).toString('utf8');
  } catch (error) {
    if (error instanceof ObjectMissingError) return undefined;
    throw error;
  }
  const layout = JSON.parse(text) as { formatVersion?: number; parallelism?: number };
  if (layout.formatVersion !== layoutFormatVersion || !Number.isInteger(layout.parallelism)) {
    throw new RuntimeError(
      'LAYOUT_INVALID',
      `${storage.describe(key)} is not a layout record this Weir reads`,
      false,
    );
  }
  return layout.parallelism as number;
}

/**
 * Run by task 0 of stage 0 before it reads committed offsets, once its own
 * transactional id is initialised. When the layout changed (a rescale, or the
 * run's first start), every transactional id of the previous layout, of every
 * stage, is fenced: a TaskManager of that layout still running (a zombie on a
 * frozen or lost node) can then commit nothing more, and a removed task's open
 * transaction no longer stalls read_committed readers. Only then is the new
 * layout recorded, which the run's other tasks wait for (awaitLayout) before
 * they initialise their ids and read offsets: no task of the new layout reads
 * a partition's offsets while a zombie of the old one can still commit them.
 * Returns the ids fenced.
 */
export async function fenceLayout(
  storage: CheckpointStorage,
  config: TaskManagerConfig,
  stages: number,
  log: Logger,
  fence: Fence = kafkaFence(config),
): Promise<string[]> {
  const key = layoutKey(config.namespace, config.job, config.runId);
  const previous = (await recordedParallelism(storage, key)) ?? 0;
  if (previous === config.parallelism) return [];
  const fenced: string[] = [];
  for (let stage = 0; stage < stages; stage++) {
    for (let task = 0; task < previous; task++) {
      // This task's own id was initialised by its own producer already.
      if (stage === 0 && task === 0) continue;
      const id = transactionalId(config.namespace, config.job, config.runId, stage, task);
      await fence(id);
      fenced.push(id);
      log.info(
        { transactionalId: id, removed: task >= config.parallelism },
        task >= config.parallelism
          ? 'aborted the transactions of a task the new layout no longer has'
          : 'fenced a task of the previous layout before the new one reads offsets',
      );
    }
  }
  await storage.put(
    key,
    Buffer.from(JSON.stringify({ formatVersion: layoutFormatVersion, parallelism: config.parallelism })),
  );
  return fenced;
}

/**
 * Run by every task but task 0 of stage 0 before it initialises its
 * transactional id: while the run's recorded layout is another one (a
 * rescale), waits until it is this one, which task 0 records only after
 * fencing the previous layout (fenceLayout). Bounded by `timeoutMs`; then a
 * retriable LAYOUT_NOT_FENCED names what it waited for.
 */
export async function awaitLayout(
  storage: CheckpointStorage,
  config: TaskManagerConfig,
  log: Logger,
  options: { timeoutMs: number; now: () => number; wait?: (ms: number) => Promise<void> },
): Promise<void> {
  const key = layoutKey(config.namespace, config.job, config.runId);
  const wait = options.wait ?? delay;
  const started = options.now();
  let recorded: number | undefined;
  for (let attempt = 1; ; attempt++) {
    recorded = await recordedParallelism(storage, key);
    if (recorded === config.parallelism) return;
    // Nothing recorded: no task of this run ever got past this wait (or was task 0), so none committed, and
    // no zombie of the run can commit either. A new run (an upgrade, a restore) starts without waiting.
    if (recorded === undefined) return;
    if (attempt === 1) {
      log.info(
        { recorded: recorded ?? null, parallelism: config.parallelism },
        'waiting for task 0 to fence the previous layout before reading offsets',
      );
    }
    if (options.now() - started >= options.timeoutMs) break;
    await wait(backoffMs(attempt, 400));
  }
  throw new RuntimeError(
    'LAYOUT_NOT_FENCED',
    `task 0 of the run did not record layout ${config.parallelism} within ${options.timeoutMs} ms (${storage.describe(key)} says ${recorded ?? 'nothing'}): it fences the previous layout's tasks first, and until then no other task may read offsets`,
    true,
  );
}
