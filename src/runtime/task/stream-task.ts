import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type TaskStatusDocument, totalLag } from '../../api/control-api.ts';
import { savepointPrefix } from '../../api/savepoint-ref.ts';
import { KafkaAdmin } from '../../kafka/admin.ts';
import { AssignedConsumer } from '../../kafka/assigned-consumer.ts';
import { withKafkaRetries } from '../../kafka/errors.ts';
import type { Message } from '../../kafka/native.ts';
import { TransactionalProducer } from '../../kafka/transactional-producer.ts';
import type { JobDefinition, StageDefinition } from '../../sdk/pipeline.ts';
import type { CheckpointStorage } from '../../storage/checkpoint-storage.ts';
import { BarrierAlignment, barrierHeader, fromTaskHeader } from '../checkpoint/barriers.ts';
import { encodeCommitMetadata, type PartitionPointer } from '../checkpoint/commit-metadata.ts';
import { abortStaleTransactions } from '../checkpoint/layout.ts';
import {
  otherRunsRepartitionTopics,
  repartitionTopic,
  savepointTaskPrefix,
  snapshotKey,
  taskStatePrefix,
  transactionalId,
} from '../checkpoint/paths.ts';
import { offsetsToCommit, planCheckpoint } from '../checkpoint/plan.ts';
import { objectsToDelete } from '../checkpoint/retention.ts';
import { uploadSnapshot } from '../checkpoint/snapshot-upload.ts';
import type { TaskManagerConfig } from '../config.ts';
import { RuntimeError } from '../errors.ts';
import { type OutputRecord, type RepartitionRoute, StageExecutor } from '../executor.ts';
import type { TaskMetrics } from '../metrics.ts';
import { raiseFloor } from '../time/watermarks.ts';
import { ownedPartitions, type TopicPartition } from './assignment.ts';
import { TaskEventTime, watermarkHeader } from './event-time.ts';
import { TaskLifecycle } from './lifecycle.ts';
import { type PartitionRuntime, restorePartitions } from './partition-runtime.ts';
import type { TaskProgress } from './progress-health.ts';
import { dropUnknownState, savepointOffsets } from './savepoint-restore.ts';

export interface CheckpointReport {
  stage: number;
  task: number;
  checkpointId: number;
  objectKey?: string;
  bytes: number;
  durationMs: number;
  partitions: { topic: string; partition: number; offset: number; pointer: PartitionPointer }[];
}

/** A task's part of GET /v1/status. */
export type TaskStatus = TaskStatusDocument;

/** How long a task ending for a failure waits for the broker to abort its open transaction. */
const failedAbortTimeoutMs = 1_500;

export interface StreamTaskDeps {
  config: TaskManagerConfig;
  index: number;
  job: JobDefinition;
  /** The stage this task runs; a TaskManager runs its task indexes of every stage. */
  stage: StageDefinition;
  storage: CheckpointStorage;
  /** The storage at another s3:// URL, with this job's endpoint and credentials (a savepoint of another job). */
  storageAt: (url: string) => CheckpointStorage;
  metrics: TaskMetrics;
  log: Logger;
  now: () => number;
}

/** How long barriers of a savepoint this task was not asked for hold records back (re-read after a restart). */
const unrequestedBarrierMs = 5_000;

/**
 * One task of one stage: owns partitions p mod N = index of the stage's input
 * (the source topics, or the repartition topic of the keyBy that begins the
 * stage), processes them through the stage's steps, and checkpoints by DESIGN.md's
 * protocol (snapshot to storage, offsets with pointers in the transaction,
 * commit). A failed snapshot upload keeps the transaction open and is retried
 * at the next interval, up to tolerableFailures; anything else fails the task
 * and the restart restores from the last commit.
 */
export class StreamTask {
  readonly index: number;
  readonly stage: number;
  readonly lifecycle: TaskLifecycle;
  private readonly deps: StreamTaskDeps;
  private readonly log: Logger;
  private executor: StageExecutor | undefined;
  /** The repartition topic this stage writes, once restore() made sure it exists. */
  private route: RepartitionRoute | undefined;
  /** Barrier alignment of a stage that reads a repartition topic. */
  private alignment: BarrierAlignment<Message> | undefined;
  private eventTime: TaskEventTime | undefined;
  /** The task's watermark as of the last batch boundary. */
  private watermark = Number.NEGATIVE_INFINITY;
  private readonly attempt = randomBytes(4).toString('hex');
  private readonly prefix: string;
  private readonly partitions = new Map<string, PartitionRuntime>();
  private consumer: AssignedConsumer | undefined;
  private producer: TransactionalProducer | undefined;
  private lastCheckpointId = 0;
  private lastCheckpoint: TaskStatus['lastCheckpoint'] = null;
  private committedAsOf: number | undefined;
  /** The end offsets of the previous idle check; cleared by anything read. */
  private idleEndOffsets: string | undefined;
  private failures = 0;
  private nextCheckpointAt = 0;
  /**
   * After restoring committed state (a restart, an upgrade, a savepoint), the
   * first batch is committed at once rather than at the interval: the stop held
   * output back, and the time to its first visible output is the job's downtime.
   */
  private commitFirstBatch = false;
  private stopRequested = false;
  /** Savepoints asked for over the control API; the run loop takes them between batches, never mid-batch. */
  private pendingSavepoints: {
    id: string;
    resolve: (r: CheckpointReport | undefined) => void;
    reject: (e: unknown) => void;
  }[] = [];
  readonly label: { task: string };

  constructor(deps: StreamTaskDeps) {
    this.deps = deps;
    this.index = deps.index;
    this.stage = deps.stage.index;
    this.label = { task: this.stage === 0 ? String(deps.index) : `s${this.stage}-t${deps.index}` };
    this.log = deps.log.child({ task: deps.index, stage: this.stage });
    const { namespace, job, runId } = deps.config;
    this.prefix = taskStatePrefix(namespace, job, runId, this.stage, deps.index);
    this.lifecycle = new TaskLifecycle((from, to) => this.log.info({ from, to }, `task ${from} → ${to}`));
  }

  private get exactlyOnce(): boolean {
    return this.deps.config.checkpoint.mode === 'exactly-once';
  }

  /** Reads committed offsets and the snapshots they name, and fences earlier attempts of this task. */
  async restore(): Promise<void> {
    this.lifecycle.to('restoring');
    const { config, job } = this.deps;
    const counts = await this.inputPartitions();
    const owned = ownedPartitions(counts, this.index, config.parallelism);
    const { checkpoint } = config;
    const id = this.exactlyOnce
      ? transactionalId(config.namespace, config.job, config.runId, this.stage, this.index)
      : undefined;
    // Initialising the transactional id first fences any earlier attempt before its state is read.
    this.producer = await TransactionalProducer.connect({
      bootstrapServers: config.kafkaBootstrap,
      ...(id ? { transactionalId: id } : {}),
      clientId: `weir-${config.job}-${this.label.task}`,
      transactionTimeoutMs: Math.min(
        900_000,
        Math.max(60_000, checkpoint.intervalMs * (checkpoint.tolerableFailures + 2) + checkpoint.timeoutMs),
      ),
      settings: { ...config.kafkaSecurity, 'linger.ms': 5 },
    });
    if (this.exactlyOnce && this.index === 0 && this.stage === 0) {
      await abortStaleTransactions(this.deps.storage, config, job.stages.length, this.log);
    }
    this.consumer = await AssignedConsumer.connect({
      bootstrapServers: config.kafkaBootstrap,
      groupId: config.offsetGroup,
      clientId: `weir-${config.job}-${this.label.task}`,
      isolation: 'read_committed',
      settings: config.kafkaSecurity,
    });
    this.consumer.setConsumeTimeout(100);
    const consumer = this.consumer;
    let committed = owned.length
      ? await withKafkaRetries(() => consumer.committed(owned)).catch((error: unknown) =>
          this.explainCommittedFailure(error, owned[0] as TopicPartition),
        )
      : [];
    const fromSavepoint = config.restoreSavepoint !== undefined && committed.every((c) => c.offset < 0);
    let restoreStorage = this.deps.storage;
    if (fromSavepoint) {
      const restored = await savepointOffsets(this.deps, committed, this.log);
      committed = restored.offsets;
      restoreStorage = restored.storage;
    }
    for (const runtime of await restorePartitions(committed, restoreStorage)) {
      // Restored from a savepoint, the offsets are not yet committed to this run's group: the first checkpoint does it.
      if (fromSavepoint && runtime.pointer) {
        runtime.advanced = true;
        // The first checkpoint copies the state into this run, so nothing it commits names the savepoint.
        runtime.stores.dirty = true;
      }
      if (fromSavepoint && config.allowNonRestoredState) dropUnknownState(runtime, job);
      this.partitions.set(runtime.id, runtime);
      if (runtime.pointer)
        this.lastCheckpointId = Math.max(this.lastCheckpointId, runtime.pointer.checkpointId);
    }
    this.consumer.assign(
      [...this.partitions.values()].map((p) => ({
        ...p.tp,
        offset: p.position ?? -2 /* OFFSET_BEGINNING */,
      })),
    );
    this.eventTime = new TaskEventTime(
      job,
      this.deps.stage,
      owned.length,
      config.parallelism,
      this.deps.now(),
    );
    this.eventTime.restore([...this.partitions.values()].map((p) => [p.id, p.stores]));
    if (this.deps.stage.input.kind === 'repartition') {
      this.alignment = new BarrierAlignment(
        owned.map((p) => p.partition),
        config.parallelism,
      );
    }
    if (this.exactlyOnce) await this.producer.begin();
    this.log.info(
      {
        partitions: [...this.partitions.keys()],
        restored: [...this.partitions.values()].filter((p) => p.pointer).length,
        checkpointId: this.lastCheckpointId,
        transactionalId: id,
      },
      'restored',
    );
    await this.sweep();
    this.committedAsOf = this.deps.now(); // nothing read yet: all of it is committed
    this.nextCheckpointAt = this.deps.now() + checkpoint.intervalMs;
    // Only a task that resumes committed work held output back; a fresh start commits at the interval.
    this.commitFirstBatch = [...this.partitions.values()].some((p) => p.pointer !== undefined);
    this.lifecycle.to('running');
  }

  /**
   * The partition counts of the stage's input. Repartition topics have as many
   * partitions as the job's widest source topic, so a rescale up to that
   * width moves partitions and never splits state; they are created here, by
   * whichever task gets there first, before any task reads or writes them.
   */
  private async inputPartitions(): Promise<Map<string, number>> {
    const { config, job, stage } = this.deps;
    const admin = this.admin();
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
          admin.ensureTopic({
            name,
            partitions: width,
            replicationFactor: -1,
            config: repartitionTopicConfig,
          }),
        );
        return name;
      };
      if (stage.output.kind === 'repartition') {
        this.route = { topic: await ensure(stage.output.id), partitions: width, fromTask: this.index };
      }
      this.executor = new StageExecutor(job, stage, this.route);
      if (stage.input.kind === 'source') {
        if (this.index === 0 && stage.index === 0 && job.stages.length > 1)
          await this.dropOtherRunsTopics(admin);
        return sources;
      }
      return new Map([[await ensure(stage.input.id), width]]);
    } finally {
      admin.disconnect();
    }
  }

  /** Deletes the repartition topics of the job's earlier runs; a failure costs disk space and is retried next start. */
  private async dropOtherRunsTopics(admin: KafkaAdmin): Promise<void> {
    const { config } = this.deps;
    try {
      const doomed = otherRunsRepartitionTopics(
        await admin.listTopics(),
        config.namespace,
        config.job,
        config.runId,
      );
      for (const topic of doomed) await admin.deleteTopic(topic);
      if (doomed.length) this.log.info({ topics: doomed }, 'deleted the repartition topics of earlier runs');
    } catch (error) {
      this.log.warn({ err: error }, 'could not delete the repartition topics of earlier runs');
    }
  }

  /** An admin client of this task, with the job's Kafka security settings; the caller disconnects it. */
  private admin(): KafkaAdmin {
    const { config } = this.deps;
    return new KafkaAdmin(config.kafkaBootstrap, {
      clientId: `weir-t${this.index}-admin`,
      settings: config.kafkaSecurity,
    });
  }

  /**
   * A consumer refused the offset group only times out (librdkafka retries
   * the refused coordinator lookup until its deadline). Before failing, an
   * admin request asks the broker, which says when the principal may not read
   * the group; any other failure is rethrown as it was.
   */
  private async explainCommittedFailure(error: unknown, partition: TopicPartition): Promise<never> {
    const admin = this.admin();
    try {
      await admin.checkGroupAccess(this.deps.config.offsetGroup, partition);
    } finally {
      admin.disconnect();
    }
    throw error;
  }

  /** Consumes and processes until stop() or a failure; checkpoints on the interval. */
  async run(): Promise<void> {
    const consumer = this.consumer as AssignedConsumer;
    while (!this.stopRequested) {
      const messages = this.partitions.size ? await consumer.consume(500) : [];
      if (!this.partitions.size) await new Promise((r) => setTimeout(r, 100));
      for (const message of messages) await this.admit(message);
      await this.advanceTime();
      if (this.alignment) await this.alignCuts();
      else {
        for (const request of this.pendingSavepoints.splice(0)) {
          await this.checkpoint(request.id).then(request.resolve, (error: unknown) => {
            request.reject(error);
            throw error;
          });
        }
      }
      const due = this.deps.now() >= this.nextCheckpointAt || (this.commitFirstBatch && messages.length > 0);
      // Records held behind a barrier were read but not processed: no commit may pass them.
      if (due && !this.alignment?.holding) {
        this.commitFirstBatch = false;
        await this.checkpoint();
        this.nextCheckpointAt = this.deps.now() + this.deps.config.checkpoint.intervalMs;
      }
    }
    for (const request of this.pendingSavepoints.splice(0)) {
      request.reject(
        new RuntimeError('TASK_STOPPING', 'the task stopped before the savepoint was taken', true),
      );
    }
  }

  /** A record just read: a barrier is noted, a record behind one is held, anything else is processed. */
  private async admit(message: Message): Promise<void> {
    const runtime = this.partitions.get(`${message.topic}/${message.partition}`);
    if (!runtime) return;
    if (this.alignment) {
      const { from, barrier, watermark } = repartitionHeaders(message);
      const admission = this.alignment.admit(message.partition, from, barrier, message, this.deps.now());
      if (admission !== 'process' || watermark !== undefined) {
        // Held records are processed before any commit (see run()), so the position may pass them.
        runtime.position = message.offset + 1;
        runtime.advanced = true;
        if (admission === 'process' && watermark !== undefined) {
          this.eventTime?.observeMarker(message.partition, from, watermark);
        }
        return;
      }
    }
    await this.process(runtime, message);
  }

  /**
   * At a batch boundary: the task's watermark moves on, and every
   * partition's timers that came due (by it or by the clock) fire. A partition
   * where timers fired keeps that watermark as its floor.
   */
  private async advanceTime(): Promise<void> {
    const executor = this.executor as StageExecutor;
    const now = this.deps.now();
    const eventTime = this.eventTime as TaskEventTime;
    this.watermark = eventTime.status(this.partitions.keys(), now).watermark;
    if (!executor.hasTimers) return;
    for (const runtime of this.partitions.values()) {
      const time = eventTime.timeIn(runtime.stores, this.watermark, now);
      const { outputs, fired } = executor.fireTimers(runtime.stores, time);
      if (fired) raiseFloor(runtime.stores, time.watermark);
      await this.send(outputs);
    }
  }

  private async process(runtime: PartitionRuntime, message: Message): Promise<void> {
    const executor = this.executor as StageExecutor;
    const eventTime = this.eventTime as TaskEventTime;
    const now = this.deps.now();
    const outputs = executor.process(
      { topic: message.topic, partition: message.partition, offset: String(message.offset) },
      message.timestamp ?? 0,
      message.key === undefined || message.key === null
        ? null
        : Buffer.isBuffer(message.key)
          ? message.key
          : Buffer.from(message.key),
      message.value ?? null,
      runtime.stores,
      eventTime.timeIn(runtime.stores, this.watermark, now),
    );
    eventTime.observeRecord(runtime.id, runtime.stores, executor.lastTimestamp, now);
    await this.send(outputs);
    runtime.position = message.offset + 1;
    runtime.advanced = true;
    this.deps.metrics.recordsIn.inc(this.label);
  }

  private async send(outputs: OutputRecord[]): Promise<void> {
    const producer = this.producer as TransactionalProducer;
    for (const out of outputs) {
      await producer.sendWhenQueued({
        topic: out.topic,
        ...(out.partition === undefined ? {} : { partition: out.partition }),
        ...(out.timestamp === undefined ? {} : { timestamp: out.timestamp }),
        key: out.key,
        value: out.value,
        headers: Object.entries(out.headers).map(([k, v]) => ({ [k]: v })),
      });
      if (out.topic === this.deps.job.sink.topic || out.topic === this.route?.topic)
        this.deps.metrics.recordsOut.inc(this.label);
      else this.deps.metrics.deadLetters.inc(this.label);
    }
  }

  /**
   * A stage that reads a repartition topic takes a savepoint at its cut: when
   * the barrier of every upstream task has arrived in every partition it owns
   * (barriers.ts). Alignments that time out, or that nobody asked for, are
   * given up and their held records processed.
   */
  private async alignCuts(): Promise<void> {
    const alignment = this.alignment as BarrierAlignment<Message>;
    const now = this.deps.now();
    for (const request of [...this.pendingSavepoints]) {
      if (!alignment.aligned(request.id)) continue;
      this.pendingSavepoints.splice(this.pendingSavepoints.indexOf(request), 1);
      await this.cut(request.id).then(request.resolve, (error: unknown) => {
        request.reject(error);
        throw error;
      });
    }
    const { timeoutMs } = this.deps.config.checkpoint;
    for (const id of alignment.expired(now, timeoutMs, unrequestedBarrierMs)) {
      const request = this.pendingSavepoints.find((r) => r.id === id);
      if (request) {
        this.pendingSavepoints.splice(this.pendingSavepoints.indexOf(request), 1);
        request.reject(
          new RuntimeError(
            'SAVEPOINT_ALIGNMENT_TIMEOUT',
            `savepoint ${id}: task ${this.label.task} did not get the barrier of every upstream task within ${timeoutMs} ms`,
            true,
          ),
        );
      }
      this.log.warn({ savepoint: id, held: alignment.heldCount }, 'gave up aligning a savepoint barrier');
      for (const message of alignment.release(id)) await this.admit(message);
    }
  }

  /**
   * The savepoint part of a task behind a repartition topic: its state at the
   * cut, written in full under the savepoint's prefix. The offsets it records
   * are 0: a run restored from it reads its own new repartition topic from the
   * start, where the restored upstream writes what came after the cut. The
   * barrier goes on downstream, the held records are processed, and a
   * checkpoint commits all of it.
   */
  private async cut(savepointId: string): Promise<CheckpointReport> {
    const started = this.deps.now();
    const alignment = this.alignment as BarrierAlignment<Message>;
    const { config, storage } = this.deps;
    const all = [...this.partitions.values()];
    const checkpointId = this.lastCheckpointId + 1;
    const snapshot = planCheckpoint(all, true).snapshot;
    let bytes = 0;
    let pointers = new Map<string, PartitionPointer>();
    let objectKey: string | undefined;
    if (snapshot.length) {
      objectKey = snapshotKey(this.savepointPrefix(savepointId), checkpointId, this.attempt);
      const upload = {
        task: `s${this.stage}/t${this.index}`,
        checkpointId,
        attempt: this.attempt,
        objectKey,
        timeoutMs: config.checkpoint.timeoutMs,
      };
      try {
        ({ bytes, pointers } = await uploadSnapshot(storage, upload, snapshot, this.log));
      } catch (error) {
        for (const message of alignment.release(savepointId)) await this.admit(message);
        throw new RuntimeError(
          'SAVEPOINT_FAILED',
          `savepoint ${savepointId}: task ${this.label.task} could not store its state: ${(error as Error).message}`,
          true,
          { cause: error },
        );
      }
    }
    await this.sendBarriers(savepointId);
    for (const message of alignment.release(savepointId)) await this.admit(message);
    await this.checkpoint();
    this.log.info({ savepoint: savepointId, objectKey, bytes }, 'savepoint: state at the barrier cut stored');
    return {
      stage: this.stage,
      task: this.index,
      checkpointId,
      ...(objectKey ? { objectKey } : {}),
      bytes,
      durationMs: this.deps.now() - started,
      partitions: all.flatMap((p) => {
        const pointer = pointers.get(p.id);
        return pointer ? [{ ...p.tp, offset: 0, pointer }] : [];
      }),
    };
  }

  /** A barrier for `savepointId` into every partition of the repartition topic this stage writes, if any. */
  private async sendBarriers(savepointId: string): Promise<void> {
    const route = this.route;
    if (!route) return;
    const producer = this.producer as TransactionalProducer;
    for (let partition = 0; partition < route.partitions; partition++) {
      await producer.sendWhenQueued({
        topic: route.topic,
        partition,
        key: null,
        value: null,
        headers: [{ [barrierHeader]: savepointId }, { [fromTaskHeader]: String(this.index) }],
      });
    }
  }

  /** This task's watermark (or "idle") into every partition of the repartition topic it writes. */
  private async sendMarkers(marker: string): Promise<void> {
    const route = this.route as RepartitionRoute;
    const producer = this.producer as TransactionalProducer;
    for (let partition = 0; partition < route.partitions; partition++) {
      await producer.sendWhenQueued({
        topic: route.topic,
        partition,
        key: null,
        value: null,
        headers: [{ [watermarkHeader]: marker }, { [fromTaskHeader]: String(this.index) }],
      });
    }
  }

  private savepointPrefix(savepointId: string): string {
    const { config } = this.deps;
    return savepointTaskPrefix(
      savepointPrefix(config.namespace, config.job, savepointId),
      this.stage,
      this.index,
    );
  }

  /** A savepoint taken by the run loop at the next batch boundary; undefined when its upload failed (tolerably). */
  savepoint(id: string): Promise<CheckpointReport | undefined> {
    if (this.lifecycle.state !== 'running' && this.lifecycle.state !== 'checkpointing') {
      return Promise.reject(
        new RuntimeError('TASK_NOT_RUNNING', `task ${this.index} is ${this.lifecycle.state}`, true),
      );
    }
    this.alignment?.request(id, this.deps.now());
    return new Promise((resolve, reject) => this.pendingSavepoints.push({ id, resolve, reject }));
  }

  /**
   * Snapshot → offsets with pointers in the transaction → commit. With a
   * savepoint id, every partition is written in full under the savepoint's
   * prefix, so the savepoint stands alone whatever retention does later.
   */
  async checkpoint(savepointId?: string): Promise<CheckpointReport | undefined> {
    // A final checkpoint while stopping stays in `stopping`; a periodic one passes through `checkpointing`.
    if (this.lifecycle.state === 'running') this.lifecycle.to('checkpointing');
    const started = this.deps.now();
    const { config, storage, metrics } = this.deps;
    const checkpointId = this.lastCheckpointId + 1;
    const all = [...this.partitions.values()];
    const plan = planCheckpoint(all, savepointId !== undefined);
    const changed = plan.snapshot;
    const marker = this.route
      ? this.eventTime?.markerDue(
          (this.eventTime as TaskEventTime).status(this.partitions.keys(), started),
          started,
          config.checkpoint.intervalMs,
        )
      : undefined;
    if (plan.empty && marker === undefined) {
      // Nothing was read since the last commit, so nothing was written either: no checkpoint to take. The task
      // counts as committed up to now only when the partition leaders confirm that nothing arrived: a task cut off
      // from Kafka reads nothing too, and must not look idle (health by progress, progress-health.ts).
      if (this.lifecycle.state === 'checkpointing' && (await this.idle())) this.committedAsOf = started;
      if (this.lifecycle.state === 'checkpointing') this.lifecycle.to('running');
      return undefined;
    }
    let objectKey: string | undefined;
    let bytes = 0;
    let newPointers = new Map<string, PartitionPointer>();
    if (changed.length) {
      objectKey = snapshotKey(
        savepointId ? this.savepointPrefix(savepointId) : this.prefix,
        checkpointId,
        this.attempt,
      );
      const upload = {
        task: `s${this.stage}/t${this.index}`,
        checkpointId,
        attempt: this.attempt,
        objectKey,
        timeoutMs: config.checkpoint.timeoutMs,
      };
      try {
        ({ bytes, pointers: newPointers } = await uploadSnapshot(storage, upload, changed, this.log));
      } catch (error) {
        return this.checkpointFailed(error);
      }
    }
    const offsets = offsetsToCommit(all, newPointers, savepointId !== undefined).map(
      ({ partition, offset, pointer }) => ({
        ...partition.tp,
        offset,
        pointer,
        metadata: encodeCommitMetadata(pointer),
      }),
    );
    this.log.info(
      { checkpointId, objectKey, offsets: offsets.length },
      'checkpoint: snapshot stored, committing',
    );
    const consumer = this.consumer as AssignedConsumer;
    const producer = this.producer as TransactionalProducer;
    if (savepointId) await this.sendBarriers(savepointId);
    if (marker !== undefined) await this.sendMarkers(marker);
    if (this.exactlyOnce) {
      if (offsets.length) await producer.sendOffsets(offsets, consumer);
      await producer.commit();
      await producer.begin();
    } else {
      await producer.flush();
      if (offsets.length) consumer.commitWithMetadata(offsets);
    }
    const committedIds = new Set(offsets.map((o) => `${o.topic}/${o.partition}`));
    for (const p of all) {
      const pointer = newPointers.get(p.id);
      if (pointer) {
        p.pointer = pointer;
        // After a savepoint the next checkpoint writes the state again under the run's own prefix: the
        // savepoint belongs to the user, who may delete it, and the run must not depend on it for long.
        p.stores.dirty = savepointId !== undefined;
      }
      if (committedIds.has(p.id)) p.advanced = false;
    }
    this.lastCheckpointId = checkpointId;
    if (marker !== undefined) this.eventTime?.markerSent(marker, started);
    this.committedAsOf = started;
    this.idleEndOffsets = undefined;
    this.failures = 0;
    const durationMs = this.deps.now() - started;
    this.lastCheckpoint = {
      id: checkpointId,
      at: new Date(this.deps.now()).toISOString(),
      durationMs,
      bytes,
    };
    metrics.checkpointDuration.observe(this.label, durationMs / 1000);
    metrics.checkpointBytes.inc(this.label, bytes);
    metrics.checkpointsCompleted.inc(this.label);
    this.log.info(
      { checkpointId, objectKey, bytes, durationMs, offsets: offsets.length },
      'checkpoint: committed',
    );
    if (this.lifecycle.state === 'checkpointing') this.lifecycle.to('running');
    await this.sweep();
    return {
      stage: this.stage,
      task: this.index,
      checkpointId,
      ...(objectKey ? { objectKey } : {}),
      bytes,
      durationMs,
      partitions: offsets.map(({ topic, partition, offset, pointer }) => ({
        topic,
        partition,
        offset,
        pointer,
      })),
    };
  }

  private checkpointFailed(error: unknown): undefined {
    this.failures++;
    this.deps.metrics.checkpointFailures.inc(this.label);
    const tolerable = this.deps.config.checkpoint.tolerableFailures;
    this.log.warn(
      { err: error, consecutiveFailures: this.failures, tolerableFailures: tolerable },
      'checkpoint failed; the transaction stays open and the next interval retries',
    );
    if (this.failures > tolerable) {
      throw new RuntimeError(
        'CHECKPOINT_FAILURES_EXCEEDED',
        `${this.failures} consecutive checkpoints failed (tolerableFailures ${tolerable}); last: ${(error as Error)?.message ?? String(error)}`,
        false,
        { cause: error },
      );
    }
    if (this.lifecycle.state === 'checkpointing') this.lifecycle.to('running');
    return undefined;
  }

  /**
   * Whether this task, having read nothing since its last commit, is idle:
   * the partition leaders answer, and their end offsets are where they were at
   * the previous idle check, so nothing arrived that the task failed to read.
   * Comparing the broker's answers with each other (not with what fetches
   * saw) holds whatever transaction markers and open transactions the input has.
   */
  private async idle(): Promise<boolean> {
    const consumer = this.consumer;
    if (!consumer) return false;
    try {
      const ends = (
        await consumer.endOffsets(
          [...this.partitions.values()].map((p) => p.tp),
          Math.min(5_000, this.deps.config.checkpoint.timeoutMs),
        )
      ).join(',');
      const unchanged = ends === this.idleEndOffsets;
      this.idleEndOffsets = ends;
      return unchanged;
    } catch (error) {
      this.idleEndOffsets = undefined;
      this.log.warn({ err: error }, 'progress: the partition leaders did not answer this idle task');
      return false;
    }
  }

  /** Deletes this task's snapshot objects that no pointer references and that fall outside the retained window. */
  private async sweep(): Promise<void> {
    try {
      const referenced = new Set(
        [...this.partitions.values()].flatMap((p) => (p.pointer ? [p.pointer.objectKey] : [])),
      );
      const listed = await this.deps.storage.list(this.prefix);
      const doomed = objectsToDelete(
        listed,
        referenced,
        this.lastCheckpointId,
        this.deps.config.checkpoint.retained,
      );
      for (const key of doomed) await this.deps.storage.delete(key);
      if (doomed.length)
        this.log.debug({ deleted: doomed.length }, 'retention: deleted unreferenced snapshots');
    } catch (error) {
      // Retention is housekeeping: a failed sweep costs storage, never correctness.
      this.log.warn({ err: error }, 'retention sweep failed; retrying after the next checkpoint');
    }
  }

  /** Ends run() after the current batch. */
  requestStop(): void {
    this.stopRequested = true;
  }

  /** After run() returned: a last checkpoint when asked, then the clients close. Uncommitted work is aborted. */
  async close(options: {
    finalCheckpoint: boolean;
    savepointId?: string;
  }): Promise<CheckpointReport | undefined> {
    let report: CheckpointReport | undefined;
    if (this.lifecycle.state === 'running') {
      this.lifecycle.to('stopping');
      if (options.finalCheckpoint) {
        report = await this.checkpoint(options.savepointId).catch((error: unknown) => {
          this.log.warn({ err: error }, 'final checkpoint failed; its work will be redone after restore');
          return undefined;
        });
      }
    }
    // A task that ends for a failure may not reach the broker at all (that may be the failure): its abort is
    // bounded, since a native abort still waiting holds the process's exit until it times out (measured: 30 s
    // with the broker unreachable). The broker, or the next attempt's initialisation, aborts it anyway.
    const abortMs = options.finalCheckpoint ? undefined : failedAbortTimeoutMs;
    if (this.exactlyOnce && this.producer) await this.producer.abort(abortMs).catch(() => undefined);
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
    if (this.lifecycle.state === 'stopping') this.lifecycle.to('stopped');
    return report;
  }

  fail(): void {
    if (this.lifecycle.state !== 'failed' && this.lifecycle.state !== 'stopped') this.lifecycle.to('failed');
  }

  status(): TaskStatus {
    const consumer = this.consumer;
    return {
      ...(this.stage ? { stage: this.stage } : {}),
      task: this.index,
      state: this.lifecycle.state,
      ...(this.producer?.transactionalId ? { transactionalId: this.producer.transactionalId } : {}),
      partitions: [...this.partitions.values()].map((p) => {
        const high = consumer?.highWatermark(p.tp.topic, p.tp.partition);
        return {
          ...p.tp,
          offset: p.position ?? null,
          lag: high === undefined ? null : Math.max(0, high - (p.position ?? 0)),
        };
      }),
      lastCheckpointId: this.lastCheckpointId,
      lastCheckpoint: this.lastCheckpoint,
      committedAsOf: this.committedAsOf === undefined ? null : new Date(this.committedAsOf).toISOString(),
      sinceCommitMs:
        this.committedAsOf === undefined ? null : Math.max(0, this.deps.now() - this.committedAsOf),
      consecutiveCheckpointFailures: this.failures,
    };
  }

  /** What health by progress judges (progress-health.ts). */
  progress(): TaskProgress {
    return {
      ...(this.stage ? { stage: this.stage } : {}),
      task: this.index,
      state: this.lifecycle.state,
      committedAsOf: this.committedAsOf,
      lag: totalLag(this.status().partitions),
    };
  }

  /** Records waiting in this task's partitions; a partition whose lag is not known yet counts 0. */
  lag(): number {
    return this.status().partitions.reduce((sum, p) => sum + (p.lag ?? 0), 0);
  }
}

/** The upstream task and barrier id of a repartition record, from its headers. */
function repartitionHeaders(message: Message): {
  from: number;
  barrier: string | undefined;
  watermark: string | undefined;
} {
  let from = -1;
  let barrier: string | undefined;
  let watermark: string | undefined;
  for (const header of message.headers ?? []) {
    for (const [name, value] of Object.entries(header)) {
      if (name === fromTaskHeader) from = Number(String(value));
      else if (name === barrierHeader) barrier = String(value);
      else if (name === watermarkHeader) watermark = String(value);
    }
  }
  return { from, barrier, watermark };
}

/**
 * Repartition topics keep records for a week: a downstream stage reads them
 * within its checkpoint interval, and a week outlasts any outage a job
 * recovers from. Compaction would drop records of the same key.
 */
const repartitionTopicConfig = { 'cleanup.policy': 'delete', 'retention.ms': String(7 * 24 * 3_600_000) };
