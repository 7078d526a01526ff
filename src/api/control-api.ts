import { CodedError } from '../errors.ts';

/**
 * The TaskManager control API (DESIGN.md "Contracts"): its paths, request
 * bodies and the status document, served by src/runtime/control and called by
 * src/operator/control. Both sides use these types; the operator validates
 * what it receives, since a TaskManager may run another Weir version.
 */
export const controlPaths = {
  status: '/v1/status',
  savepoints: '/v1/savepoints',
  stop: '/v1/stop',
  /** GET: a response held open while the process lives, so the operator sees its death at once. */
  watch: '/v1/watch',
  /** POST: a standby TaskManager takes over its tasks (fences their earlier holder, replays the changelog's tail, runs). */
  promote: '/v1/promote',
  /** DELETE: a savepoint dropped from the history. */
  savepoint: (id: string) => `/v1/savepoints/${encodeURIComponent(id)}`,
} as const;

/**
 * What a TaskManager that stopped with a savepoint leaves in its termination
 * message, so an operator that lost the answer (it restarted) still knows
 * the part was written.
 */
export function savepointCompleteMessage(id: string): string {
  return `SAVEPOINT_COMPLETE: ${id}`;
}

/**
 * What a TaskManager that stopped cleanly on SIGTERM, without a savepoint, leaves in its termination message. A
 * pod the operator did not delete gets SIGTERM only from the kubelet killing its container (a failed liveness
 * probe), so the operator names that instead of an exit "with success".
 */
export const stoppedOnSigtermMessage = 'STOPPED_ON_SIGTERM: stopped on SIGTERM after committing its work';

/** POST /v1/savepoints */
export interface SavepointRequest {
  id: string;
}

/** POST /v1/stop: with a savepoint id, the tasks stop with that savepoint. */
export interface StopRequest {
  savepointId?: string | undefined;
}

/** One task in GET /v1/status. */
export interface TaskStatusDocument {
  /** The pipeline stage (0, the first, when absent): a TaskManager runs its task indexes of every stage. */
  stage?: number;
  task: number;
  state: string;
  transactionalId?: string;
  partitions: { topic: string; partition: number; offset: number | null; lag: number | null }[];
  /** The checkpoint this task's state stands on: restored, or the last it completed. 0 before any. */
  lastCheckpointId: number;
  lastCheckpoint: { id: number; at: string; durationMs: number; bytes: number } | null;
  /**
   * Everything this task read before this time is committed. A checkpoint
   * moves it to its start; so does a checkpoint due with nothing new to
   * commit once the partition leaders confirm that nothing arrived since the
   * previous such check: an idle task does not look stuck, and a task cut
   * off from Kafka does not look idle.
   */
  committedAsOf: string | null;
  /**
   * How long ago committedAsOf was, by the TaskManager's own clock when it
   * answered, so the operator judges progress without trusting that the two
   * clocks agree. Null until the task has restored.
   */
  sinceCommitMs: number | null;
  consecutiveCheckpointFailures: number;
  /**
   * A promoted standby's restore (issue 32): whether it stood on the
   * standby's warm state, and if not, why (a warm upgrade that fell back to
   * the savepoint's sections says so here). Absent for a task that started
   * without a standby.
   */
  warmRestore?: { warm: boolean; why?: string };
  /** The task's latest offset resets since it started (at most maxReportedOffsetResets); absent when none. */
  offsetResets?: OffsetResetDocument[];
  /** What the task did since it started running: the autoscaler's measurements (counters; rates are differences). */
  load?: TaskLoadDocument;
}

/**
 * A task's work since it started running, as counters on its own clock: the
 * operator takes differences between two reports for rates and shares, so
 * neither a lost report nor the two clocks' disagreement skews them.
 */
export interface TaskLoadDocument {
  /** Records read and processed. */
  recordsIn: number;
  /** Records written (to the sink, a repartition topic or the dead letters). */
  recordsOut: number;
  /** Time spent processing, firing timers and checkpointing: not waiting for input or for the producer. */
  busyMs: number;
  /** Time spent waiting for the producer's queue to take records: the stage's output holds it back. */
  backpressureMs: number;
  /** Time since the task started running. */
  uptimeMs: number;
}

/**
 * A position a task's fetcher moved by spec.kafka.offsetOutOfRange: outside
 * the partition's log (out-of-range), or back to where a truncated log
 * diverged (truncated).
 */
export interface OffsetResetDocument {
  topic: string;
  partition: number;
  from: number;
  to: number;
  policy: 'earliest' | 'latest';
  reason: 'out-of-range' | 'truncated';
  /** When it happened (ISO 8601, the TaskManager's clock). */
  at: string;
}

/** A task reports at most this many resets, its latest. */
export const maxReportedOffsetResets = 8;

/** GET /healthz when the TaskManager is not live (503): the tasks that stopped making progress. */
export interface NoProgressDocument {
  code: 'NO_PROGRESS';
  message: string;
  progressWindowMs: number;
  stalled: { task: number; lag: number | null; sinceCommitMs: number }[];
}

/** One standby task in GET /v1/status: how far its warm copy of the task's state is behind the changelog. */
export interface StandbyTaskDocument {
  stage: number;
  task: number;
  /** loading: reading the snapshots its committed offsets name; tailing: applying the changelog; idle: the stage has no state. */
  state: 'waiting' | 'loading' | 'tailing' | 'idle' | 'closed';
  /** Changelog records committed but not yet applied; null before the first read of the changelog's end. */
  lag: number | null;
  /** Changelog records applied since the standby started. */
  applied: number;
}

/** POST /v1/promote's answer. */
export interface PromoteResponse {
  /** True when this request promoted it; false when it was promoted already (the request is idempotent). */
  promoted: boolean;
  /** Standby tasks whose warm state the promotion takes over; the others restore as after a restart. */
  warm: number;
}

/** GET /v1/status */
export interface TaskManagerStatusDocument {
  job: string;
  runId: string;
  ready: boolean;
  /** standby until promoted; absent from TaskManagers older than standbys, which are all active. */
  role?: 'active' | 'standby';
  tasks: TaskStatusDocument[];
  /** The standby tasks of a standby TaskManager. */
  standby?: StandbyTaskDocument[];
}

/** One task's checkpoint progress, as a TaskManager reports it on GET /v1/status. */
export interface TaskCheckpointReport {
  /** The pipeline stage; absent for the first. */
  stage?: number;
  task: number;
  /** The task's lifecycle state (running, checkpointing, restoring, stopping…). */
  state: string;
  /** The checkpoint the task's state stands on (restored or completed); 0 before any. */
  checkpointId: number;
  /** Everything the task read before this time is committed; absent until its restore finished. */
  committedAsOf?: Date;
  /** How long before the answer the task last committed; absent before its restore, or from a TaskManager too old to say. */
  sinceCommitMs?: number;
  /** Records waiting in the task's partitions; null when a partition's lag is not known. */
  lag: number | null;
  consecutiveFailures: number;
  /** The task's latest offset resets; absent when none. */
  offsetResets?: OffsetResetReport[];
  /** A promoted standby's restore: on its warm state or not, and why (at most maxWarmWhyLength characters). */
  warmRestore?: { warm: boolean; why?: string };
  /** How many input partitions the task owns. */
  partitionCount?: number;
  /** The task's work counters; absent from a TaskManager too old to report them, or before it runs. */
  load?: TaskLoadDocument;
}

/** A warmRestore.why longer than this is cut: it goes into the job's status. */
export const maxWarmWhyLength = 300;

export interface OffsetResetReport extends Omit<OffsetResetDocument, 'at'> {
  at: Date;
}

export interface TaskManagerReport {
  runId: string;
  tasks: TaskCheckpointReport[];
  /**
   * A standby TaskManager: the changelog records its standby tasks are
   * behind, summed; null while any one's lag is not known. Absent on an
   * active TaskManager.
   */
  standbyLag?: number | null;
}

/** The most standby tasks a status document may list (a TaskManager runs at most this many tasks). */
export const maxReportedStandbyTasks = 4096;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** The records waiting in a task's partitions: the sum of their lags, or null when any is not known. */
export function totalLag(partitions: readonly { lag: number | null }[]): number | null {
  let sum = 0;
  for (const p of partitions) {
    if (p.lag === null) return null;
    sum += p.lag;
  }
  return sum;
}

/** totalLag of a status document's partitions, which must each carry a lag count or null. */
function lagOf(partitions: unknown, invalid: (why: string) => Error): number | null {
  if (!Array.isArray(partitions)) throw invalid('not an array');
  const lags = (partitions as unknown[]).map((p) => {
    const lag = isRecord(p) ? p.lag : undefined;
    if (lag === null || nonNegativeInteger(lag)) return { lag };
    throw invalid('a partition without a lag count or null');
  });
  return totalLag(lags);
}

function parseOffsetResets(value: unknown, invalid: (why: string) => Error): OffsetResetReport[] {
  if (!Array.isArray(value)) throw invalid('not an array');
  if (value.length > maxReportedOffsetResets) throw invalid(`more than ${maxReportedOffsetResets} entries`);
  return (value as unknown[]).map((raw, j) => {
    const r = isRecord(raw) ? raw : {};
    const at = typeof r.at === 'string' ? new Date(r.at) : undefined;
    const valid =
      typeof r.topic === 'string' &&
      r.topic.length > 0 &&
      r.topic.length <= 249 &&
      nonNegativeInteger(r.partition) &&
      nonNegativeInteger(r.from) &&
      nonNegativeInteger(r.to) &&
      (r.policy === 'earliest' || r.policy === 'latest') &&
      (r.reason === 'out-of-range' || r.reason === 'truncated') &&
      at !== undefined &&
      !Number.isNaN(at.getTime());
    if (!valid)
      throw invalid(`entry ${j} is not an offset reset (topic, partition, from, to, policy, reason, at)`);
    return {
      topic: r.topic as string,
      partition: r.partition as number,
      from: r.from as number,
      to: r.to as number,
      policy: r.policy as OffsetResetReport['policy'],
      reason: r.reason as OffsetResetReport['reason'],
      at: at as Date,
    };
  });
}

/**
 * Validates a TaskManager's status document. The TaskManager may run another
 * Weir version than the operator, so anything unexpected is an error naming
 * the field rather than a guess.
 */
export function parseTaskManagerStatus(body: unknown): TaskManagerReport {
  const invalid = (field: string, why: string) =>
    new CodedError('TASKMANAGER_STATUS_INVALID', `status field ${field}: ${why}`, false);
  if (!isRecord(body)) throw invalid('(document)', 'not a JSON object');
  if (typeof body.runId !== 'string') throw invalid('runId', 'not a string');
  if (!Array.isArray(body.tasks)) throw invalid('tasks', 'not an array');
  const tasks = body.tasks.map((raw: unknown, i): TaskCheckpointReport => {
    if (!isRecord(raw)) throw invalid(`tasks[${i}]`, 'not an object');
    if (!nonNegativeInteger(raw.task)) throw invalid(`tasks[${i}].task`, 'not a task index');
    if (raw.stage !== undefined && !nonNegativeInteger(raw.stage))
      throw invalid(`tasks[${i}].stage`, 'not a stage index');
    const failures = raw.consecutiveCheckpointFailures;
    if (!nonNegativeInteger(failures))
      throw invalid(`tasks[${i}].consecutiveCheckpointFailures`, 'not a count');
    if (!nonNegativeInteger(raw.lastCheckpointId))
      throw invalid(`tasks[${i}].lastCheckpointId`, 'not a checkpoint id');
    if (typeof raw.state !== 'string') throw invalid(`tasks[${i}].state`, 'not a string');
    const since = raw.sinceCommitMs;
    if (since !== undefined && since !== null && !nonNegativeInteger(since))
      throw invalid(`tasks[${i}].sinceCommitMs`, 'not a duration in milliseconds or null');
    const report: TaskCheckpointReport = {
      ...(raw.stage ? { stage: raw.stage as number } : {}),
      task: raw.task,
      state: raw.state,
      checkpointId: raw.lastCheckpointId,
      lag: lagOf(raw.partitions, (why) => invalid(`tasks[${i}].partitions`, why)),
      consecutiveFailures: failures,
      ...(nonNegativeInteger(since) ? { sinceCommitMs: since } : {}),
    };
    if (raw.warmRestore !== undefined) {
      const warm = raw.warmRestore;
      if (
        !isRecord(warm) ||
        typeof warm.warm !== 'boolean' ||
        (warm.why !== undefined && typeof warm.why !== 'string')
      )
        throw invalid(`tasks[${i}].warmRestore`, 'not {warm: boolean, why?: string}');
      report.warmRestore = {
        warm: warm.warm,
        ...(typeof warm.why === 'string' ? { why: warm.why.slice(0, maxWarmWhyLength) } : {}),
      };
    }
    if (raw.offsetResets !== undefined) {
      const resets = parseOffsetResets(raw.offsetResets, (why) => invalid(`tasks[${i}].offsetResets`, why));
      if (resets.length) report.offsetResets = resets;
    }
    if (Array.isArray(raw.partitions)) report.partitionCount = raw.partitions.length;
    if (raw.load !== undefined) report.load = parseLoad(raw.load, (why) => invalid(`tasks[${i}].load`, why));
    if (raw.committedAsOf === null) return report;
    const asOf = typeof raw.committedAsOf === 'string' ? new Date(raw.committedAsOf) : undefined;
    if (!asOf || Number.isNaN(asOf.getTime()))
      throw invalid(`tasks[${i}].committedAsOf`, 'not a timestamp or null');
    return { ...report, committedAsOf: asOf };
  });
  const report: TaskManagerReport = { runId: body.runId, tasks };
  if (body.standby !== undefined) report.standbyLag = standbyLagOf(body.standby, invalid);
  return report;
}

const loadFields = ['recordsIn', 'recordsOut', 'busyMs', 'backpressureMs', 'uptimeMs'] as const;

/** A task's load counters: every one a non-negative whole number, busy and backpressure within the uptime. */
function parseLoad(value: unknown, invalid: (why: string) => Error): TaskLoadDocument {
  if (!isRecord(value)) throw invalid('not an object');
  for (const field of loadFields)
    if (!nonNegativeInteger(value[field])) throw invalid(`${field} is not a whole number ≥ 0`);
  const load = Object.fromEntries(loadFields.map((f) => [f, value[f]])) as unknown as TaskLoadDocument;
  if (load.busyMs + load.backpressureMs > load.uptimeMs + 1000)
    throw invalid('busyMs and backpressureMs add up to more than uptimeMs');
  return load;
}

/** The summed lag of a standby TaskManager's standby tasks; null while one is unknown. */
function standbyLagOf(standby: unknown, invalid: (field: string, why: string) => Error): number | null {
  if (!Array.isArray(standby)) throw invalid('standby', 'not an array');
  if (standby.length > maxReportedStandbyTasks)
    throw invalid('standby', `${standby.length} entries, more than ${maxReportedStandbyTasks}`);
  let sum = 0;
  let known = true;
  for (const [i, task] of standby.entries()) {
    if (!isRecord(task)) throw invalid(`standby[${i}]`, 'not an object');
    if (task.lag === null) known = false;
    else if (nonNegativeInteger(task.lag)) sum += task.lag;
    else throw invalid(`standby[${i}].lag`, 'not a count or null');
  }
  return known ? sum : null;
}
