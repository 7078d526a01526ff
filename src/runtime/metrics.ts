import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DiskStoreStats } from './state/disk-store.ts';

export interface TaskMetrics {
  registry: Registry;
  recordsIn: Counter<'task'>;
  recordsOut: Counter<'task'>;
  deadLetters: Counter<'task'>;
  lateRecords: Counter<'task'>;
  busy: Counter<'task'>;
  backpressure: Counter<'task'>;
  lag: Gauge<'task'>;
  watermarkLag: Gauge<'task'>;
  materializationLag: Gauge<'task'>;
  checkpointDuration: Histogram<'task'>;
  checkpointBytes: Counter<'task'>;
  checkpointFailures: Counter<'task'>;
  checkpointsCompleted: Counter<'task'>;
  materializationFailures: Counter<'task'>;
  offsetResets: Counter<'task' | 'policy'>;
  stateDiskBytes: Gauge<'task'>;
  stateEntries: Gauge<'task'>;
  stateCacheBytes: Gauge<'task'>;
  stateCacheReads: Counter<'task' | 'result'>;
  standbyLag: Gauge<'task'>;
  standbyApplied: Counter<'task'>;
}

/** A task's `task` label, one format for every stage: s<stage>-t<index>. */
export function taskLabel(stage: number, index: number): string {
  return `s${stage}-t${index}`;
}

/** What the metrics read at scrape time, by task label. */
export interface TaskMetricSources {
  lagOf: () => Map<string, number>;
  materializationLagOf?: () => Map<string, number>;
  /** Seconds between now and each event-time task's watermark (tasks without event time absent). */
  watermarkLagOf?: () => Map<string, number>;
  /** The disk stores' figures, of tasks whose state is on disk. */
  stateOf?: () => Map<string, DiskStoreStats>;
  /** A standby TaskManager's tasks: changelog records committed and not yet applied. */
  standbyLagOf?: () => Map<string, number>;
}

/**
 * The TaskManager's Prometheus metrics (port 9249, /metrics); `lagOf` is read at scrape time. Every series
 * carries `streamjob` (the StreamJob's name; the scrape adds its namespace and pod), and task series a `task`
 * label `s<stage>-t<index>`.
 */
export function createTaskMetrics(sources: TaskMetricSources, streamjob?: string): TaskMetrics {
  const {
    lagOf,
    materializationLagOf = () => new Map(),
    watermarkLagOf = () => new Map(),
    stateOf = () => new Map(),
    standbyLagOf = () => new Map(),
  } = sources;
  const registry = new Registry();
  /** The store's read counts as last scraped, per task: the counter grows by the difference. */
  const readsSeen = new Map<string, { hits: number; misses: number }>();
  if (streamjob !== undefined) registry.setDefaultLabels({ streamjob });
  // Node's process metrics under their usual names (process_*, nodejs_*), as dashboards expect them.
  collectDefaultMetrics({ register: registry });
  const task = ['task'] as const;
  return {
    registry,
    recordsIn: new Counter({
      name: 'weir_task_records_in_total',
      help: 'Source records processed.',
      labelNames: task,
      registers: [registry],
    }),
    recordsOut: new Counter({
      name: 'weir_task_records_out_total',
      help: 'Records written to the sink.',
      labelNames: task,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'weir_task_dead_letters_total',
      help: 'Poison records written to the dead-letter topic.',
      labelNames: task,
      registers: [registry],
    }),
    lateRecords: new Counter({
      name: 'weir_task_late_records_total',
      help: "Records too late for every window of a window step (past its allowed lateness), written to the step's late-records topic.",
      labelNames: task,
      registers: [registry],
    }),
    busy: new Counter({
      name: 'weir_task_busy_seconds_total',
      help: 'Time the task spent processing, firing timers and checkpointing (not waiting for input or output); its rate is the busy share.',
      labelNames: task,
      registers: [registry],
    }),
    backpressure: new Counter({
      name: 'weir_task_backpressure_seconds_total',
      help: "Time the task waited for the producer's queue to take its output.",
      labelNames: task,
      registers: [registry],
    }),
    watermarkLag: new Gauge({
      name: 'weir_task_watermark_lag_seconds',
      help: "How far the task's event-time watermark is behind the clock; absent for tasks without event time.",
      labelNames: task,
      registers: [registry],
      collect() {
        this.reset();
        for (const [t, lag] of watermarkLagOf()) this.set({ task: t }, lag);
      },
    }),
    lag: new Gauge({
      name: 'weir_task_lag_records',
      help: 'Records between the task position and the high watermark, summed over its partitions.',
      labelNames: task,
      registers: [registry],
      collect() {
        for (const [t, lag] of lagOf()) this.set({ task: t }, lag);
      },
    }),
    materializationLag: new Gauge({
      name: 'weir_state_materialization_lag_seconds',
      help: 'How long a task has held logged state changes that no stored section has (0: none); restores replay the changelog for them.',
      labelNames: task,
      registers: [registry],
      collect() {
        for (const [t, lag] of materializationLagOf()) this.set({ task: t }, lag);
      },
    }),
    checkpointDuration: new Histogram({
      name: 'weir_checkpoint_duration_seconds',
      help: 'Time from the start of a checkpoint to its commit.',
      labelNames: task,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    checkpointBytes: new Counter({
      name: 'weir_checkpoint_uploaded_bytes_total',
      help: 'Snapshot bytes written to checkpoint storage.',
      labelNames: task,
      registers: [registry],
    }),
    checkpointFailures: new Counter({
      name: 'weir_checkpoint_failures_total',
      help: 'Checkpoints that failed (storage errors or timeouts).',
      labelNames: task,
      registers: [registry],
    }),
    materializationFailures: new Counter({
      name: 'weir_state_materialization_failures_total',
      help: 'Background uploads of logged state to checkpoint storage that failed; commits go on through the changelog.',
      labelNames: task,
      registers: [registry],
    }),
    checkpointsCompleted: new Counter({
      name: 'weir_checkpoints_completed_total',
      help: 'Checkpoints committed.',
      labelNames: task,
      registers: [registry],
    }),
    stateDiskBytes: new Gauge({
      name: 'weir_state_disk_bytes',
      help: "Bytes of the task's disk state store in use (spec.taskManager.state.store: disk).",
      labelNames: task,
      registers: [registry],
      collect() {
        this.reset();
        for (const [t, stats] of stateOf()) this.set({ task: t }, stats.diskBytes);
      },
    }),
    stateEntries: new Gauge({
      name: 'weir_state_entries',
      help: "State entries in the task's disk store, those its cache holds unwritten included.",
      labelNames: task,
      registers: [registry],
      collect() {
        this.reset();
        for (const [t, stats] of stateOf()) this.set({ task: t }, stats.entries);
      },
    }),
    stateCacheBytes: new Gauge({
      name: 'weir_state_cache_bytes',
      help: "Heap held by the task's state cache (an estimate; bounded by spec.taskManager.state.cacheSize).",
      labelNames: task,
      registers: [registry],
      collect() {
        this.reset();
        for (const [t, stats] of stateOf()) this.set({ task: t }, stats.cacheBytes);
      },
    }),
    stateCacheReads: new Counter({
      name: 'weir_state_cache_reads_total',
      help: 'State reads by where they were answered: result="hit" (the heap cache) or "miss" (the disk store).',
      labelNames: ['task', 'result'] as const,
      registers: [registry],
      collect() {
        for (const [t, stats] of stateOf()) {
          const seen = readsSeen.get(t) ?? { hits: 0, misses: 0 };
          // A restarted task's store counts from 0 again.
          if (stats.hits < seen.hits || stats.misses < seen.misses) seen.hits = seen.misses = 0;
          this.inc({ task: t, result: 'hit' }, stats.hits - seen.hits);
          this.inc({ task: t, result: 'miss' }, stats.misses - seen.misses);
          readsSeen.set(t, { hits: stats.hits, misses: stats.misses });
        }
      },
    }),
    standbyLag: new Gauge({
      name: 'weir_standby_lag_records',
      help: "A standby task's changelog records committed and not yet applied to its warm state, summed over its partitions.",
      labelNames: task,
      registers: [registry],
      collect() {
        for (const [t, lag] of standbyLagOf()) this.set({ task: t }, lag);
      },
    }),
    standbyApplied: new Counter({
      name: 'weir_standby_changelog_records_total',
      help: 'Changelog records a standby task applied to its warm state.',
      labelNames: task,
      registers: [registry],
    }),
    offsetResets: new Counter({
      name: 'weir_task_offset_resets_total',
      help: "Positions outside their partition's log moved to its earliest or latest offset (spec.kafka.offsetOutOfRange), skipping or re-reading records.",
      labelNames: ['task', 'policy'] as const,
      registers: [registry],
    }),
  };
}
