import type { Logger } from 'pino';
import { type AssignedConsumer, committedRecordReader } from '../../kafka/assigned-consumer.ts';
import { withKafkaRetries } from '../../kafka/errors.ts';
import { type ReplayTarget, replayChangelog } from '../state/changelog.ts';
import type { StreamTaskDeps } from './task-deps.ts';

/**
 * Replays each target's changelog partition from its offset to the committed
 * end read now (after the caller fenced every earlier writer): a restore's,
 * a promoted standby's and a warm upgrade's catch-up alike. Returns the
 * records applied.
 */
export async function replayToCommittedEnd(
  deps: Pick<StreamTaskDeps, 'config' | 'now'>,
  consumer: Pick<AssignedConsumer, 'endOffsets'>,
  topic: string,
  targets: readonly ReplayTarget[],
  log: Logger,
  clientSuffix: string,
): Promise<number> {
  const { config } = deps;
  const ends = await withKafkaRetries(() =>
    consumer.endOffsets(
      targets.map((t) => ({ topic, partition: t.changelogPartition })),
      Math.min(30_000, config.checkpoint.timeoutMs),
    ),
  );
  const endOf = new Map(targets.map((t, i) => [t.changelogPartition, ends[i] as number]));
  const reader = committedRecordReader({
    bootstrapServers: config.kafkaBootstrap,
    clientId: `weir-${config.job}-${clientSuffix}`,
    settings: config.kafkaSecurity,
    warn: (message) => log.warn(message),
  });
  try {
    return await replayChangelog(reader, topic, targets, endOf, {
      timeoutMs: Math.max(120_000, config.checkpoint.timeoutMs),
      now: deps.now,
    });
  } finally {
    await reader.close();
  }
}
