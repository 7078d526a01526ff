import type { StreamJobStatus } from '../../api/streamjob.ts';
import type { EventSpec } from './events.ts';

/** One task's checkpoint progress as observed over the control channel, for the current run only. */
export interface ObservedTaskCheckpoint {
  /** The pipeline stage; absent for the first. */
  stage?: number;
  task: number;
  /** The checkpoint the task's state stands on; 0 before any. */
  checkpointId: number;
  /** Everything the task read before this time is committed. */
  committedAsOf?: Date;
  consecutiveFailures: number;
  /** Records waiting in the task's partitions; null when not known. */
  lag?: number | null;
}

type CheckpointStatus = NonNullable<StreamJobStatus['checkpoint']>;

/**
 * status.checkpoint from the tasks' reports. Tasks checkpoint independently,
 * so the job-level "latest completed" is the slowest task's: the time up to
 * which every task's input is committed. It moves only when every task has
 * reported; until then the previous value is still a true lower bound.
 */
export function summarizeCheckpoints(
  previous: StreamJobStatus['checkpoint'],
  reports: readonly ObservedTaskCheckpoint[],
  parallelism: number,
): StreamJobStatus['checkpoint'] {
  const current = reports.filter((r) => r.task >= 0 && r.task < parallelism);
  if (current.length === 0) return previous;
  const summary: CheckpointStatus = {
    ...previous,
    consecutiveFailures: Math.max(...current.map((r) => r.consecutiveFailures)),
  };
  // Per stage and task: of two reports of one (an old pod and its replacement), the newer counts.
  const perTask = new Map<string, { id: number; at: Date }>();
  for (const report of current) {
    const key = `${report.stage ?? 0}/${report.task}`;
    const known = perTask.get(key);
    if (report.committedAsOf && (!known || report.committedAsOf > known.at)) {
      perTask.set(key, { id: report.checkpointId, at: report.committedAsOf });
    }
  }
  const lag = summedLag(current, parallelism);
  if (lag === undefined) delete summary.lagRecords;
  else summary.lagRecords = lag;
  const covered = new Set(current.filter((r) => perTask.has(`${r.stage ?? 0}/${r.task}`)).map((r) => r.task));
  if (covered.size === parallelism) {
    const all = [...perTask.values()];
    const slowest = all.reduce((a, b) => (b.at < a.at ? b : a));
    summary.latestCompleted = { id: Math.min(...all.map((c) => c.id)), time: slowest.at.toISOString() };
  }
  return summary;
}

/**
 * The records waiting across the job: each stage and task's lag from its
 * newest report, summed; undefined unless every task of the first stage
 * reported a known lag (later stages count when they report).
 */
function summedLag(reports: readonly ObservedTaskCheckpoint[], parallelism: number): number | undefined {
  const newest = new Map<string, ObservedTaskCheckpoint>();
  for (const report of reports) {
    const key = `${report.stage ?? 0}/${report.task}`;
    const known = newest.get(key);
    if (!known || (report.committedAsOf ?? 0) >= (known.committedAsOf ?? 0)) newest.set(key, report);
  }
  const firstStage = [...newest.values()].filter((r) => (r.stage ?? 0) === 0);
  if (firstStage.length < parallelism) return undefined;
  let sum = 0;
  for (const report of newest.values()) {
    if (report.lag === undefined || report.lag === null) return undefined;
    sum += report.lag;
  }
  return sum;
}

/** Events for the transitions of checkpoint health: failing starts, and recovery. */
export function checkpointEvents(
  before: StreamJobStatus['checkpoint'],
  after: StreamJobStatus['checkpoint'],
  tolerableFailures: number,
): EventSpec[] {
  const was = before?.consecutiveFailures ?? 0;
  const is = after?.consecutiveFailures ?? 0;
  if (was === 0 && is > 0) {
    return [
      {
        type: 'Warning',
        reason: 'CheckpointFailing',
        message: `${is} consecutive checkpoint failure(s); a task fails after ${tolerableFailures + 1}`,
      },
    ];
  }
  if (was > 0 && is === 0) {
    return [{ type: 'Normal', reason: 'CheckpointRecovered', message: 'every task is checkpointing again' }];
  }
  return [];
}
