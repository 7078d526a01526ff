import type { Logger } from 'pino';
import { changelogTopic, otherRunsInternalTopics, repartitionTopic } from '../../api/names.ts';
import type { KafkaAdmin } from '../../kafka/admin.ts';
import { withKafkaRetries } from '../../kafka/errors.ts';
import { statefulStepIds } from '../../sdk/pipeline.ts';
import { RuntimeError } from '../errors.ts';
import type { RepartitionRoute } from '../repartition/route.ts';
import { ChangelogRoute, changelogTopicConfig } from '../state/changelog.ts';
import { joinInputsRead } from './join-inputs.ts';
import { checkCopartitioned } from './join-partitions.ts';
import type { StreamTaskDeps } from './task-deps.ts';

/** The stage's input partition counts, and the internal topics it writes. */
export interface StageTopics {
  counts: Map<string, number>;
  /** The repartition topic the stage writes, when it ends in a keyBy. */
  route: RepartitionRoute | undefined;
  /** The stage's changelog, when its state is logged. */
  changelog: ChangelogRoute | undefined;
}

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
  options: { dropOtherRuns: boolean } = { dropOtherRuns: true },
): Promise<StageTopics> {
  const { config, job, stage, index } = deps;
  const admin = newAdmin();
  try {
    const sources = new Map<string, number>();
    for (const topic of job.source.topics) sources.set(topic, await admin.partitionCount(topic));
    const width = Math.max(...sources.values());
    for (const join of joinInputsRead(job, stage))
      sources.set(join.topic, await admin.partitionCount(join.topic));
    checkCopartitioned(stage, sources);
    const ensure = async (operatorId: string) => {
      const name = repartitionTopic(config.namespace, config.job, config.runId, operatorId);
      await ensureInternalTopic(admin, 'repartition', name, operatorId, width, repartitionTopicConfig);
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
    const counts =
      stage.input.kind === 'repartition' ? new Map([[await ensure(stage.input.id), width]]) : sources;
    if (options.dropOtherRuns && index === 0 && stage.index === 0)
      await dropOtherRunsTopics(deps, admin, log);
    return { counts, route, changelog: await ensureChangelog(deps, admin, counts) };
  } finally {
    admin.disconnect();
  }
}

/**
 * The stage's changelog topic, when its state is logged (a stateful stage
 * under exactly-once): created with one partition per input partition, named
 * after the operator the stage reads from.
 */
async function ensureChangelog(
  deps: StreamTaskDeps,
  admin: KafkaAdmin,
  counts: ReadonlyMap<string, number>,
): Promise<ChangelogRoute | undefined> {
  const { config, job, stage } = deps;
  if (config.checkpoint.mode !== 'exactly-once' || statefulStepIds(stage).length === 0) return undefined;
  const operatorId = stage.input.kind === 'repartition' ? stage.input.id : job.sourceId;
  const name = changelogTopic(config.namespace, config.job, config.runId, operatorId);
  const route = new ChangelogRoute(name, counts);
  await ensureInternalTopic(admin, 'changelog', name, operatorId, route.partitions, changelogTopicConfig);
  return route;
}

async function ensureInternalTopic(
  admin: KafkaAdmin,
  kind: 'repartition' | 'changelog',
  name: string,
  operatorId: string,
  partitions: number,
  config: Record<string, string>,
): Promise<void> {
  if (name.length > 249) {
    throw new RuntimeError(
      kind === 'repartition' ? 'REPARTITION_TOPIC_NAME_TOO_LONG' : 'CHANGELOG_TOPIC_NAME_TOO_LONG',
      `${kind} topic ${name} is longer than Kafka's 249 characters; shorten the job's name or the operator id "${operatorId}"`,
      false,
    );
  }
  await withKafkaRetries(() => admin.ensureTopic({ name, partitions, replicationFactor: -1, config }));
}

/** Deletes the internal topics of the job's earlier runs; a failure costs disk space and is retried next start. */
async function dropOtherRunsTopics(deps: StreamTaskDeps, admin: KafkaAdmin, log: Logger): Promise<void> {
  const { config } = deps;
  try {
    const { namespace, job, runId, warmFromRun } = config;
    // A warm upgrade's tasks replay the old run's changelog while this one starts: its topics stay until a
    // later start of this task without WEIR_WARM_FROM_RUN (a restart of the run, or the next upgrade).
    const doomed = otherRunsInternalTopics(await admin.listTopics(), namespace, job, runId).filter(
      (topic) => !warmFromRun || otherRunsInternalTopics([topic], namespace, job, warmFromRun).length > 0,
    );
    for (const topic of doomed) await admin.deleteTopic(topic);
    if (doomed.length) log.info({ topics: doomed }, 'deleted the internal topics of earlier runs');
  } catch (error) {
    log.warn({ err: error }, 'could not delete the internal topics of earlier runs');
  }
}
