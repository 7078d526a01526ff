import type { Logger } from 'pino';
import { offsetGroup, repartitionOperatorOf, repartitionTopic } from '../../api/names.ts';
import { AssignedConsumer } from '../../kafka/assigned-consumer.ts';
import { withKafkaRetries } from '../../kafka/errors.ts';
import type { SavepointManifest } from '../checkpoint/savepoint-manifest.ts';
import { partitionId, type TopicPartition } from './assignment.ts';
import { replayToCommittedEnd } from './changelog-replay.ts';
import type { StreamTaskDeps } from './task-deps.ts';
import type { WarmState } from './warm-state.ts';

/*
 * A warm upgrade (issue 32): the new version's pods start as standbys of the
 * old version's run (WEIR_WARM_FROM_RUN) and warm their stores from its
 * snapshots and changelog while it still runs. The old version then stops
 * with a savepoint, and the new run, promoted, restores from that savepoint
 * on the warm stores instead of downloading it, once it has checked that
 * they can stand for it:
 *
 *  - the savepoint was taken by the warmed run, in the job's own storage;
 *  - for every partition, the old run's committed offset is the one its
 *    savepoint recorded: the run committed nothing after its savepoint (its
 *    tasks stop right after it, and this task's layout fencing keeps any
 *    zombie of the old run from committing now);
 *  - the old run's changelog, replayed from where the standby left off to its
 *    committed end, then holds what the savepoint holds: the savepoint's own
 *    transaction logged every change its state has (a source stage), or the
 *    commit right after its cut did, with nothing consumed in between (a
 *    stage behind a repartition topic, whose upstream tasks stopped at their
 *    barriers).
 *
 * Anything else falls back to the cold restore from the savepoint's
 * sections, and the task says why in its status.
 */

/** The deps a warm upgrade's standby warms with: the old run's names; its own run is not started yet. */
export function warmSource(deps: StreamTaskDeps): StreamTaskDeps {
  const { config } = deps;
  const from = config.warmFromRun;
  if (!from) return deps;
  const { restoreSavepoint: _ignored, ...rest } = config;
  return {
    ...deps,
    config: { ...rest, runId: from, offsetGroup: offsetGroup(config.namespace, config.job, from) },
  };
}

/**
 * The warm state of a warm upgrade, brought to the savepoint's state and
 * keyed by this run's partitions; or why it cannot be (the caller releases
 * it and restores cold).
 */
export async function catchUpWarmUpgrade(
  deps: StreamTaskDeps,
  warm: WarmState & { fromRun: NonNullable<WarmState['fromRun']> },
  at: { manifest: SavepointManifest; ownStorage: boolean; owned: readonly TopicPartition[]; log: Logger },
): Promise<{ state: WarmState } | { why: string }> {
  // Whatever is decided, the standby's client of the old run's group is closed here.
  const { offsets } = warm.fromRun;
  try {
    return await checkAndReplay(deps, warm, at);
  } finally {
    await offsets?.disconnect().catch(() => undefined);
  }
}

async function checkAndReplay(
  deps: StreamTaskDeps,
  warm: WarmState & { fromRun: NonNullable<WarmState['fromRun']> },
  at: { manifest: SavepointManifest; ownStorage: boolean; owned: readonly TopicPartition[]; log: Logger },
): Promise<{ state: WarmState } | { why: string }> {
  const { config } = deps;
  const { runId: fromRun, changelog } = warm.fromRun;
  if (at.manifest.runId !== fromRun) {
    return { why: `savepoint was taken by run ${at.manifest.runId}, not by the warmed run ${fromRun}` };
  }
  if (!at.ownStorage) return { why: "the savepoint is in another job's storage" };
  const oldTopic = (topic: string) => {
    const keyBy = repartitionOperatorOf(topic, config.namespace, config.job, config.runId);
    return keyBy ? repartitionTopic(config.namespace, config.job, fromRun, keyBy) : topic;
  };
  const saved = new Map(at.manifest.partitions.map((p) => [`${p.topic}/${p.partition}`, p]));
  const pairs = at.owned.map((tp) => {
    const old = { topic: oldTopic(tp.topic), partition: tp.partition };
    const id = partitionId(old);
    return { tp, old, id, warm: warm.partitions.get(id), saved: saved.get(id) };
  });
  const unwarmed = pairs.filter((p) => !p.warm).map((p) => p.id);
  if (unwarmed.length) return { why: `no warm state for ${unwarmed.join(', ')}` };
  const unsaved = pairs.filter((p) => !p.saved).map((p) => p.id);
  if (unsaved.length) return { why: `the savepoint holds no ${unsaved.join(', ')}` };

  const consumer =
    warm.fromRun.offsets ??
    (await AssignedConsumer.connect({
      bootstrapServers: config.kafkaBootstrap,
      groupId: offsetGroup(config.namespace, config.job, fromRun),
      clientId: `weir-${config.job}-warm-check`,
      isolation: 'read_committed',
      settings: config.kafkaSecurity,
      warn: (message) => at.log.warn(message),
    }));
  try {
    const committed = pairs.length
      ? await withKafkaRetries(() => consumer.committed(pairs.map((p) => p.old)))
      : [];
    for (const [i, pair] of pairs.entries()) {
      const entry = pair.saved as NonNullable<typeof pair.saved>;
      const expected = entry.runOffset ?? entry.offset;
      const offset = committed[i]?.offset;
      if (!Number.isSafeInteger(expected) || offset !== expected) {
        return {
          why: `run ${fromRun} committed ${pair.id} at ${offset}, not at its savepoint's ${expected}`,
        };
      }
    }
    const targets = pairs.map((p) => ({
      changelogPartition: changelog.partitionOf(p.old.topic, p.old.partition),
      from: p.warm?.changelogFrom ?? 0,
      stores: (p.warm as NonNullable<typeof p.warm>).stores,
    }));
    const started = deps.now();
    const applied = await replayToCommittedEnd(
      deps,
      consumer,
      changelog.topic,
      targets,
      at.log,
      'warm-changelog',
    );
    at.log.info(
      { topic: changelog.topic, records: applied, ms: deps.now() - started, fromRun },
      'warm upgrade: the old run changelog replayed to its end; restoring the savepoint on the warm stores',
    );
  } finally {
    if (consumer !== warm.fromRun.offsets) await consumer.disconnect().catch(() => undefined);
  }
  return {
    state: {
      state: warm.state,
      partitions: new Map(
        pairs.map((p) => [
          partitionId(p.tp),
          { stores: (p.warm as NonNullable<typeof p.warm>).stores, changelogFrom: 0 },
        ]),
      ),
    },
  };
}
