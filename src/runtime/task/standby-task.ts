import type { Logger } from 'pino';
import type { StandbyTaskDocument } from '../../api/control-api.ts';
import { KafkaAdmin } from '../../kafka/admin.ts';
import { AssignedConsumer, committedRecordReader } from '../../kafka/assigned-consumer.ts';
import { withKafkaRetries } from '../../kafka/errors.ts';
import type { RecordFetcher } from '../../kafka/wire/record-fetcher.ts';
import { backoffMs, delay } from '../../retry.ts';
import { taskLabel } from '../metrics.ts';
import type { ChangelogRoute } from '../state/changelog.ts';
import { decodeChangelogKey } from '../state/changelog-format.ts';
import type { PartitionStores } from '../state/partition-stores.ts';
import { ownedPartitions } from './assignment.ts';
import { restorePartitions } from './partition-runtime.ts';
import { inputPartitions } from './stage-topics.ts';
import type { StreamTaskDeps } from './task-deps.ts';
import { openTaskState, type TaskStateStorage } from './task-state.ts';
import type { WarmState } from './warm-state.ts';
import { warmSource } from './warm-upgrade.ts';

/**
 * A standby is ready (its pod's readiness probe) once it has loaded its
 * snapshots and is at most this many changelog records behind: KIP-441's
 * acceptable.recovery.lag. A promotion of a standby further behind still
 * works; it replays more.
 */
export const standbyReadyLag = 10_000;

interface Tailed {
  id: string;
  changelogPartition: number;
  stores: PartitionStores;
  /** The offset after the last changelog record applied: where a promotion's replay resumes. */
  next: number;
}

/** How often the changelog's committed end is asked for, to report the lag. */
const endCheckMs = 1_000;

/**
 * A standby writes its cache to its store after this many changelog records
 * (a promotion then writes at most this many entries before its first commit),
 * and once no record came for settleWhenQuietMs.
 */
const settleEvery = 50_000;
const settleWhenQuietMs = 1_000;

/**
 * One task's standby (issue 32): a warm copy of its partitions' state, kept
 * in its own store by tailing the stage's changelog under read_committed, so
 * it holds exactly what committed transactions logged. It never writes to
 * Kafka or S3 and fences nothing: the active task runs undisturbed. Promoted,
 * it hands its stores to the task (handOver), whose restore then fences the
 * earlier holder of the transactional id and replays only the changelog's
 * tail from where this left off.
 *
 * It starts from the snapshots the committed offsets name, as a restore does.
 * A run restored from a savepoint has no committed offsets until its first
 * checkpoint; the standby waits for them. A stage without state (no
 * changelog) has nothing to warm.
 */
export class StandbyTask {
  private readonly deps: StreamTaskDeps;
  private readonly log: Logger;
  /** The task's metrics label. */
  readonly label: string;
  private current: StandbyTaskDocument['state'] = 'waiting';
  private state: TaskStateStorage | undefined;
  private tailed: Tailed[] = [];
  private reader: RecordFetcher | undefined;
  private consumer: AssignedConsumer | undefined;
  private topic = '';
  private route: ChangelogRoute | undefined;
  private lagRecords: number | null = null;
  private applied = 0;
  /** Every partition's snapshot is in the store: what the changelog's tail is replayed onto. */
  private loaded = false;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(deps: StreamTaskDeps) {
    this.deps = deps;
    this.label = taskLabel(deps.stage.index, deps.index);
    this.log = deps.log.child({ task: this.label, role: 'standby' });
  }

  /** Starts warming in the background; a failure that retrying cannot mend is passed to `onFailure`. */
  start(onFailure: (error: unknown) => void): void {
    this.loop = this.warm().catch((error: unknown) => {
      if (!this.stopped) onFailure(error);
    });
  }

  get ready(): boolean {
    if (this.current === 'idle') return true;
    return this.current === 'tailing' && this.lagRecords !== null && this.lagRecords <= standbyReadyLag;
  }

  status(): StandbyTaskDocument {
    return {
      stage: this.deps.stage.index,
      task: this.deps.index,
      state: this.current,
      lag: this.lagRecords,
      applied: this.applied,
    };
  }

  /** The changelog records behind (for metrics); null before it is known. */
  lag(): number | null {
    return this.lagRecords;
  }

  /**
   * Stops tailing and gives the warm state to the promoted task, which owns
   * it from then on. A standby still loading its snapshots finishes the load
   * first (restoring them again would take as long). Undefined when there is
   * none to give (waiting for a first commit, a load that failed, a stage
   * without state), and the task then restores as after a restart.
   */
  async handOver(): Promise<WarmState | undefined> {
    await this.stop(false);
    const warm = this.state !== undefined && this.loaded;
    if (!warm || !this.state) {
      await this.consumer?.disconnect().catch(() => undefined);
      this.consumer = undefined;
      await this.state?.close().catch(() => undefined);
      this.state = undefined;
      return undefined;
    }
    const partitions = new Map(
      this.tailed.map((t) => [t.id, { stores: t.stores, changelogFrom: t.next }] as const),
    );
    const state = this.state;
    this.state = undefined;
    const { warmFromRun } = this.deps.config;
    const offsets = this.consumer;
    this.consumer = undefined;
    if (!warmFromRun || !this.route) await offsets?.disconnect().catch(() => undefined);
    return {
      state,
      partitions,
      ...(warmFromRun && this.route
        ? { fromRun: { runId: warmFromRun, changelog: this.route, ...(offsets ? { offsets } : {}) } }
        : {}),
    };
  }

  /** Stops tailing and releases the store (a standby TaskManager that stops). */
  async close(): Promise<void> {
    await this.stop(true);
  }

  private async stop(releaseState: boolean): Promise<void> {
    this.stopped = true;
    await this.reader?.close().catch(() => undefined);
    await this.loop;
    // A warm upgrade's hand-over gives its client of the old run's offset group to the check that follows
    // (warm-upgrade.ts); any other does not wait for it to leave (a round trip): the task opens its own.
    const kept = !releaseState && this.deps.config.warmFromRun !== undefined;
    const leaving = kept ? undefined : this.consumer?.disconnect().catch(() => undefined);
    if (releaseState) await leaving;
    if (!kept) this.consumer = undefined;
    if (releaseState) {
      await this.state?.close().catch(() => undefined);
      this.state = undefined;
    }
    this.current = 'closed';
  }

  private async warm(): Promise<void> {
    // A warm upgrade's standby warms from the old version's run: its offset group, changelog and
    // repartition topics. Its own run starts only once it is promoted.
    const source = warmSource(this.deps);
    const { config, stage, index } = source;
    const admin = () =>
      new KafkaAdmin(config.kafkaBootstrap, {
        clientId: `weir-t${index}-standby-admin`,
        settings: config.kafkaSecurity,
      });
    // A standby deletes nothing: the earlier runs' topics are the active task 0's to drop.
    const { counts, changelog } = await inputPartitions(source, admin, this.log, { dropOtherRuns: false });
    if (!changelog) {
      this.current = 'idle';
      return;
    }
    this.topic = changelog.topic;
    this.route = changelog;
    const owned = ownedPartitions(counts, index, config.parallelism);
    const consumer = await AssignedConsumer.connect({
      bootstrapServers: config.kafkaBootstrap,
      groupId: config.offsetGroup, // the warmed run's
      clientId: `weir-${config.job}-standby-${stage.index}-${index}`,
      isolation: 'read_committed',
      settings: config.kafkaSecurity,
      warn: (message) => this.log.warn(message),
    });
    this.consumer = consumer;
    const committed = await this.firstCommit(consumer, owned);
    if (this.stopped || !committed) return;
    this.current = 'loading';
    const loadStarted = this.deps.now();
    const state = openTaskState(config.state, {
      stage: stage.index,
      task: index,
      tasksInProcess: config.tasks.length * this.deps.job.stages.length,
    });
    this.state = state;
    const partitions = await restorePartitions(committed, this.deps.storage, state);
    this.tailed = partitions.map((p) => ({
      id: p.id,
      changelogPartition: changelog.partitionOf(p.tp.topic, p.tp.partition),
      stores: p.stores,
      next: p.pointer?.changelogFrom ?? 0,
    }));
    this.loaded = true;
    if (this.deps.config.warmFromRun) {
      // The new run's internal topics are made now, not at the promotion: a topic created then has no
      // partition leader for a second or more, and the new run's first commit would wait for one.
      const newRun = await inputPartitions(this.deps, admin, this.log, { dropOtherRuns: false });
      this.log.info(
        { changelog: newRun.changelog?.topic },
        "standby: the new run's internal topics are in place",
      );
    }
    this.log.info(
      { partitions: this.tailed.length, ms: this.deps.now() - loadStarted },
      'standby: snapshots loaded; tailing the changelog',
    );
    await this.tail();
  }

  /**
   * The committed offsets of the owned partitions, read without fencing.
   * A run restored from a savepoint commits none before its first
   * checkpoint: until then, this waits.
   */
  private async firstCommit(consumer: AssignedConsumer, owned: { topic: string; partition: number }[]) {
    for (let attempt = 1; !this.stopped; attempt++) {
      const committed = owned.length ? await withKafkaRetries(() => consumer.committed(owned)) : [];
      // A warm upgrade's old run may have started from a savepoint too, and this cannot tell: it waits the same.
      const { restoreSavepoint, warmFromRun } = this.deps.config;
      const waiting =
        (restoreSavepoint !== undefined || warmFromRun !== undefined) &&
        committed.length > 0 &&
        committed.every((c) => c.offset < 0);
      if (!waiting) return committed;
      await delay(backoffMs(attempt, 2_000));
    }
    return undefined;
  }

  private async tail(): Promise<void> {
    const { config } = this.deps;
    const reader = committedRecordReader({
      bootstrapServers: config.kafkaBootstrap,
      clientId: `weir-${config.job}-standby-changelog`,
      settings: config.kafkaSecurity,
      warn: (message) => this.log.warn(message),
    });
    this.reader = reader;
    if (this.stopped) {
      await reader.close().catch(() => undefined);
      return;
    }
    const byPartition = new Map(this.tailed.map((t) => [t.changelogPartition, t]));
    reader.assign(
      this.tailed.map((t) => ({ topic: this.topic, partition: t.changelogPartition, offset: t.next })),
    );
    this.current = 'tailing';
    let endCheckedAt = 0;
    let unsettled = 0;
    let lastRecordAt = 0;
    while (!this.stopped) {
      const records = await reader.consume(10_000, 200);
      for (const record of records) {
        const target = byPartition.get(record.partition);
        if (!target || record.offset < target.next) continue;
        const where = `${this.topic}[${record.partition}]@${record.offset}`;
        const { store, key } = decodeChangelogKey(where, record.key);
        target.stores.replay(store, key, record.value ?? undefined);
        target.next = record.offset + 1;
        this.applied++;
      }
      const now = this.deps.now();
      if (records.length) {
        unsettled += records.length;
        lastRecordAt = now;
        this.deps.metrics.standbyApplied.inc({ task: this.label }, records.length);
      }
      // What the cache holds goes to the store every settleEvery records, and once the tail is quiet: left in
      // the cache, a long tail would all be written by the promoted task's first checkpoint, on the path of the
      // first output (measured: 1.5 s for 400,000 entries). Not at every batch: the cache folds repeated
      // changes of a key into one write (settling each batch cost the standby 0.44× the active's CPU, not 0.29×).
      if (unsettled >= settleEvery || (unsettled > 0 && now - lastRecordAt >= settleWhenQuietMs)) {
        this.state?.settle();
        unsettled = 0;
      }
      if (now - endCheckedAt >= endCheckMs && !this.stopped) {
        endCheckedAt = now;
        await this.measureLag(reader).catch((error: unknown) =>
          this.log.debug({ err: error }, 'standby: changelog end not read this time'),
        );
      }
    }
  }

  /**
   * Committed records not yet applied: the end under read_committed (the last
   * stable offset) less the fetch position (which passes transaction markers
   * and aborted records too), summed.
   */
  private async measureLag(reader: RecordFetcher): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    const ends = await consumer.endOffsets(
      this.tailed.map((t) => ({ topic: this.topic, partition: t.changelogPartition })),
      5_000,
    );
    this.lagRecords = this.tailed.reduce((sum, t, i) => {
      const position = Math.max(t.next, reader.position(this.topic, t.changelogPartition) ?? t.next);
      return sum + Math.max(0, (ends[i] ?? 0) - position);
    }, 0);
  }
}
