import type { Logger } from 'pino';
import {
  type NoProgressDocument,
  type PromoteResponse,
  type StandbyTaskDocument,
  savepointCompleteMessage,
  stoppedOnSigtermMessage,
  type TaskManagerStatusDocument,
  type TaskStatusDocument,
} from '../api/control-api.ts';
import type { CheckpointStorage } from '../storage/checkpoint-storage.ts';
import { disposeSavepoint, writeManifestPart } from './checkpoint/savepoint-manifest.ts';
import type { TaskManagerConfig } from './config.ts';
import { RequestError } from './control/control-server.ts';
import { fencedTaskError, RuntimeError } from './errors.ts';
import { snapshotFormatVersion } from './state/snapshot-format.ts';
import type { CheckpointReport } from './task/checkpointer.ts';
import type { TaskProgress } from './task/progress-health.ts';
import { terminationMessage } from './termination-message.ts';

/**
 * A TaskManager's states and the only transitions between them. Stopped and
 * failed are final: the process exits with 0 or 1 (finished). A stop may come
 * before the tasks restored (SIGTERM during a restore); a task failure or a
 * stop that overran its time ends any state but the final ones as failed. A
 * standby TaskManager (spec.standby) warms its tasks' state until promoted,
 * then restores them from it.
 *
 *   created ─► restoring ─► running ─► stopping ─► stopped
 *      │  │        ▲  │          │           │
 *      │  └► standby ─┼──────────┼──► stopping
 *      │         │    │          │           │
 *      └─────────┴────┴────┬─────┴───────────┘
 *                          ▼
 *                        failed
 */
export type TaskManagerState =
  | 'created'
  | 'standby'
  | 'restoring'
  | 'running'
  | 'stopping'
  | 'stopped'
  | 'failed';

export const taskManagerTransitions: Readonly<Record<TaskManagerState, readonly TaskManagerState[]>> = {
  created: ['standby', 'restoring', 'stopping', 'failed'],
  standby: ['restoring', 'stopping', 'failed'],
  restoring: ['running', 'stopping', 'failed'],
  running: ['stopping', 'failed'],
  stopping: ['stopped', 'failed'],
  stopped: [],
  failed: [],
};

/** What the TaskManager needs of a task (StreamTask; a Testing stand-in in unit tests). */
export interface ManagedTask {
  readonly index: number;
  readonly stage: number;
  readonly label: { task: string };
  restore(): Promise<void>;
  run(): Promise<void>;
  savepoint(id: string): Promise<CheckpointReport | undefined>;
  requestStop(): void;
  close(options: { finalCheckpoint: boolean; savepointId?: string }): Promise<CheckpointReport | undefined>;
  fail(): void;
  status(): TaskStatusDocument;
  progress(): TaskProgress;
}

/** What the TaskManager needs of a standby task (StandbyTask; a Testing stand-in in unit tests). */
export interface ManagedStandby {
  readonly ready: boolean;
  start(onFailure: (error: unknown) => void): void;
  status(): StandbyTaskDocument;
  close(): Promise<void>;
}

/** What a stop ended with: each task's last report, and with a savepoint, its recorded manifest part or why not. */
/** Who asked for a stop: the kubelet's signal, Ctrl-C (weir run-local), the operator's control API, or a test. */
export type StopReason = 'SIGTERM' | 'SIGINT' | 'control API' | 'test';

export interface StopOutcome {
  reports: (CheckpointReport | undefined)[];
  recorded?: RecordedSavepoint | Error;
}

export interface RecordedSavepoint {
  savepointId: string;
  manifest: string;
  tasks: (CheckpointReport | undefined)[];
}

export interface TaskManagerDeps {
  config: Pick<
    TaskManagerConfig,
    'namespace' | 'job' | 'runId' | 'parallelism' | 'tasks' | 'restoreSavepoint'
  >;
  /** The pod's tasks: its task indexes of every stage. */
  tasks: readonly ManagedTask[];
  /**
   * A standby TaskManager's standby tasks, one per task: each hands its warm
   * state to its task when promoted (wired where both are made, main.ts).
   */
  standbys?: readonly ManagedStandby[];
  storage: CheckpointStorage;
  /** The job's stateful operator ids, recorded in each savepoint manifest part. */
  operatorIds: string[];
  /** Liveness by progress: what stalled, or undefined while every task makes progress. */
  health: { check(): NoProgressDocument | undefined };
  /** Writes the termination message the kubelet reads (termination-message.ts); false when it could not. */
  writeTerminationMessage: (text: string) => boolean;
  log: Logger;
  now: () => number;
  /** A stop that takes longer ends the process failed, its open transactions aborted. */
  shutdownTimeoutMs: number;
}

/** How long a failing TaskManager gives its Kafka clients to close. */
const failedCloseMs = 2_000;

/**
 * The TaskManager: its tasks' lifecycle as one. It restores them all, runs
 * them all, takes savepoints (its part of the job's manifest), stops with or
 * without a savepoint, deletes savepoints dropped from the history, and
 * fails as a whole when one task fails (the operator's failover strategy
 * decides what restarts). `finished` resolves with the exit code. The
 * process around it (main.ts) wires storage, logger, servers and signals.
 */
export class TaskManager {
  private current: TaskManagerState = 'created';
  private readonly deps: TaskManagerDeps;
  private readonly tasks: readonly ManagedTask[];
  private readonly log: Logger;
  private running: Promise<void>[] = [];
  private stopping: Promise<StopOutcome> | undefined;
  /** The savepoint the stop under way takes, if any. */
  private stoppingWith: string | undefined;
  /** The first failure is the cause; what fails after it is usually its consequence. */
  private causeWritten = false;
  private resolveFinished: (code: number) => void = () => {};
  /** The exit code: 0 after a stop, 1 after a failure or a stop that overran. */
  readonly finished: Promise<number>;

  constructor(deps: TaskManagerDeps) {
    this.deps = deps;
    this.tasks = deps.tasks;
    this.log = deps.log;
    this.finished = new Promise<number>((resolve) => {
      this.resolveFinished = resolve;
    });
  }

  get state(): TaskManagerState {
    return this.current;
  }

  /** Ready (the readiness probe): every task restored and running; a standby's, every standby caught up. */
  get ready(): boolean {
    if (this.current === 'standby') return (this.deps.standbys ?? []).every((s) => s.ready);
    return this.current === 'running';
  }

  /** Warms the standby tasks until promote() or a stop; one that fails for good fails the TaskManager. */
  startStandby(): void {
    this.to('standby');
    for (const standby of this.deps.standbys ?? []) {
      standby.start((error) => {
        this.writeCause(error);
        const coded = error as { code?: string };
        this.log.error({ err: error, code: coded.code }, 'standby task failed');
        this.end(1);
      });
    }
    this.log.info({ standbys: this.deps.standbys?.length ?? 0 }, "standby: warming the tasks' state");
  }

  /**
   * The control API's promotion: a standby restores its tasks on the warm
   * state and runs them; the answer comes at once (the operator watches the
   * tasks' status). Idempotent: an operator that restarted before it heard
   * the answer asks again.
   */
  promote(): PromoteResponse {
    if (this.current === 'restoring' || this.current === 'running') return { promoted: false, warm: 0 };
    if (this.current !== 'standby') {
      throw new RequestError(409, 'NOT_PROMOTABLE', `this TaskManager is ${this.current}, not a standby`);
    }
    const warm = (this.deps.standbys ?? []).filter((s) => s.status().state === 'tailing').length;
    this.log.info({ warm }, 'promoted: taking over the tasks');
    // The standbys have read the storage already (or their tasks' restores fail naming it): no round trip first.
    void this.restoreAll({ checkStorage: false }).then((restored) => {
      if (restored) this.runAll();
    });
    return { promoted: true, warm };
  }

  /**
   * Restores every task, after one request to storage: wrong credentials, a
   * missing bucket or an untrusted certificate end the TaskManager at once
   * with that cause, instead of as a checkpoint failure a few intervals later.
   * True when all restored; a task that failed failed the TaskManager.
   */
  async restoreAll(options: { checkStorage: boolean } = { checkStorage: true }): Promise<boolean> {
    this.to('restoring');
    const storageUsable = options.checkStorage ? this.deps.storage.check() : Promise.resolve();
    const restored = await Promise.all(
      this.tasks.map((t) =>
        storageUsable
          .then(() => t.restore())
          .then(
            () => true,
            (error: unknown) => {
              this.failTask(t, error);
              return false;
            },
          ),
      ),
    );
    return restored.every(Boolean) && this.current === 'restoring';
  }

  /** Starts every task's loop; a loop that throws fails the TaskManager. */
  runAll(): void {
    this.to('running');
    this.running = this.tasks.map((t) => t.run().catch((error: unknown) => this.failTask(t, error)));
  }

  /** A savepoint taken while the tasks run on: every task's part, then this TaskManager's manifest part. */
  async savepoint(id: string): Promise<RecordedSavepoint> {
    return this.recordSavepoint(id, await Promise.all(this.tasks.map((t) => t.savepoint(id))));
  }

  /**
   * Stops every task, with a savepoint when asked (once: a second request
   * joins the first). A savepoint's manifest part and the termination message
   * that says so are written before the process may end: an exit that raced
   * them (the response still in flight when the servers closed) left a pod
   * that stopped cleanly without its part.
   */
  stop(savepointId: string | undefined, reason: StopReason): Promise<StopOutcome> {
    if (this.stopping) return this.stopping;
    if (this.isFinal()) return Promise.resolve({ reports: [] });
    this.log.info(
      { reason, savepointId },
      'stopping: finishing the current batch and taking a last checkpoint',
    );
    this.to('stopping');
    this.stoppingWith = savepointId;
    this.stopping = (async () => {
      const timer = setTimeout(() => {
        this.log.error(
          { shutdownTimeoutMs: this.deps.shutdownTimeoutMs },
          'stop did not finish in time; exiting with uncommitted work aborted',
        );
        this.end(1);
      }, this.deps.shutdownTimeoutMs);
      const reports = await Promise.all(
        this.tasks.map((t, i) => this.stopTask(t, this.running[i], savepointId)),
      );
      await this.closeStandbys();
      let recorded: StopOutcome['recorded'];
      if (savepointId) {
        recorded = await this.recordSavepoint(savepointId, reports).catch((error: unknown) => error as Error);
        if (!(recorded instanceof Error))
          this.deps.writeTerminationMessage(savepointCompleteMessage(savepointId));
      } else if (reason === 'SIGTERM' && !this.isFinal()) {
        this.deps.writeTerminationMessage(stoppedOnSigtermMessage);
      }
      clearTimeout(timer);
      this.end(0);
      return { reports, ...(recorded ? { recorded } : {}) };
    })();
    return this.stopping;
  }

  /**
   * The control API's stop: the stop's outcome, or with a savepoint its
   * recorded part. A stop already under way with another savepoint (or
   * none) is refused, retriably: that savepoint is not being taken.
   */
  async stopForRequest(savepointId: string | undefined): Promise<unknown> {
    const { reports, recorded } = await this.stop(savepointId, 'control API');
    if (!savepointId) return { stopped: true, tasks: reports };
    if (this.stoppingWith !== savepointId) {
      const already = !this.stopping
        ? `had ${this.current} already`
        : `was already stopping ${this.stoppingWith ? `with savepoint ${this.stoppingWith}` : 'without a savepoint'}`;
      throw new RuntimeError(
        'SAVEPOINT_FAILED',
        `savepoint ${savepointId}: this TaskManager ${already}`,
        true,
      );
    }
    if (recorded instanceof Error || recorded === undefined) {
      throw recorded ?? new RuntimeError('SAVEPOINT_FAILED', `savepoint ${savepointId}: not recorded`, true);
    }
    // The termination message (written in stop()) tells an operator that restarts before it hears this answer.
    return { stopped: true, ...recorded };
  }

  /**
   * SIGTERM: a stop, unless the tasks stopped making progress. A kubelet that
   * stops a TaskManager whose liveness fails for want of progress: the stop
   * could not commit anyway, so the TaskManager ends failed at once, saying why
   * (the operator carries it into the job's status).
   */
  terminate(): void {
    const stalled = this.deps.health.check();
    if (!stalled) {
      void this.stop(undefined, 'SIGTERM');
      return;
    }
    this.writeCause(stalled);
    this.log.error({ stalled: stalled.stalled, code: stalled.code }, 'stopped for want of progress');
    for (const t of this.tasks) t.requestStop();
    this.end(1);
  }

  /** Deletes a savepoint dropped from the job's history; never the one this run restores from. */
  async disposeSavepoint(id: string): Promise<{ savepointId: string; deletedObjects: number }> {
    const { config } = this.deps;
    if (id === config.restoreSavepoint) {
      throw new RequestError(
        409,
        'SAVEPOINT_IN_USE',
        `savepoint ${id} is the one this run restores from; it is not deleted`,
      );
    }
    const deleted = await disposeSavepoint(this.deps.storage, config.namespace, config.job, id);
    this.log.info({ savepoint: id, objects: deleted }, 'deleted a savepoint dropped from the history');
    return { savepointId: id, deletedObjects: deleted };
  }

  /** One task failed: its cause is written (the first one only), every task is asked to stop, the exit code is 1. */
  failTask(task: ManagedTask, error: unknown): void {
    const fenced = fencedTaskError(task.index, error);
    if (fenced) {
      this.writeCause(fenced);
      this.log.error({ task: task.index, err: error, code: fenced.code }, fenced.message);
    } else {
      const coded = error as { code?: string; retriable?: boolean };
      this.writeCause(error);
      this.log.error(
        { task: task.index, err: error, code: coded.code, retriable: coded.retriable },
        'task failed',
      );
    }
    task.fail();
    for (const t of this.tasks) t.requestStop();
    this.end(1);
  }

  status(): TaskManagerStatusDocument {
    const { config } = this.deps;
    const standby = this.current === 'standby';
    return {
      job: config.job,
      runId: config.runId,
      ready: this.ready,
      role: standby ? 'standby' : 'active',
      tasks: standby ? [] : this.tasks.map((t) => t.status()),
      ...(standby ? { standby: (this.deps.standbys ?? []).map((s) => s.status()) } : {}),
    };
  }

  /**
   * After a failure: the tasks' clients closed without a checkpoint (the open
   * transactions are aborted by the broker or by the next attempt), bounded
   * tightly: the failure may be a broker out of reach, and the replacement
   * pod, which has this pod's name, cannot start before this one has ended.
   */
  async closeAfterFailure(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([
        ...this.tasks.map((t) => t.close({ finalCheckpoint: false })),
        this.closeStandbys(),
      ]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, failedCloseMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /**
   * One task's stop. A first-stage task ends its loop and takes its part of
   * the savepoint in its last commit, barriers included. A task behind a
   * repartition topic first runs on until the barriers of every upstream task
   * (in this pod or another) arrived and its part is taken at the cut; then
   * it stops with a plain last commit.
   */
  private async stopTask(
    t: ManagedTask,
    run: Promise<void> | undefined,
    savepointId: string | undefined,
  ): Promise<CheckpointReport | undefined> {
    let cut: CheckpointReport | undefined;
    if (savepointId && t.stage > 0 && run) {
      cut = await t.savepoint(savepointId).catch((error: unknown) => {
        this.log.warn({ err: error, task: t.label.task }, 'savepoint at the barrier cut failed');
        return undefined;
      });
    }
    t.requestStop();
    await run?.catch(() => undefined);
    const last = await t.close({
      finalCheckpoint: true,
      ...(savepointId && t.stage === 0 ? { savepointId } : {}),
    });
    if (!(t.stage > 0 && savepointId)) return last;
    // The positions the task's last commit left (its final checkpoint commits all it read): what a warm
    // hand-over compares with the run's committed offsets before it trusts the changelog to equal this cut.
    const positions = new Map(t.status().partitions.map((p) => [`${p.topic}/${p.partition}`, p.offset]));
    return (
      cut && {
        ...cut,
        partitions: cut.partitions.map((p) => {
          const runOffset = positions.get(`${p.topic}/${p.partition}`);
          return runOffset === null || runOffset === undefined ? p : { ...p, runOffset };
        }),
      }
    );
  }

  /** Every task's savepoint report, and this TaskManager's part of the savepoint manifest. */
  private async recordSavepoint(
    id: string,
    reports: (CheckpointReport | undefined)[],
  ): Promise<RecordedSavepoint> {
    if (reports.some((r) => r === undefined)) {
      throw new RuntimeError(
        'SAVEPOINT_FAILED',
        `savepoint ${id}: a snapshot upload failed; try again`,
        true,
      );
    }
    const { config } = this.deps;
    const manifest = await writeManifestPart(this.deps.storage, {
      formatVersion: snapshotFormatVersion,
      savepointId: id,
      namespace: config.namespace,
      job: config.job,
      runId: config.runId,
      parallelism: config.parallelism,
      tasks: config.tasks,
      createdAt: new Date(this.deps.now()).toISOString(),
      operatorIds: this.deps.operatorIds,
      partitions: reports.flatMap((r) => r?.partitions ?? []),
    });
    return { savepointId: id, manifest, tasks: reports };
  }

  /** Standbys not promoted release their stores; a promoted one's store went to its task. */
  private async closeStandbys(): Promise<void> {
    await Promise.allSettled((this.deps.standbys ?? []).map((s) => s.close()));
  }

  private writeCause(cause: unknown): void {
    if (!this.causeWritten) this.causeWritten = this.deps.writeTerminationMessage(terminationMessage(cause));
  }

  private isFinal(): boolean {
    return this.current === 'stopped' || this.current === 'failed';
  }

  /** The end: stopped (0) or failed (1), once; what ends after that (a late failure, an overrun) changes nothing. */
  private end(code: 0 | 1): void {
    if (this.isFinal()) return;
    this.to(code === 0 ? 'stopped' : 'failed');
    this.resolveFinished(code);
  }

  private to(next: TaskManagerState): void {
    if (!taskManagerTransitions[this.current].includes(next)) {
      throw new RuntimeError(
        'TASKMANAGER_TRANSITION_INVALID',
        `the TaskManager cannot go from ${this.current} to ${next}`,
        false,
      );
    }
    this.log.debug({ from: this.current, to: next }, 'TaskManager state');
    this.current = next;
  }
}
