import type { Logger } from 'pino';
import { TransactionalProducer } from '../../kafka/transactional-producer.ts';
import type { CheckpointStorage } from '../../storage/checkpoint-storage.ts';
import { ObjectMissingError } from '../../storage/checkpoint-storage.ts';
import type { TaskManagerConfig } from '../config.ts';
import { RuntimeError } from '../errors.ts';
import { transactionalId } from './paths.ts';

const layoutFormatVersion = 1;

export function layoutKey(namespace: string, job: string, runId: string): string {
  return `${namespace}/${job}/runs/${runId}/layout.json`;
}

/**
 * After a rescale down, the transactional ids of tasks that no longer exist
 * may hold open transactions; left alone they would stall read_committed
 * readers (and the new owners' offset reads) until they time out. Task 0
 * fences each of them, which aborts what it had open, then records the new
 * layout so the next start knows what to look for.
 */
export async function abortStaleTransactions(
  storage: CheckpointStorage,
  config: TaskManagerConfig,
  stages: number,
  log: Logger,
): Promise<number[]> {
  const key = layoutKey(config.namespace, config.job, config.runId);
  let previous = 0;
  try {
    const layout = JSON.parse((await storage.get(key)).toString('utf8')) as {
      formatVersion?: number;
      parallelism?: number;
    };
    if (layout.formatVersion !== layoutFormatVersion || !Number.isInteger(layout.parallelism)) {
      throw new RuntimeError(
        'LAYOUT_INVALID',
        `${storage.describe(key)} is not a layout record this Weir reads`,
        false,
      );
    }
    previous = layout.parallelism as number;
  } catch (error) {
    if (!(error instanceof ObjectMissingError)) throw error;
  }
  const stale = Array.from(
    { length: Math.max(0, previous - config.parallelism) },
    (_, i) => config.parallelism + i,
  );
  for (const [stage, task] of Array.from({ length: stages }, (_, s) =>
    stale.map((t) => [s, t] as const),
  ).flat()) {
    const id = transactionalId(config.namespace, config.job, config.runId, stage, task);
    const fencer = await TransactionalProducer.connect({
      bootstrapServers: config.kafkaBootstrap,
      transactionalId: id,
      settings: config.kafkaSecurity,
    });
    await fencer.disconnect();
    log.info({ transactionalId: id }, 'aborted the transactions of a task the new layout no longer has');
  }
  if (previous !== config.parallelism) {
    await storage.put(
      key,
      Buffer.from(JSON.stringify({ formatVersion: layoutFormatVersion, parallelism: config.parallelism })),
    );
  }
  return stale;
}
