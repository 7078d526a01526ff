import type { Logger } from 'pino';
import { otherRunsRepartitionTopics, repartitionTopic } from '../../api/names.ts';
import type { KafkaAdmin } from '../../kafka/admin.ts';
import { withKafkaRetries } from '../../kafka/errors.ts';
import { RuntimeError } from '../errors.ts';
import type { StreamTaskDeps } from '../task/task-deps.ts';
import type { RepartitionRoute } from './route.ts';

/**
 * Repartition topics keep records for a week: a downstream stage reads them
 * within its checkpoint interval, and a week outlasts any outage a job
 * recovers from. Compaction would drop records of the same key.
 */
export const repartitionTopicConfig = {
  'cleanup.policy': 'delete',
  'retention.ms': String(7 * 24 * 3_600_000),
};

/**
 * The partition counts of the stage's input, and where its output goes.
 * Repartition topics have as many partitions as the job's widest source
 * topic, so a rescale up to that width moves partitions and never splits
 * state; they are created here, by whichever task gets there first, before
 * any task reads or writes them.
 */
export async function inputPartitions(
  deps: StreamTaskDeps,
  newAdmin: () => KafkaAdmin,
  log: Logger,
): Promise<{ counts: Map<string, number>; route: RepartitionRoute | undefined }> {
  const { config, job, stage, index } = deps;
  const admin = newAdmin();
  try {
    const sources = new Map<string, number>();
    for (const topic of job.source.topics) sources.set(topic, await admin.partitionCount(topic));
    const width = Math.max(...sources.values());
    const ensure = async (operatorId: string) => {
      const name = repartitionTopic(config.namespace, config.job, config.runId, operatorId);
      if (name.length > 249) {
        throw new RuntimeError(
          'REPARTITION_TOPIC_NAME_TOO_LONG',
          `repartition topic ${name} is longer than Kafka's 249 characters; shorten the job's name or the keyBy id "${operatorId}"`,
          false,
        );
      }
      await withKafkaRetries(() =>
        admin.ensureTopic({ name, partitions: width, replicationFactor: -1, config: repartitionTopicConfig }),
      );
      return name;
    };
    const route =
      stage.output.kind === 'repartition'
        ? {
            topic: await ensure(stage.output.id),
            partitions: width,
            fromTask: index,
            tasks: config.parallelism,
          }
        : undefined;
    if (stage.input.kind === 'repartition') {
      return { counts: new Map([[await ensure(stage.input.id), width]]), route };
    }
    if (index === 0 && stage.index === 0 && job.stages.length > 1)
      await dropOtherRunsTopics(deps, admin, log);
    return { counts: sources, route };
  } finally {
    admin.disconnect();
  }
}

/** Deletes the repartition topics of the job's earlier runs; a failure costs disk space and is retried next start. */
async function dropOtherRunsTopics(deps: StreamTaskDeps, admin: KafkaAdmin, log: Logger): Promise<void> {
  const { config } = deps;
  try {
    const doomed = otherRunsRepartitionTopics(
      await admin.listTopics(),
      config.namespace,
      config.job,
      config.runId,
    );
    for (const topic of doomed) await admin.deleteTopic(topic);
    if (doomed.length) log.info({ topics: doomed }, 'deleted the repartition topics of earlier runs');
  } catch (error) {
    log.warn({ err: error }, 'could not delete the repartition topics of earlier runs');
  }
}
