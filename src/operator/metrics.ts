import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { StreamJobStatus } from '../api/streamjob.ts';

export interface OperatorMetrics {
  registry: Registry;
  reconcileDuration: Histogram<'result'>;
  reconcileErrors: Counter<'code'>;
  queueDepth: Gauge;
  jobsByPhase: Gauge<'phase'>;
  taskFailures: Counter<'namespace' | 'streamjob'>;
  isLeader: Gauge;
  lastCheckpointTime: Gauge<'namespace' | 'streamjob'>;
  checkpointFailures: Gauge<'namespace' | 'streamjob'>;
  progressWindow: Gauge<'namespace' | 'streamjob'>;
  lastSavepointFailureTime: Gauge<'namespace' | 'streamjob'>;
}

export interface JobCheckpoint {
  namespace: string;
  job: string;
  checkpoint: StreamJobStatus['checkpoint'];
  /** The job's progress window (spec.checkpoints.progressWindow or its default), in seconds. */
  progressWindowSeconds?: number;
  /** status.lastSavepointFailure.time. */
  lastSavepointFailure?: string;
}

/** Prometheus metrics of the operator, named by the Prometheus conventions (weir_ prefix, base units). */
export function createMetrics(sources: {
  jobsByPhase: () => Record<string, number>;
  checkpoints: () => JobCheckpoint[];
}): OperatorMetrics {
  const registry = new Registry();
  // Every per-job gauge reads the job list at scrape time; one scrape builds it once, not once per gauge (the
  // gauges collect within one turn of the event loop, after which the list is dropped).
  let jobsThisScrape: JobCheckpoint[] | undefined;
  const jobsNow = () => {
    if (!jobsThisScrape) {
      jobsThisScrape = sources.checkpoints();
      setImmediate(() => {
        jobsThisScrape = undefined;
      });
    }
    return jobsThisScrape;
  };
  /** A gauge with a series per job, set at scrape time from the jobs' status; a job whose value is undefined has none. */
  const perJobGauge = (name: string, help: string, valueFor: (job: JobCheckpoint) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['namespace', 'streamjob'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const job of jobsNow()) {
          const value = valueFor(job);
          if (value !== undefined) this.set({ namespace: job.namespace, streamjob: job.job }, value);
        }
      },
    });
  // Node's process metrics under their usual names (process_*, nodejs_*), as dashboards expect them.
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    reconcileDuration: new Histogram({
      name: 'weir_reconcile_duration_seconds',
      help: 'Time to reconcile one StreamJob.',
      labelNames: ['result'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: 'weir_reconcile_errors_total',
      help: 'Reconciles that failed, by error code.',
      labelNames: ['code'],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'weir_workqueue_depth',
      help: 'StreamJob keys waiting to be reconciled.',
      registers: [registry],
    }),
    jobsByPhase: new Gauge({
      name: 'weir_streamjobs',
      help: 'StreamJobs by phase.',
      labelNames: ['phase'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [phase, count] of Object.entries(sources.jobsByPhase())) this.set({ phase }, count);
      },
    }),
    taskFailures: new Counter({
      name: 'weir_task_failures_total',
      help: 'TaskManager pod failures seen by the operator.',
      labelNames: ['namespace', 'streamjob'],
      registers: [registry],
    }),
    isLeader: new Gauge({
      name: 'weir_operator_leader',
      help: '1 when this replica is the leader.',
      registers: [registry],
    }),
    // A timestamp rather than an age, as Prometheus advises: alert on time() - this.
    lastCheckpointTime: perJobGauge(
      'weir_streamjob_last_checkpoint_timestamp_seconds',
      'When every task of the StreamJob had last completed a checkpoint (status.checkpoint.latestCompleted).',
      ({ checkpoint }) => seconds(checkpoint?.latestCompleted?.time),
    ),
    checkpointFailures: perJobGauge(
      'weir_streamjob_checkpoint_consecutive_failures',
      'Consecutive checkpoint failures of the StreamJob’s worst task.',
      ({ checkpoint }) => (checkpoint ? (checkpoint.consecutiveFailures ?? 0) : undefined),
    ),
    // What alert rules compare the checkpoint age with: time() - last checkpoint > on(...) this window.
    progressWindow: perJobGauge(
      'weir_streamjob_progress_window_seconds',
      'The StreamJob’s progress window: a task that has not committed for this long is replaced.',
      ({ progressWindowSeconds }) => progressWindowSeconds,
    ),
    lastSavepointFailureTime: perJobGauge(
      'weir_streamjob_last_savepoint_failure_timestamp_seconds',
      'When the StreamJob’s most recent savepoint failed (status.lastSavepointFailure); absent before any.',
      ({ lastSavepointFailure }) => seconds(lastSavepointFailure),
    ),
  };
}

/** An RFC 3339 time as Prometheus' seconds since the epoch; undefined for none. */
function seconds(time: string | undefined): number | undefined {
  return time ? Date.parse(time) / 1000 : undefined;
}
