import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { TaskStatusDocument } from '../../api/control-api.ts';
import { savepointPrefix, savepointTaskPrefix, snapshotKey, taskStatePrefix } from '../../api/names.ts';
import { encodeCommitMetadata, type PartitionPointer } from '../checkpoint/commit-metadata.ts';
import { offsetsToCommit, planCheckpoint } from '../checkpoint/plan.ts';
import { objectsToDelete } from '../checkpoint/retention.ts';
import { RuntimeError } from '../errors.ts';
import type { RepartitionWriter } from '../repartition/writer.ts';
import { type ChangelogRoute, changelogRecords } from '../state/changelog.ts';
import { provenIdle } from './idle-proof.ts';
import { Materializer } from './materializer.ts';
import type { PartitionRuntime } from './partition-runtime.ts';
import { uploadSnapshot } from './snapshot-upload.ts';
import type { TaskConsumer, TaskProducer } from './task-clients.ts';
import type { StreamTaskDeps } from './task-deps.ts';

export interface CheckpointReport {
  stage: number;
  task: number;
  checkpointId: number;
  objectKey?: string;
  bytes: number;
  durationMs: number;
  partitions: SavepointPartition[];
}

/**
 * A partition as a checkpoint or savepoint reports it. `runOffset`, for a
 * savepoint part taken at a barrier cut (whose offset is 0, for the new run's
 * own repartition topic): the offset the taking run committed last for this
 * partition, which a warm hand-over checks nothing was committed after.
 */
export interface SavepointPartition {
  topic: string;
  partition: number;
  offset: number;
  pointer: PartitionPointer;
  runOffset?: number;
}

/** What a checkpoint is for, and what it writes besides state and offsets: markers the downstream stage reads. */
export interface CheckpointRequest {
  savepointId?: string;
  /** The task's watermark (or "idle") for the repartition topic, when one is due. */
  watermark?: string;
  /** A checkpoint of the interval (not the last one of a stopping task): an idle task proves it is idle. */
  periodic?: boolean;
}

/**
 * A task's checkpoints, by DESIGN.md's protocol, in Kafka Streams' three
 * phases: prepare (plan which partitions changed, upload their state as one
 * snapshot object), commit (offsets with pointers to that state, and the
 * outputs, in one transaction), post-commit (pointers, metrics, retention).
 * A failed upload keeps the transaction open for the next interval, up to
 * tolerableFailures; anything else fails the task.
 */
export class Checkpointer {
  private readonly deps: StreamTaskDeps;
  private readonly log: Logger;
  private readonly label: { task: string };
  private readonly partitions: ReadonlyMap<string, PartitionRuntime>;
  private readonly producer: TaskProducer;
  private readonly consumer: TaskConsumer;
  private readonly writer: RepartitionWriter | undefined;
  /** The stage's changelog, when its state is logged: commits then need Kafka only (DESIGN.md, State). */
  private readonly changelog: ChangelogRoute | undefined;
  private readonly materializer: Materializer | undefined;
  /** A savepoint's sections were committed: the next checkpoint materializes the run's own, whatever the interval. */
  private materializeNext = false;
  private readonly attempt = randomBytes(4).toString('hex');
  private readonly prefix: string;
  lastCheckpointId = 0;
  /** Snapshot objects this task uploaded since it started: the only ones retention may delete. */
  private readonly written = new Set<string>();
  lastCheckpoint: TaskStatusDocument['lastCheckpoint'] = null;
  /** Everything read before this time is committed (see TaskStatusDocument.committedAsOf). */
  committedAsOf: number | undefined;
  failures = 0;

  constructor(
    deps: StreamTaskDeps,
    clients: {
      partitions: ReadonlyMap<string, PartitionRuntime>;
      producer: TaskProducer;
      consumer: TaskConsumer;
      writer: RepartitionWriter | undefined;
      changelog?: ChangelogRoute | undefined;
    },
    log: Logger,
    label: { task: string },
  ) {
    this.deps = deps;
    this.log = log;
    this.label = label;
    this.partitions = clients.partitions;
    this.producer = clients.producer;
    this.consumer = clients.consumer;
    this.writer = clients.writer;
    const { namespace, job, runId, checkpoint } = deps.config;
    this.prefix = taskStatePrefix(namespace, job, runId, deps.stage.index, deps.index);
    this.changelog = checkpoint.mode === 'exactly-once' ? clients.changelog : undefined;
    // State restored from a savepoint's sections is stored under the run's own prefix at the first checkpoint.
    this.materializeNext = [...this.partitions.values()].some(
      (p) => p.pointer !== undefined && !p.pointer.objectKey.startsWith(this.prefix),
    );
    if (this.changelog) {
      this.materializer = new Materializer({
        storage: deps.storage,
        prefix: this.prefix,
        task: `s${deps.stage.index}/t${deps.index}`,
        attempt: this.attempt,
        intervalMs: checkpoint.materializationIntervalMs,
        timeoutMs: checkpoint.timeoutMs,
        now: deps.now,
        log,
        written: this.written,
        onStored: (bytes) => deps.metrics.checkpointBytes.inc(label, bytes),
        onFailed: () => deps.metrics.materializationFailures.inc(label),
      });
    }
    for (const p of this.partitions.values()) {
      if (p.pointer) this.lastCheckpointId = Math.max(this.lastCheckpointId, p.pointer.checkpointId);
    }
  }

  /** Whether this task's state goes to a changelog. */
  get logged(): boolean {
    return this.changelog !== undefined;
  }

  materializationLagMs(): number {
    return this.materializer?.lagMs(this.partitions.values()) ?? 0;
  }

  private get exactlyOnce(): boolean {
    return this.deps.config.checkpoint.mode === 'exactly-once';
  }

  private savepointPrefix(savepointId: string): string {
    const { config, stage, index } = this.deps;
    return savepointTaskPrefix(
      savepointPrefix(config.namespace, config.job, savepointId),
      stage.index,
      index,
    );
  }

  /**
   * Snapshot → offsets with pointers in the transaction → commit; undefined
   * when there was nothing to commit or the upload failed (tolerably). With a
   * savepoint id, every partition is written in full under the savepoint's
   * prefix, so the savepoint stands alone whatever retention does later, and
   * barriers go downstream in the same transaction.
   */
  async checkpoint(request: CheckpointRequest = {}): Promise<CheckpointReport | undefined> {
    const started = this.deps.now();
    const { savepointId, watermark } = request;
    const all = [...this.partitions.values()];
    const plan = planCheckpoint(all, savepointId !== undefined, this.changelog !== undefined);
    // A background round is work too: state changed since the last section is stored even while no record comes.
    const materialize = this.toMaterialize(all, plan.snapshot, savepointId);
    if (plan.empty && watermark === undefined && materialize.length === 0) {
      // Nothing was read since the last commit, so nothing was written either: no checkpoint to take. The task
      // counts as committed up to now only when the partition leaders confirm that nothing arrived: a task cut off
      // from Kafka reads nothing too, and must not look idle (health by progress, progress-health.ts).
      if (request.periodic && (await this.idle())) this.committedAsOf = started;
      return undefined;
    }
    // Prepare.
    const checkpointId = this.lastCheckpointId + 1;
    let snapshot: { objectKey?: string; bytes: number; pointers: Map<string, PartitionPointer> };
    let changelogFrom: Map<string, number> | undefined;
    try {
      changelogFrom = await this.changelogEnds([...plan.snapshot, ...materialize], plan.snapshot.length > 0);
      snapshot = await this.upload(plan.snapshot, checkpointId, savepointId, changelogFrom);
    } catch (error) {
      return this.checkpointFailed(error);
    }
    if (materialize.length && changelogFrom) {
      this.materializeNext = false;
      this.materializer?.start(checkpointId, materialize, changelogFrom);
    }
    // Commit: the changelog's records, the offsets with their pointers, and the markers, in one transaction.
    const landed = new Map<string, PartitionPointer>();
    for (const p of all) if (p.materialized && !snapshot.pointers.has(p.id)) landed.set(p.id, p.materialized);
    const pointers = new Map([...landed, ...snapshot.pointers]);
    const offsets = offsetsToCommit(all, pointers, savepointId !== undefined).map(
      ({ partition, offset, pointer }) => ({
        ...partition.tp,
        offset,
        pointer,
        metadata: encodeCommitMetadata(pointer),
      }),
    );
    this.log.info(
      { checkpointId, objectKey: snapshot.objectKey, offsets: offsets.length },
      'checkpoint: snapshot stored, committing',
    );
    const logged = await this.logChanges(all);
    if (savepointId) await this.writer?.barriers(savepointId);
    if (watermark !== undefined) await this.writer?.watermarks(watermark);
    if (this.exactlyOnce) {
      if (offsets.length) await this.producer.sendOffsets(offsets, this.consumer);
      await this.producer.commit();
      await this.producer.begin();
    } else {
      await this.producer.flush();
      if (offsets.length) this.consumer.commitWithMetadata(offsets);
    }
    // Post-commit.
    this.afterCommit(all, offsets, snapshot.pointers, landed, savepointId);
    const durationMs = this.recordCommit(checkpointId, started, snapshot.bytes);
    this.log.info(
      {
        checkpointId,
        objectKey: snapshot.objectKey,
        bytes: snapshot.bytes,
        durationMs,
        offsets: offsets.length,
        ...(this.changelog ? { changelogRecords: logged } : {}),
      },
      'checkpoint: committed',
    );
    await this.sweep();
    return {
      stage: this.deps.stage.index,
      task: this.deps.index,
      checkpointId,
      ...(snapshot.objectKey ? { objectKey: snapshot.objectKey } : {}),
      bytes: snapshot.bytes,
      durationMs,
      // A savepoint's pointers name its sections alone: a run restored from it has a changelog of its own.
      partitions: offsets.map(({ topic, partition, offset, pointer }) => ({
        topic,
        partition,
        offset,
        pointer: savepointId ? withoutChangelog(pointer) : pointer,
      })),
    };
  }

  /** The partitions whose changed state a background round stores at this checkpoint, if one is due. */
  private toMaterialize(
    all: readonly PartitionRuntime[],
    synchronous: readonly PartitionRuntime[],
    savepointId: string | undefined,
  ): PartitionRuntime[] {
    const materializer = this.materializer;
    if (!materializer || savepointId || materializer.busy) return [];
    if (!(this.materializeNext || materializer.due())) return [];
    return all.filter((p) => p.dirty && p.pointer && !synchronous.includes(p));
  }

  /**
   * Each partition's changelog end before this checkpoint logs anything:
   * where a section stored now starts its replay. Nothing else writes the
   * changelog between checkpoints, so the end is the committed end. Without
   * a changelog, or nothing to store: none. When only a background round
   * needs it, a failed query skips that round instead of the checkpoint.
   */
  private async changelogEnds(
    partitions: readonly PartitionRuntime[],
    required: boolean,
  ): Promise<Map<string, number> | undefined> {
    const changelog = this.changelog;
    if (!changelog || partitions.length === 0) return undefined;
    try {
      const ends = await this.consumer.endOffsets(
        partitions.map((p) => ({
          topic: changelog.topic,
          partition: changelog.partitionOf(p.tp.topic, p.tp.partition),
        })),
        Math.min(10_000, this.deps.config.checkpoint.timeoutMs),
      );
      return new Map(partitions.map((p, i) => [p.id, ends[i] as number]));
    } catch (error) {
      if (required) throw error;
      this.log.warn({ err: error }, 'materialization skipped: the changelog end offsets were not answered');
      return undefined;
    }
  }

  /** Every change since the last checkpoint into the changelog, in the open transaction; how many records. */
  private async logChanges(all: readonly PartitionRuntime[]): Promise<number> {
    const changelog = this.changelog;
    if (!changelog) return 0;
    let count = 0;
    for (const p of all) {
      if (!p.changed) continue;
      const records = changelogRecords(changelog, p.tp, p.stores);
      count += records.length;
      await this.producer.sendAll(records);
    }
    return count;
  }

  private afterCommit(
    all: readonly PartitionRuntime[],
    offsets: readonly { topic: string; partition: number }[],
    stored: ReadonlyMap<string, PartitionPointer>,
    landed: ReadonlyMap<string, PartitionPointer>,
    savepointId: string | undefined,
  ): void {
    const committedIds = new Set(offsets.map((o) => `${o.topic}/${o.partition}`));
    for (const p of all) {
      const landedPointer = landed.get(p.id);
      if (landedPointer && committedIds.has(p.id)) {
        p.pointer = landedPointer;
        p.materialized = undefined;
      }
      const pointer = stored.get(p.id);
      if (pointer) {
        p.pointer = pointer;
        p.snapshotRequired = false;
        // After a savepoint the state is stored again under the run's own prefix: the savepoint belongs to the
        // user, who may delete it, and the run must not depend on it for long. With a changelog, a background
        // round at the next checkpoint does it; without, the next checkpoint.
        p.stores.dirty = savepointId !== undefined;
        if (savepointId) p.materialized = undefined;
      }
      if (committedIds.has(p.id)) p.advanced = false;
    }
    if (savepointId && this.materializer) this.materializeNext = true;
  }

  /**
   * The savepoint part of a task behind a repartition topic, at its barrier
   * cut: every partition's state in full under the savepoint's prefix, with
   * offset 0, since a run restored from it reads its own new repartition
   * topic from the start. Nothing is committed here.
   */
  async cutSnapshot(savepointId: string): Promise<CheckpointReport> {
    const started = this.deps.now();
    const all = [...this.partitions.values()];
    const checkpointId = this.lastCheckpointId + 1;
    try {
      const { objectKey, bytes, pointers } = await this.upload(
        planCheckpoint(all, true).snapshot,
        checkpointId,
        savepointId,
      );
      return {
        stage: this.deps.stage.index,
        task: this.deps.index,
        checkpointId,
        ...(objectKey ? { objectKey } : {}),
        bytes,
        durationMs: this.deps.now() - started,
        partitions: all.flatMap((p) => {
          const pointer = pointers.get(p.id);
          return pointer ? [{ ...p.tp, offset: 0, pointer }] : [];
        }),
      };
    } catch (error) {
      throw new RuntimeError(
        'SAVEPOINT_FAILED',
        `savepoint ${savepointId}: task ${this.label.task} could not store its state: ${(error as Error).message}`,
        true,
        { cause: error },
      );
    }
  }

  /** One snapshot object with the given partitions' state (none: no object). */
  private async upload(
    partitions: PartitionRuntime[],
    checkpointId: number,
    savepointId: string | undefined,
    changelogFrom?: ReadonlyMap<string, number>,
  ): Promise<{ objectKey?: string; bytes: number; pointers: Map<string, PartitionPointer> }> {
    if (partitions.length === 0) return { bytes: 0, pointers: new Map() };
    const objectKey = snapshotKey(
      savepointId ? this.savepointPrefix(savepointId) : this.prefix,
      checkpointId,
      this.attempt,
    );
    const upload = {
      task: `s${this.deps.stage.index}/t${this.deps.index}`,
      checkpointId,
      attempt: this.attempt,
      objectKey,
      timeoutMs: this.deps.config.checkpoint.timeoutMs,
    };
    const uploaded = await uploadSnapshot(this.deps.storage, upload, partitions, this.log, changelogFrom);
    if (!savepointId) this.written.add(objectKey);
    return { objectKey, ...uploaded };
  }

  private recordCommit(checkpointId: number, started: number, bytes: number): number {
    const { metrics } = this.deps;
    this.lastCheckpointId = checkpointId;
    this.committedAsOf = started;
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
    return durationMs;
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
    return undefined;
  }

  /** Whether this task, having read nothing since its last commit, is idle (idle-proof.ts). */
  private idle(): Promise<boolean> {
    return provenIdle(
      [...this.partitions.values()],
      this.consumer,
      this.deps.config.checkpoint.timeoutMs,
      this.log,
    );
  }

  /**
   * Deletes the snapshot objects this task wrote since it started that no pointer references and that fall
   * outside the retained window. Its candidates are its own uploads, so it needs no listing of the prefix.
   */
  async sweep(): Promise<void> {
    try {
      // Committed sections, sections stored and not yet committed, and the one being stored.
      const referenced = new Set<string>();
      for (const p of this.partitions.values()) {
        if (p.pointer) referenced.add(p.pointer.objectKey);
        if (p.materialized) referenced.add(p.materialized.objectKey);
      }
      if (this.materializer?.inFlightKey) referenced.add(this.materializer.inFlightKey);
      const doomed = objectsToDelete(
        [...this.written],
        referenced,
        this.lastCheckpointId,
        this.deps.config.checkpoint.retained,
      );
      for (const key of doomed) {
        await this.deps.storage.delete(key);
        this.written.delete(key);
      }
      if (doomed.length)
        this.log.debug({ deleted: doomed.length }, 'retention: deleted unreferenced snapshots');
    } catch (error) {
      // Retention is housekeeping: a failed sweep costs storage, never correctness.
      this.log.warn({ err: error }, 'retention sweep failed; retrying after the next checkpoint');
    }
  }
}

/** A pointer as a savepoint's manifest keeps it: the section alone. */
function withoutChangelog(pointer: PartitionPointer): PartitionPointer {
  const { changelogFrom: _, ...section } = pointer;
  return section;
}
