import type { TaskCheckpointReport, TaskLoadDocument } from '../../api/control-api.ts';

/** One task as one poll saw it: its work counters (on its own clock), backlog and partitions. */
export interface TaskSample {
  stage: number;
  task: number;
  load: TaskLoadDocument;
  lag: number | null;
  partitions: number;
}

/** One poll of a job's TaskManagers, at the operator's time. */
export interface LoadSample {
  atMs: number;
  runId: string;
  tasks: readonly TaskSample[];
}

/** What one task did over the window: rates per second of its own uptime, shares of it, and its backlog. */
export interface TaskLoad {
  stage: number;
  task: number;
  /** Records processed per second. */
  inRate: number;
  outRate: number;
  /** Share of time busy (0–1). */
  busy: number;
  /** Share of time waiting for the producer (0–1). */
  backpressure: number;
  /** Records waiting now; 0 when not known. */
  lag: number;
  /** How fast the backlog grew over the window (records per second; negative: it shrank). */
  lagRate: number;
  /**
   * The input rate and the backlog's growth over the window's latest quarter: what arrives now, where a load
   * step inside the window would be averaged away.
   */
  recentInRate: number;
  recentLagRate: number;
  partitions: number;
}

export interface LoadWindow {
  /** The time the measurements cover: the shortest of the tasks' spans. */
  spanMs: number;
  tasks: TaskLoad[];
}

/** The samples of one job's current run, oldest first, bounded in time and count. */
export class LoadHistory {
  private samples: LoadSample[] = [];
  private readonly keepMs: number;
  private readonly maxSamples: number;

  constructor(keepMs = 60 * 60_000, maxSamples = 720) {
    this.keepMs = keepMs;
    this.maxSamples = maxSamples;
  }

  /** A poll's reports; a new run starts the history over. */
  add(atMs: number, runId: string, reports: readonly TaskCheckpointReport[]): void {
    const tasks = reports.flatMap((r): TaskSample[] =>
      r.load
        ? [
            {
              stage: r.stage ?? 0,
              task: r.task,
              load: r.load,
              lag: r.lag,
              partitions: r.partitionCount ?? 0,
            },
          ]
        : [],
    );
    if (this.samples.at(-1)?.runId !== runId) this.samples = [];
    this.samples.push({ atMs, runId, tasks });
    const oldest = atMs - this.keepMs;
    while (this.samples.length > this.maxSamples || (this.samples[0]?.atMs ?? atMs) < oldest)
      this.samples.shift();
  }

  window(windowMs: number, nowMs: number): LoadWindow | undefined {
    return loadWindow(this.samples, windowMs, nowMs);
  }
}

/**
 * What each task did over the last `windowMs`: the difference of its
 * counters between its first and its last sample in the window. A task whose
 * uptime went back (its TaskManager restarted) is measured from its restart.
 * Undefined until two samples of some task lie in the window.
 */
export function loadWindow(
  samples: readonly LoadSample[],
  windowMs: number,
  nowMs: number,
): LoadWindow | undefined {
  const inWindow = samples.filter((s) => s.atMs >= nowMs - windowMs);
  // Only the tasks the newest poll saw: a rescale leaves the old tasks' samples behind.
  const current = new Set((inWindow.at(-1)?.tasks ?? []).map((t) => `${t.stage}/${t.task}`));
  const byTask = new Map<string, { at: number; sample: TaskSample }[]>();
  for (const s of inWindow) {
    for (const t of s.tasks) {
      const key = `${t.stage}/${t.task}`;
      if (!current.has(key)) continue;
      const seen = byTask.get(key) ?? [];
      // A restart (uptime back) starts the task's measurement over.
      if (seen.length && t.load.uptimeMs < (seen.at(-1)?.sample.load.uptimeMs ?? 0)) seen.length = 0;
      seen.push({ at: s.atMs, sample: t });
      byTask.set(key, seen);
    }
  }
  const tasks: TaskLoad[] = [];
  let spanMs = Number.POSITIVE_INFINITY;
  for (const seen of byTask.values()) {
    const first = seen[0];
    const last = seen.at(-1);
    if (!first || !last || last === first) continue;
    const uptime = last.sample.load.uptimeMs - first.sample.load.uptimeMs;
    const elapsed = last.at - first.at;
    if (uptime <= 0 || elapsed <= 0) continue;
    const per = (f: 'recordsIn' | 'recordsOut') =>
      ((last.sample.load[f] - first.sample.load[f]) * 1000) / uptime;
    const share = (f: 'busyMs' | 'backpressureMs') =>
      Math.min(1, Math.max(0, (last.sample.load[f] - first.sample.load[f]) / uptime));
    const lag = last.sample.lag ?? 0;
    // The latest quarter: from the first sample at or after its start, when that is not the last one.
    const from = seen.find((p) => p.at >= last.at - windowMs / 4 && p !== last) ?? first;
    const recentUptime = last.sample.load.uptimeMs - from.sample.load.uptimeMs;
    const recentElapsed = last.at - from.at;
    tasks.push({
      stage: last.sample.stage,
      task: last.sample.task,
      inRate: per('recordsIn'),
      outRate: per('recordsOut'),
      busy: share('busyMs'),
      backpressure: share('backpressureMs'),
      lag,
      lagRate: ((lag - (first.sample.lag ?? 0)) * 1000) / elapsed,
      recentInRate:
        recentUptime > 0
          ? ((last.sample.load.recordsIn - from.sample.load.recordsIn) * 1000) / recentUptime
          : 0,
      recentLagRate: recentElapsed > 0 ? ((lag - (from.sample.lag ?? 0)) * 1000) / recentElapsed : 0,
      partitions: last.sample.partitions,
    });
    spanMs = Math.min(spanMs, uptime);
  }
  if (!tasks.length) return undefined;
  tasks.sort((a, b) => a.stage - b.stage || a.task - b.task);
  return { spanMs, tasks };
}
