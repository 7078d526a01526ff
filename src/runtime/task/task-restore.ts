import type { Logger } from 'pino';
import { transactionalId } from '../../api/names.ts';
import { KafkaAdmin } from '../../kafka/admin.ts';
import { AssignedConsumer, type CommittedOffset } from '../../kafka/assigned-consumer.ts';
import { withKafkaRetries } from '../../kafka/errors.ts';
import { TransactionalProducer } from '../../kafka/transactional-producer.ts';
import type { OffsetReset } from '../../kafka/wire/record-fetcher.ts';
import type { CheckpointStorage } from '../../storage/checkpoint-storage.ts';
import { decodeCommitMetadata } from '../checkpoint/commit-metadata.ts';
import { awaitLayout, fenceLayout } from '../checkpoint/layout.ts';
import type { SavepointManifest } from '../checkpoint/savepoint-manifest.ts';
import type { ChangelogRoute } from '../state/changelog.ts';
import type { PartitionStores } from '../state/partition-stores.ts';
import { allOrNone } from './all-or-none.ts';
import { ownedPartitions, partitionId, type TopicPartition } from './assignment.ts';
import { replayToCommittedEnd } from './changelog-replay.ts';
import { readsJoinInputs } from './join-partitions.ts';
import {
  adoptKeptStore,
  type KeptStoreRecord,
  keptStoreMismatch,
  takeKeptStoreRecord,
} from './kept-store.ts';
import { PartitionRuntime, restorePartitions } from './partition-runtime.ts';
import { dropUnknownState, savepointOffsets } from './savepoint-restore.ts';
import { StageExecutor } from './stage-executor.ts';
import { inputPartitions } from './stage-topics.ts';
import type { OpenedTask, StreamTaskDeps } from './task-deps.ts';
import { openTaskState, type TaskStateStorage, taskStatePath } from './task-state.ts';
import type { WarmRestore, WarmState } from './warm-state.ts';
import { catchUpWarmUpgrade } from './warm-upgrade.ts';

/**
 * Opens a task: makes sure the stage's repartition topics exist, fences
 * earlier attempts of the task (initialising its transactional id), reads the
 * committed offsets and the snapshots they name (or, for a new run, the
 * savepoint's), and assigns the owned partitions at their positions.
 */
export async function openTask(
  deps: StreamTaskDeps,
  label: string,
  log: Logger,
  onReset: (reset: OffsetReset) => void = () => undefined,
): Promise<OpenedTask> {
  const { config, job, stage, index } = deps;
  const exactlyOnce = config.checkpoint.mode === 'exactly-once';
  // A store kept on a persistent volume by a graceful stop: its record is taken (removed) before anything
  // is written, whether or not it is used.
  const storePath =
    config.state.localRecovery && config.state.store === 'disk'
      ? taskStatePath(config.state, { stage: stage.index, task: index })
      : undefined;
  const kept = storePath ? takeKeptStoreRecord(storePath) : {};
  if (kept.problem)
    log.warn({ problem: kept.problem }, 'kept store: its record does not read; restoring without it');
  const admin = () =>
    new KafkaAdmin(config.kafkaBootstrap, {
      clientId: `weir-t${index}-admin`,
      settings: config.kafkaSecurity,
    });
  const { checkpoint } = config;
  const id = exactlyOnce
    ? transactionalId(config.namespace, config.job, config.runId, stage.index, index)
    : undefined;
  // Task 0 of stage 0 fences the earlier layouts (of this run and of the run before) and records its own
  // (layout.ts); every other task waits for that record before it initialises its id, so none reads offsets
  // or writes output while a zombie of an earlier layout may still commit.
  const coordinator = index === 0 && stage.index === 0;
  const layoutFenced =
    exactlyOnce && !coordinator
      ? awaitLayout(deps.storage, config, job.stages.length, log, {
          timeoutMs: Math.max(120_000, checkpoint.timeoutMs),
          now: deps.now,
        })
      : Promise.resolve();
  // The three connections are made at once (each is a round trip or more to the brokers): a restart waits
  // for the slowest, not their sum. Offsets are read only after the producer is initialised, which fences any
  // earlier attempt of this task first.
  const connectingAt = deps.now();
  // A promoted standby stops tailing while the connections are made; its stores are taken over below.
  const handingOver = deps.warm?.() ?? Promise.resolve(undefined);
  const [inputs, producer, consumer] = await allOrNone(
    [
      inputPartitions(deps, admin, log),
      layoutFenced.then(() =>
        TransactionalProducer.connect({
          bootstrapServers: config.kafkaBootstrap,
          ...(id ? { transactionalId: id } : {}),
          clientId: `weir-${config.job}-${label}`,
          transactionTimeoutMs: Math.min(
            900_000,
            Math.max(
              60_000,
              checkpoint.intervalMs * (checkpoint.tolerableFailures + 2) + checkpoint.timeoutMs,
            ),
          ),
          settings: { ...config.kafkaSecurity, 'linger.ms': 5 },
          fenceFirst: {
            onFenced: (result) =>
              result.fenced
                ? log.info(
                    { attempts: result.attempts, ms: result.ms },
                    'fenced the earlier holder of the transactional id',
                  )
                : log.warn(
                    { attempts: result.attempts, ms: result.ms, why: result.why },
                    'could not fence the transactional id ahead of the producer; its initialisation will',
                  ),
          },
        }),
      ),
      AssignedConsumer.connect({
        bootstrapServers: config.kafkaBootstrap,
        groupId: config.offsetGroup,
        clientId: `weir-${config.job}-${label}`,
        isolation: 'read_committed',
        settings: config.kafkaSecurity,
        warn: (message) => log.warn(message),
        offsetOutOfRange: config.offsetOutOfRange,
        onReset: (reset) => {
          deps.metrics.offsetResets.inc({ task: label, policy: reset.policy });
          onReset(reset);
          log.warn(
            { ...reset, code: 'KAFKA_OFFSET_RESET' },
            reset.reason === 'truncated'
              ? 'log truncated under the position: moved back to where it diverged by spec.kafka.offsetOutOfRange'
              : 'offset outside the log: moved by spec.kafka.offsetOutOfRange',
          );
        },
      }),
    ] as const,
    [undefined, (p) => p.disconnect(), (c) => c.disconnect()],
  );
  // The restore's two halves apart (recovery is measured by them): Kafka's connections and fencing, then offsets and state.
  log.info({ ms: deps.now() - connectingAt }, 'connected to Kafka');
  const { counts, route } = inputs;
  const executor = new StageExecutor(job, stage, route);
  const owned = ownedPartitions(counts, index, config.parallelism);
  if (exactlyOnce && coordinator) await fenceLayout(deps.storage, config, job.stages.length, log);
  consumer.setConsumeTimeout(100);
  let committed = owned.length ? await readCommitted(consumer, admin, config.offsetGroup, owned) : [];
  const fromSavepoint = config.restoreSavepoint !== undefined && committed.every((c) => c.offset < 0);
  let restoreStorage = deps.storage;
  let manifest: SavepointManifest | undefined;
  if (fromSavepoint) {
    const restored = await savepointOffsets(deps, committed, log);
    committed = restored.offsets;
    restoreStorage = restored.storage;
    manifest = restored.manifest;
  }
  const handed = await handingOver;
  const { warm, report: warmRestore } = await usableWarmState(deps, handed, {
    fromSavepoint,
    manifest,
    ownStorage: restoreStorage === deps.storage,
    changelog: inputs.changelog,
    owned,
    log,
  });
  const keptRecord =
    kept.record && !warm
      ? usableKeptStore(kept.record, config.runId, committed, fromSavepoint, log)
      : undefined;
  const state =
    warm?.state ??
    openTaskState(
      config.state,
      { stage: stage.index, task: index, tasksInProcess: config.tasks.length * job.stages.length },
      { reuse: keptRecord !== undefined },
    );
  try {
    const opened = await restoreState(deps, { producer, consumer, executor, route, owned, id }, state, {
      committed,
      restoreStorage,
      fromSavepoint,
      changelog: inputs.changelog,
      warm,
      kept: keptRecord,
      log,
    });
    return warmRestore ? { ...opened, warmRestore } : opened;
  } catch (error) {
    await state.close().catch(() => undefined);
    throw error;
  }
}

/** The opened task's partitions, loaded into its state storage and brought up to the last commit. */
async function restoreState(
  deps: StreamTaskDeps,
  clients: Pick<OpenedTask, 'producer' | 'executor' | 'route' | 'owned'> & {
    consumer: AssignedConsumer;
    id: string | undefined;
  },
  state: TaskStateStorage,
  from: {
    committed: readonly CommittedOffset[];
    restoreStorage: CheckpointStorage;
    fromSavepoint: boolean;
    changelog: ChangelogRoute | undefined;
    warm: WarmState | undefined;
    kept: KeptStoreRecord | undefined;
    log: Logger;
  },
): Promise<OpenedTask> {
  const { config, job } = deps;
  const { committed, restoreStorage, fromSavepoint, changelog, warm, kept, log } = from;
  const { consumer } = clients;
  const partitions = warm
    ? takeOverWarm(committed, warm)
    : kept
      ? adoptKeptStore(kept, committed, state)
      : await restorePartitions(committed, restoreStorage, state);
  // With a changelog, a savepoint in the job's own storage can stand as the run's first sections: the run names
  // it (status.run.restoredFrom), which keeps it from being disposed of, and a background round stores the run's
  // own soon after. Otherwise (another job's storage, state dropped by allowNonRestoredState) the first
  // checkpoint copies the state into the run before it commits.
  const keepSavepointSections =
    changelog !== undefined && restoreStorage === deps.storage && !config.allowNonRestoredState;
  for (const runtime of partitions) {
    // Restored from a savepoint, the offsets are not yet committed to this run's group: the first checkpoint does it.
    if (fromSavepoint && runtime.pointer) {
      runtime.advanced = true;
      runtime.stores.dirty = true;
      if (keepSavepointSections) runtime.pointer = { ...runtime.pointer, changelogFrom: 0 };
      else runtime.snapshotRequired = true;
    }
    if (fromSavepoint && config.allowNonRestoredState) dropUnknownState(runtime, job);
  }
  if (changelog) {
    // A savepoint holds all of its state (warm stores were brought to it); the new run's changelog has nothing
    // yet to add.
    // A kept store holds the last commit's state: nothing was committed since, so nothing to replay.
    if (!fromSavepoint && !kept) await replayChangelogs(deps, consumer, changelog, partitions, log, warm);
    for (const runtime of partitions) runtime.stores.trackChanges();
  }
  if (readsJoinInputs(deps.stage)) await pinJoinStarts(consumer, partitions);
  consumer.assign(partitions.map((p) => ({ ...p.tp, offset: p.position ?? -2 /* OFFSET_BEGINNING */ })));
  const { id, ...opened } = clients;
  return { ...opened, partitions, changelog, state, transactionalId: id };
}

/**
 * The standby's warm state, when the promoted task can stand on it, and how
 * it was used (for the task's status). A standby of the task's own run: when
 * the run does not start from a savepoint, and the standby holds every
 * partition the task owns (the same layout, so always unless the stage has
 * no changelog). A warm upgrade's standby (of the old version's run): when
 * catchUpWarmUpgrade brings it to the savepoint the run starts from.
 * Anything else is released and the task restores cold, as after a restart.
 */
async function usableWarmState(
  deps: StreamTaskDeps,
  warm: WarmState | undefined,
  at: {
    fromSavepoint: boolean;
    manifest: SavepointManifest | undefined;
    ownStorage: boolean;
    changelog: ChangelogRoute | undefined;
    owned: TopicPartition[];
    log: Logger;
  },
): Promise<{ warm: WarmState | undefined; report: WarmRestore | undefined }> {
  if (!warm) return { warm: undefined, report: undefined };
  let why: string | undefined;
  if (warm.fromRun && at.fromSavepoint && at.manifest && at.changelog) {
    const caughtUp = await catchUpWarmUpgrade(
      deps,
      { ...warm, fromRun: warm.fromRun },
      {
        manifest: at.manifest,
        ownStorage: at.ownStorage,
        owned: at.owned,
        log: at.log,
      },
    ).catch((error: unknown) => ({
      why: `the old run's changelog could not be replayed: ${(error as Error).message}`,
    }));
    if ('state' in caughtUp) return { warm: caughtUp.state, report: { warm: true } };
    why = caughtUp.why;
  } else {
    const missing = at.owned.filter((tp) => !warm.partitions.has(partitionId(tp)));
    why = warm.fromRun
      ? 'the state was warmed from another run, and this run does not start from its savepoint'
      : at.fromSavepoint
        ? 'the run starts from a savepoint'
        : !at.changelog
          ? 'the stage has no changelog'
          : missing.length
            ? `it lacks partitions ${missing.map(partitionId).join(', ')}`
            : undefined;
  }
  if (!why) return { warm, report: { warm: true } };
  if (!(warm.fromRun && at.fromSavepoint && at.manifest && at.changelog))
    await warm.fromRun?.offsets?.disconnect().catch(() => undefined);
  at.log.warn({ why }, 'promoted standby: its warm state is not used; restoring from the snapshots');
  await warm.state.close().catch(() => undefined);
  return { warm: undefined, report: { warm: false, why } };
}

/** The kept store's record, when the store can stand for the committed state; otherwise why not, logged. */
function usableKeptStore(
  record: KeptStoreRecord,
  runId: string,
  committed: readonly CommittedOffset[],
  fromSavepoint: boolean,
  log: Logger,
): KeptStoreRecord | undefined {
  const why = fromSavepoint ? 'the run starts from a savepoint' : keptStoreMismatch(record, runId, committed);
  if (why) {
    log.warn({ why }, 'kept store: not reused; restoring from the snapshots and the changelog');
    return undefined;
  }
  log.info(
    { partitions: committed.length },
    'kept store: reused (its partitions are as committed); nothing downloaded',
  );
  return record;
}

/**
 * The owned partitions on the standby's stores, at their committed offsets
 * and pointers: the stores stand on an older commit, and the changelog's tail
 * from where the standby left off (replayChangelogs) brings them to this one.
 */
function takeOverWarm(committed: readonly CommittedOffset[], warm: WarmState): PartitionRuntime[] {
  return committed.map((c) => {
    const tp = { topic: c.topic, partition: c.partition };
    const id = partitionId(tp);
    const { stores } = warm.partitions.get(id) as { stores: PartitionStores };
    if (c.offset < 0) return new PartitionRuntime(tp, stores);
    return new PartitionRuntime(tp, stores, c.offset, decodeCommitMetadata(id, c.metadata));
  });
}

/**
 * Brings each restored partition up to its last commit: its changelog from
 * the offset its section covers to the committed end, read after this task
 * fenced every earlier writer of its partitions (its own id, and the layout's).
 */
async function replayChangelogs(
  deps: StreamTaskDeps,
  consumer: AssignedConsumer,
  changelog: ChangelogRoute,
  partitions: readonly PartitionRuntime[],
  log: Logger,
  warm: WarmState | undefined,
): Promise<void> {
  if (partitions.length === 0) return;
  const started = deps.now();
  const targets = partitions.map((p) => ({
    changelogPartition: changelog.partitionOf(p.tp.topic, p.tp.partition),
    from: warm?.partitions.get(p.id)?.changelogFrom ?? p.pointer?.changelogFrom ?? 0,
    stores: p.stores,
  }));
  const applied = await replayToCommittedEnd(deps, consumer, changelog.topic, targets, log, 'changelog');
  log.info(
    { topic: changelog.topic, records: applied, ms: deps.now() - started, warm: warm !== undefined },
    warm
      ? 'restore: the standby state replayed to the changelog committed end'
      : 'restore: changelog replayed to its committed end',
  );
}

/**
 * A consumer refused the offset group only times out (librdkafka retries
 * the refused coordinator lookup until its deadline). Before failing, an
 * admin request asks the broker, which says when the principal may not read
 * the group; any other failure is rethrown as it was.
 */
/** How long a read of committed offsets may take before the broker is asked whether the group is readable at all. */
const groupCheckAfterMs = 2_000;

/**
 * The committed offsets of the owned partitions. A principal without READ on
 * the offsets group does not fail the consumer's read: librdkafka retries the
 * refused coordinator lookup until the read's timeout (30 s), a restart's
 * worth of waiting for a cause the broker states at once. So a read that has
 * not answered within groupCheckAfterMs has the admin ask, and a refusal
 * fails the task then, naming the group; otherwise the read goes on.
 */
async function readCommitted(
  consumer: AssignedConsumer,
  admin: () => KafkaAdmin,
  group: string,
  owned: TopicPartition[],
): Promise<CommittedOffset[]> {
  const first = owned[0] as TopicPartition;
  const reading = withKafkaRetries(() => consumer.committed(owned)).catch((error: unknown) =>
    explainCommittedFailure(admin(), group, error, first),
  );
  let timer: NodeJS.Timeout | undefined;
  const refused = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const checking = admin();
      checking
        .checkGroupAccess(group, first)
        .catch(reject)
        .finally(() => checking.disconnect());
    }, groupCheckAfterMs);
  });
  try {
    return await Promise.race([reading, refused]);
  } finally {
    clearTimeout(timer);
  }
}

async function explainCommittedFailure(
  admin: KafkaAdmin,
  group: string,
  error: unknown,
  partition: TopicPartition,
): Promise<never> {
  try {
    await admin.checkGroupAccess(group, partition);
  } finally {
    admin.disconnect();
  }
  throw error;
}

/**
 * In a stage with joins, a source partition keeps state written by another
 * topic's records (join-partitions.ts), and a checkpoint commits that state
 * through the partition's own offset: so every partition needs a position
 * before it has read anything. A partition never read starts where reading
 * from the beginning would, the log start, now pinned.
 */
async function pinJoinStarts(
  consumer: AssignedConsumer,
  partitions: readonly PartitionRuntime[],
): Promise<void> {
  const unread = partitions.filter((p) => p.position === undefined);
  if (unread.length === 0) return;
  const starts = await withKafkaRetries(() =>
    consumer.startOffsets(
      unread.map((p) => p.tp),
      30_000,
    ),
  );
  unread.forEach((p, i) => {
    p.position = starts[i] as number;
  });
}
