import type { Logger } from 'pino';
import {
  maxReportedOffsetResets,
  type OffsetResetDocument,
  type TaskStatusDocument,
  totalLag,
} from '../../api/control-api.ts';
import type { ConsumedRecord } from '../../kafka/assigned-consumer.ts';
import type { OutgoingRecord } from '../../kafka/transactional-producer.ts';
import { RuntimeError } from '../errors.ts';
import { taskLabel } from '../metrics.ts';
import { BarrierAlignment } from '../repartition/barriers.ts';
import type { RepartitionRoute } from '../repartition/route.ts';
import { RepartitionWriter, repartitionHeaders } from '../repartition/writer.ts';
import type { DiskStoreStats } from '../state/disk-store.ts';
import { Checkpointer, type CheckpointReport, type CheckpointRequest } from './checkpointer.ts';
import { TaskEventTime } from './event-time.ts';
import { unreadRecords } from './idle-proof.ts';
import { joinHomes } from './join-partitions.ts';
import { recordKeptStore } from './kept-store.ts';
import { TaskLifecycle } from './lifecycle.ts';
import { outputKind, watermarkLagMs } from './output-kind.ts';
import type { PartitionRuntime } from './partition-runtime.ts';
import type { TaskProgress } from './progress-health.ts';
import type { StageExecutor } from './stage-executor.ts';
import type { OutputRecord } from './stage-output.ts';
import type { TaskConsumer, TaskProducer } from './task-clients.ts';
import type { StreamTaskDeps } from './task-deps.ts';
import { openTask } from './task-restore.ts';
import type { TaskStateStorage } from './task-state.ts';
import type { WarmRestore } from './warm-state.ts';

export type { CheckpointReport } from './checkpointer.ts';
export type { StreamTaskDeps } from './task-deps.ts';

/**
 * A record at `offset` was read (processed, held or a marker): the position
 * moves past it, never back, since a held record processed after later ones
 * must not pull the committed position back over them.
 */
function advancePosition(runtime: PartitionRuntime, offset: number): void {
  if (runtime.position === undefined || offset >= runtime.position) runtime.position = offset + 1;
  runtime.advanced = true;
}

/** A task's part of GET /v1/status. */
export type TaskStatus = TaskStatusDocument;

/**
 * Records taken from the client at a time. The client turns each record into
 * a JavaScript object on the main thread whatever the batch (BENCHMARKS.md,
 * issue 12), so a larger batch would save only the per-call cost.
 */
const consumeBatch = 500;

/**
 * A batch gives the event loop back after this much work: a job whose
 * records cost milliseconds each would otherwise hold it for seconds per
 * batch, and the pod's probes (answered on the same loop, with Kubernetes'
 * one-second timeout) would fail and get it killed. Other tasks of the
 * TaskManager get their turn too. Checked every 16 records.
 */
const sliceMs = 50;

/** How long a task ending for a failure waits for the broker to abort its open transaction. */
const failedAbortTimeoutMs = 1_500;

/** How long barriers of a savepoint this task was not asked for hold records back (re-read after a restart). */
const unrequestedBarrierMs = 5_000;

/** What a restored task runs with. */
interface Running {
  producer: TaskProducer;
  consumer: TaskConsumer;
  executor: StageExecutor;
  route: RepartitionRoute | undefined;
  /** Barriers and watermarks into the repartition topic the stage writes, if it writes one. */
  writer: RepartitionWriter | undefined;
  checkpointer: Checkpointer;
  eventTime: TaskEventTime;
  /** Barrier alignment, for a stage that reads a repartition topic. */
  alignment: BarrierAlignment<ConsumedRecord> | undefined;
  state: TaskStateStorage;
}

/**
 * One task of one stage: owns partitions p mod N = index of the stage's
 * input (the source topics, or the repartition topic of the keyBy that
 * begins the stage), processes them through the stage's steps, fires its
 * timers as event and processing time move, and checkpoints on the interval
 * (checkpointer.ts). Its lifecycle transitions happen here and only here.
 */
export class StreamTask {
  readonly index: number;
  readonly stage: number;
  readonly lifecycle: TaskLifecycle;
  readonly label: { task: string };
  private readonly deps: StreamTaskDeps;
  private readonly log: Logger;
  private readonly partitions = new Map<string, PartitionRuntime>();
  /** The same partitions, in order, for the per-batch walks. */
  private owned: readonly PartitionRuntime[] = [];
  /** Set by restore(): a task that runs has every client. */
  private running: Running | undefined;
  /** The latest offset resets, for the status report (the operator turns them into OffsetReset events). */
  private readonly resets: OffsetResetDocument[] = [];
  /** How this task's restore used a promoted standby's state, for the status report. */
  private warmRestore: WarmRestore | undefined;
  private nextCheckpointAt = 0;
  /**
   * After restoring committed state (a restart, an upgrade, a savepoint),
   * every batch of the first interval is committed at once rather than at the
   * interval: the stop held output back, and the time to its visible output is
   * the job's downtime. Not the first batch alone: a fast restore (a promoted
   * standby) finds only part of the waiting records fetched, and the keys of
   * the rest waited a whole interval (measured: 1.0 s of a 1.36 s recovery).
   */
  private eagerCommitsUntil = 0;
  private stopRequested = false;
  /** Records in and out since the metrics were last told (countRecords). */
  private counts = { in: 0, out: 0, deadLetters: 0, late: 0 };
  /** The work since run() began, for the autoscaler (TaskLoadDocument): counters, never reset. */
  private readonly load = { recordsIn: 0, recordsOut: 0, busyMs: 0, backpressureMs: 0 };
  private runningSince: number | undefined;
  private lastRuntime: PartitionRuntime | undefined;
  /** A join input's partitions, each with the source partition of its number, where the join keeps its state. */
  private readonly joinHomes = new Map<PartitionRuntime, PartitionRuntime>();
  private lastHeaders: { from: Record<string, string> | undefined; list: Record<string, string>[] } = {
    from: undefined,
    list: [],
  };
  /** Savepoints asked for over the control API; the run loop takes them between batches, never mid-batch. */
  private pendingSavepoints: {
    id: string;
    resolve: (r: CheckpointReport | undefined) => void;
    reject: (e: unknown) => void;
  }[] = [];

  constructor(deps: StreamTaskDeps) {
    this.deps = deps;
    this.index = deps.index;
    this.stage = deps.stage.index;
    this.label = { task: taskLabel(this.stage, deps.index) };
    this.log = deps.log.child({ task: deps.index, stage: this.stage });
    this.lifecycle = new TaskLifecycle((from, to) => this.log.info({ from, to }, `task ${from} → ${to}`));
  }

  private get exactlyOnce(): boolean {
    return this.deps.config.checkpoint.mode === 'exactly-once';
  }

  private get clients(): Running {
    if (!this.running)
      throw new RuntimeError('TASK_NOT_RESTORED', `task ${this.label.task} is not restored`, false);
    return this.running;
  }

  /** Reads committed offsets and the snapshots they name, and fences earlier attempts of this task. */
  async restore(): Promise<void> {
    this.lifecycle.to('restoring');
    const { config, job, stage } = this.deps;
    const opened = await (this.deps.open ?? openTask)(this.deps, this.label.task, this.log, (reset) => {
      this.resets.push({
        topic: reset.topic,
        partition: reset.partition,
        from: reset.from,
        to: reset.to,
        policy: reset.policy,
        reason: reset.reason,
        at: new Date(this.deps.now()).toISOString(),
      });
      this.resets.splice(0, Math.max(0, this.resets.length - maxReportedOffsetResets));
    });
    this.owned = opened.partitions;
    this.warmRestore = opened.warmRestore;
    for (const p of opened.partitions) this.partitions.set(p.id, p);
    for (const [input, home] of joinHomes(stage, opened.partitions)) this.joinHomes.set(input, home);
    const writer = opened.route ? new RepartitionWriter(opened.producer, opened.route) : undefined;
    const eventTime = new TaskEventTime(job, stage, opened.owned.length, config.parallelism, this.deps.now());
    eventTime.restore(opened.partitions);
    // Floors hold from the first record on, before any batch boundary.
    eventTime.advance(opened.partitions, this.deps.now());
    this.running = {
      producer: opened.producer,
      consumer: opened.consumer,
      executor: opened.executor,
      route: opened.route,
      writer,
      checkpointer: new Checkpointer(
        this.deps,
        {
          partitions: this.partitions,
          producer: opened.producer,
          consumer: opened.consumer,
          writer,
          changelog: opened.changelog,
        },
        this.log,
        this.label,
      ),
      eventTime,
      state: opened.state,
      alignment:
        stage.input.kind === 'repartition'
          ? new BarrierAlignment(
              opened.owned.map((p) => p.partition),
              config.parallelism,
            )
          : undefined,
    };
    if (this.exactlyOnce) await opened.producer.begin();
    const { checkpointer } = this.running;
    this.log.info(
      {
        partitions: [...this.partitions.keys()],
        restored: opened.partitions.filter((p) => p.pointer).length,
        checkpointId: checkpointer.lastCheckpointId,
        transactionalId: opened.transactionalId,
      },
      'restored',
    );
    checkpointer.committedAsOf = this.deps.now(); // nothing read yet: all of it is committed
    this.nextCheckpointAt = this.deps.now() + config.checkpoint.intervalMs;
    // Only a task that resumes committed work held output back; a fresh start commits at the interval.
    if (opened.partitions.some((p) => p.pointer !== undefined))
      this.eagerCommitsUntil = this.deps.now() + config.checkpoint.intervalMs;
    this.lifecycle.to('running');
  }

  /** Consumes and processes until stop() or a failure; checkpoints on the interval. */
  async run(): Promise<void> {
    const { consumer, alignment } = this.clients;
    this.runningSince ??= this.deps.now();
    while (!this.stopRequested) {
      const messages = this.partitions.size ? await consumer.consume(consumeBatch) : [];
      if (!this.partitions.size) await new Promise((r) => setTimeout(r, 100));
      // From here to the loop's end the task works (or waits for its output): its busy time.
      const started = this.deps.now();
      let heldBack = 0;
      let yielded = 0;
      let sliceStarted = started;
      this.readTime(started);
      for (let i = 0; i < messages.length; i++) {
        // A promise only when the producer's queue was full: the hot path makes none per record.
        const queued = this.admit(messages[i] as ConsumedRecord);
        if (queued) {
          const waiting = this.deps.now();
          await queued;
          heldBack += this.deps.now() - waiting;
        }
        if ((i & 15) === 15) {
          const paused = this.deps.now();
          if (paused - sliceStarted >= sliceMs) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            sliceStarted = this.deps.now();
            yielded += sliceStarted - paused;
          }
        }
      }
      this.countRecords();
      await this.advanceTime();
      if (alignment) await this.alignCuts(alignment);
      else {
        for (const request of this.pendingSavepoints.splice(0)) {
          await this.checkpoint({ savepointId: request.id }).then(request.resolve, (error: unknown) => {
            request.reject(error);
            throw error;
          });
        }
      }
      const now = this.deps.now();
      const due = now >= this.nextCheckpointAt || (now < this.eagerCommitsUntil && messages.length > 0);
      // Records held behind a barrier were read but not processed: no commit may pass them.
      if (due && !alignment?.holding) {
        await this.checkpoint({});
        this.nextCheckpointAt = this.deps.now() + this.deps.config.checkpoint.intervalMs;
      }
      const busyMs = Math.max(0, this.deps.now() - started - heldBack - yielded);
      this.load.busyMs += busyMs;
      this.load.backpressureMs += heldBack;
      this.deps.metrics.busy.inc(this.label, busyMs / 1000);
      if (heldBack) this.deps.metrics.backpressure.inc(this.label, heldBack / 1000);
    }
    this.countRecords();
    for (const request of this.pendingSavepoints.splice(0)) {
      request.reject(
        new RuntimeError('TASK_STOPPING', 'the task stopped before the savepoint was taken', true),
      );
    }
  }

  /**
   * A checkpoint through the lifecycle: a periodic one passes through
   * `checkpointing`, a final one while stopping stays in `stopping`. Due
   * watermark markers go with it (and make it commit even with nothing read).
   */
  private async checkpoint(request: CheckpointRequest): Promise<CheckpointReport | undefined> {
    const { checkpointer, route, eventTime } = this.clients;
    const periodic = this.lifecycle.state === 'running';
    if (periodic) this.lifecycle.to('checkpointing');
    const now = this.deps.now();
    const watermark = route ? eventTime.markerDue(now, this.deps.config.checkpoint.intervalMs) : undefined;
    const report = await checkpointer.checkpoint({
      ...request,
      periodic,
      ...(watermark === undefined ? {} : { watermark }),
    });
    // A report means the transaction with the marker committed.
    if (watermark !== undefined && report) eventTime.markerSent(watermark, now);
    if (this.lifecycle.state === 'checkpointing') this.lifecycle.to('running');
    return report;
  }

  /** A record just read: a marker is noted, a record behind a barrier is held, anything else is processed. */
  private admit(message: ConsumedRecord): Promise<void> | undefined {
    const runtime = this.runtimeOf(message);
    if (!runtime) return undefined;
    const { alignment, eventTime } = this.clients;
    if (alignment) {
      const { from, barrier, barrierTasks, watermark, joinInput } = repartitionHeaders(message);
      const wasHolding = alignment.holding;
      const admission = alignment.admit(
        message.partition,
        from,
        barrier,
        message,
        this.deps.now(),
        barrierTasks,
      );
      if (admission === 'held' && !wasHolding) {
        this.log.info({ partition: message.partition, from }, 'alignment: holding records behind a barrier');
      }
      if (admission !== 'process' || watermark !== undefined) {
        // Held records are processed before any commit (see run() and close()), so the position may pass them.
        advancePosition(runtime, message.offset);
        if (admission === 'process' && watermark !== undefined)
          eventTime.observeMarker(message.partition, from, watermark);
        return undefined;
      }
      return this.process(runtime, message, joinInput);
    }
    return this.process(runtime, message, undefined);
  }

  /** The owned partition a record came from; the last one found is kept, since a batch mostly runs in one. */
  private runtimeOf(message: ConsumedRecord): PartitionRuntime | undefined {
    const last = this.lastRuntime;
    if (last && last.tp.partition === message.partition && last.tp.topic === message.topic) return last;
    const runtime = this.partitions.get(`${message.topic}/${message.partition}`);
    if (runtime) this.lastRuntime = runtime;
    return runtime;
  }

  /** `joinInput`: the join input a record read from the repartition topic was sent on for (its header). */
  private process(
    runtime: PartitionRuntime,
    message: ConsumedRecord,
    joinInput: string | undefined,
  ): Promise<void> | undefined {
    const { executor, eventTime } = this.clients;
    const home = this.joinHomes.get(runtime) ?? runtime;
    const outputs = executor.process(
      { topic: message.topic, partition: message.partition, offset: String(message.offset) },
      message.timestamp,
      message.key,
      message.value,
      home.stores,
      home.time,
      joinInput,
    );
    if (
      eventTime.enabled &&
      (home === runtime || executor.joinInputOf(message.topic)?.outOfOrdernessMs !== undefined)
    )
      eventTime.observeRecord(runtime.id, runtime.stores, executor.lastTimestamp, this.deps.now());
    advancePosition(runtime, message.offset);
    this.counts.in++;
    return this.send(outputs);
  }

  /**
   * At a batch boundary: the task's watermark moves on, and every
   * partition's timers that came due (by it or by the clock) fire. A partition
   * where timers fired keeps that watermark as its floor.
   */
  private async advanceTime(): Promise<void> {
    const { executor, eventTime } = this.clients;
    const now = this.deps.now();
    eventTime.advance(this.owned, now);
    this.readTime(now);
    if (!executor.hasTimers) return;
    for (const runtime of this.owned) {
      await this.send(executor.fireDueTimers(runtime.stores, runtime.time));
    }
  }

  /**
   * The time each partition's operators see until the next batch boundary:
   * read once a batch rather than once a record, since watermarks move and
   * timers fire only at batch boundaries.
   */
  private readTime(now: number): void {
    const { eventTime } = this.clients;
    for (const runtime of this.owned) runtime.time = eventTime.timeIn(runtime.id, now);
  }

  /** The records into the open transaction; a promise only when the producer's queue was full. */
  private send(outputs: OutputRecord[]): Promise<void> | undefined {
    if (outputs.length === 0) return undefined;
    const { producer, route } = this.clients;
    const records: OutgoingRecord[] = [];
    for (const out of outputs) {
      records.push({
        topic: out.topic,
        partition: out.partition,
        timestamp: out.timestamp,
        key: out.key,
        value: out.value,
        headers: out.headers && this.headerList(out.headers),
      });
      this.counts[outputKind(out, this.deps.job.sink.topic, route?.topic)]++;
    }
    return producer.sendAll(records);
  }

  /** Headers as the producer takes them; a stage's repartition records share one object, converted once. */
  private headerList(headers: Record<string, string>): Record<string, string>[] {
    if (headers !== this.lastHeaders.from) {
      this.lastHeaders = { from: headers, list: Object.entries(headers).map(([k, v]) => ({ [k]: v })) };
    }
    return this.lastHeaders.list;
  }

  /** The batch's record counts into the metrics: once a batch, not once a record. */
  private countRecords(): void {
    const { metrics } = this.deps;
    this.load.recordsIn += this.counts.in;
    this.load.recordsOut += this.counts.out + this.counts.deadLetters;
    if (this.counts.in) metrics.recordsIn.inc(this.label, this.counts.in);
    if (this.counts.out) metrics.recordsOut.inc(this.label, this.counts.out);
    if (this.counts.deadLetters) metrics.deadLetters.inc(this.label, this.counts.deadLetters);
    if (this.counts.late) metrics.lateRecords.inc(this.label, this.counts.late);
    this.counts = { in: 0, out: 0, deadLetters: 0, late: 0 };
  }

  /**
   * A stage that reads a repartition topic takes a savepoint at its cut: when
   * the barrier of every upstream task has arrived in every partition it owns
   * (barriers.ts). Alignments that time out, or that nobody asked for, are
   * given up and their held records processed.
   */
  private async alignCuts(alignment: BarrierAlignment<ConsumedRecord>): Promise<void> {
    for (const request of [...this.pendingSavepoints]) {
      if (!alignment.aligned(request.id)) continue;
      this.pendingSavepoints.splice(this.pendingSavepoints.indexOf(request), 1);
      await this.cut(alignment, request.id).then(request.resolve, (error: unknown) => {
        request.reject(error);
        throw error;
      });
    }
    const { timeoutMs } = this.deps.config.checkpoint;
    for (const id of alignment.expired(this.deps.now(), timeoutMs, unrequestedBarrierMs)) {
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
   * The savepoint part of a task behind a repartition topic, at its cut
   * (Checkpointer.cutSnapshot). Then the barrier goes on downstream, the held
   * records are processed, and a checkpoint commits all of it.
   */
  private async cut(
    alignment: BarrierAlignment<ConsumedRecord>,
    savepointId: string,
  ): Promise<CheckpointReport> {
    const { checkpointer, writer } = this.clients;
    let report: CheckpointReport;
    try {
      report = await checkpointer.cutSnapshot(savepointId);
    } catch (error) {
      for (const message of alignment.release(savepointId)) await this.admit(message);
      throw error;
    }
    await writer?.barriers(savepointId);
    for (const message of alignment.release(savepointId)) await this.admit(message);
    await this.checkpoint({});
    this.log.info(
      { savepoint: savepointId, objectKey: report.objectKey, bytes: report.bytes },
      'savepoint: state at the barrier cut stored',
    );
    return report;
  }

  /** A savepoint taken by the run loop at the next batch boundary; undefined when its upload failed (tolerably). */
  savepoint(id: string): Promise<CheckpointReport | undefined> {
    if (this.lifecycle.state !== 'running' && this.lifecycle.state !== 'checkpointing') {
      return Promise.reject(
        new RuntimeError('TASK_NOT_RUNNING', `task ${this.index} is ${this.lifecycle.state}`, true),
      );
    }
    this.running?.alignment?.request(id, this.deps.now());
    return new Promise((resolve, reject) => this.pendingSavepoints.push({ id, resolve, reject }));
  }

  /** Ends run() after the current batch. */
  requestStop(): void {
    this.stopRequested = true;
  }

  /**
   * After run() returned: a last checkpoint when asked, then the clients
   * close. Uncommitted work is aborted. Records held behind a barrier are
   * processed first: their positions are already counted, so a last commit
   * without them would lose them (no cut can be taken once the task stops).
   */
  async close(options: {
    finalCheckpoint: boolean;
    savepointId?: string;
  }): Promise<CheckpointReport | undefined> {
    let report: CheckpointReport | undefined;
    let finalCommitted = false;
    if (this.lifecycle.state === 'running') {
      this.lifecycle.to('stopping');
      if (options.finalCheckpoint) {
        report = await this.finalCheckpoint(options.savepointId).then(
          (done) => {
            finalCommitted = true;
            return done;
          },
          (error: unknown) => {
            this.log.warn({ err: error }, 'final checkpoint failed; its work will be redone after restore');
            return undefined;
          },
        );
      }
    }
    // A task that ends for a failure may not reach the broker at all (that may be the failure): its abort is
    // bounded, since a native abort still waiting holds the process's exit until it times out (measured: 30 s
    // with the broker unreachable). The broker, or the next attempt's initialisation, aborts it anyway.
    const abortMs = options.finalCheckpoint ? undefined : failedAbortTimeoutMs;
    const running = this.running;
    if (this.exactlyOnce && running) await running.producer.abort(abortMs).catch(() => undefined);
    await running?.consumer.disconnect();
    await running?.producer.disconnect();
    const keep = running && finalCommitted && this.keepable(running.state);
    await running?.state
      .close(keep ? { keep: true } : {})
      .then(() => {
        if (keep && running.state.path) {
          recordKeptStore(
            running.state.path,
            this.deps.config.runId,
            [...this.partitions.values()],
            running.state,
          );
          this.log.info(
            { partitions: this.partitions.size },
            'kept store: left on the volume for the next start',
          );
        }
      })
      .catch((error: unknown) => this.log.warn({ err: error }, 'closing the state store failed'));
    if (this.lifecycle.state === 'stopping') this.lifecycle.to('stopped');
    return report;
  }

  /**
   * Local recovery (spec.taskManager.state.persistentVolume): the store is
   * kept when everything the task read is committed (nothing advanced or
   * changed since the final checkpoint, which may have had nothing to do).
   */
  private keepable(state: TaskStateStorage): boolean {
    if (!this.deps.config.state.localRecovery || !state.path || !state.tagOf) return false;
    return [...this.partitions.values()].every((p) => !p.advanced && !p.changed);
  }

  private async finalCheckpoint(savepointId: string | undefined): Promise<CheckpointReport | undefined> {
    const alignment = this.running?.alignment;
    if (alignment?.holding) {
      const held = alignment.releaseAll();
      this.log.info({ held: held.length }, 'stopping: processing the records held behind a barrier');
      for (const message of held) {
        const queued = this.admit(message);
        if (queued) await queued;
      }
      this.countRecords();
    }
    return this.checkpoint(savepointId ? { savepointId } : {});
  }

  fail(): void {
    if (this.lifecycle.state !== 'failed' && this.lifecycle.state !== 'stopped') this.lifecycle.to('failed');
  }

  status(): TaskStatus {
    const running = this.running;
    const checkpointer = running?.checkpointer;
    const committedAsOf = checkpointer?.committedAsOf;
    return {
      ...(this.stage ? { stage: this.stage } : {}),
      task: this.index,
      state: this.lifecycle.state,
      ...(running?.producer.transactionalId ? { transactionalId: running.producer.transactionalId } : {}),
      partitions: [...this.partitions.values()].map((p) => {
        const consumer = running?.consumer;
        return {
          ...p.tp,
          offset: p.position ?? null,
          lag: unreadRecords(
            consumer?.highWatermark(p.tp.topic, p.tp.partition),
            p.position,
            consumer?.fetchPosition(p.tp.topic, p.tp.partition),
            consumer?.bufferedRecords() === 0,
          ),
        };
      }),
      lastCheckpointId: checkpointer?.lastCheckpointId ?? 0,
      lastCheckpoint: checkpointer?.lastCheckpoint ?? null,
      committedAsOf: committedAsOf === undefined ? null : new Date(committedAsOf).toISOString(),
      sinceCommitMs: committedAsOf === undefined ? null : Math.max(0, this.deps.now() - committedAsOf),
      consecutiveCheckpointFailures: checkpointer?.failures ?? 0,
      ...(this.warmRestore ? { warmRestore: this.warmRestore } : {}),
      ...(this.resets.length ? { offsetResets: [...this.resets] } : {}),
      ...(this.runningSince !== undefined
        ? {
            load: {
              recordsIn: this.load.recordsIn,
              recordsOut: this.load.recordsOut,
              busyMs: Math.round(this.load.busyMs),
              backpressureMs: Math.round(this.load.backpressureMs),
              uptimeMs: Math.max(0, Math.round(this.deps.now() - this.runningSince)),
            },
          }
        : {}),
    };
  }

  /** What health by progress judges (progress-health.ts). */
  progress(): TaskProgress {
    return {
      ...(this.stage ? { stage: this.stage } : {}),
      task: this.index,
      state: this.lifecycle.state,
      committedAsOf: this.running?.checkpointer.committedAsOf,
      lag: totalLag(this.status().partitions),
    };
  }

  /** Records waiting in this task's partitions; a partition whose lag is not known yet counts 0. */
  lag(): number {
    return this.status().partitions.reduce((sum, p) => sum + (p.lag ?? 0), 0);
  }

  /** Whether the task's state goes to a changelog (and its sections are stored in the background). */
  get loggedState(): boolean {
    return this.running?.checkpointer.logged ?? false;
  }

  /** The task's disk state store's figures, while it runs with its state on disk. */
  stateStats(): DiskStoreStats | undefined {
    return this.running?.state.stats?.();
  }

  /** How far the task's event-time watermark (its slowest partition's) is behind `now`; undefined without event time. */
  watermarkLagMs(now: number): number | undefined {
    return watermarkLagMs(
      this.owned.map((r) => r.time.watermark),
      now,
    );
  }

  /** How long the task has held logged changes that no stored section has. */
  materializationLagMs(): number {
    return this.running?.checkpointer.materializationLagMs() ?? 0;
  }
}
