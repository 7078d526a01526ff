import type { Logger } from 'pino';
import { deployedSpecOf, type StreamJob } from '../../api/streamjob.ts';
import { autoscalerSettings } from '../decide/autoscaler.ts';
import { LoadHistory, type LoadWindow } from '../decide/load-window.ts';
import type { ObservedPod } from '../decide/observation.ts';
import { nextPollDelayMs, type ObservedTaskReport } from '../decide/progress.ts';
import { timingOf } from '../decide/timing.ts';
import { jobToken } from './job-token.ts';
import { RequestSlots } from './request-slots.ts';
import { fetchTaskManagerStatus } from './taskmanager-client.ts';

export interface TaskManagerPollerOptions {
  key: Buffer;
  /**
   * A job's TaskManagers are asked at most once per this period, however
   * often it is reconciled; more often only when its progress window is
   * short or a commit is overdue (nextPollDelayMs).
   */
  minIntervalMs: number;
  timeoutMs: number;
  /** Status requests in flight at most, over all jobs (RequestSlots); 64 unless a test sets it. */
  maxConcurrentRequests?: number;
  now: () => Date;
  log: Logger;
  /**
   * Told once per job and error code when a TaskManager refuses or garbles
   * status for a reason retrying cannot fix (a token from another key, an
   * incompatible TaskManager), so it can reach the job's events.
   */
  onPersistentError?: (job: StreamJob, pod: string, error: { code: string; message: string }) => void;
  /** Told when new reports of a job arrived, so the job is reconciled with them. */
  onReports: (job: StreamJob) => void;
  /** How one TaskManager is asked; the control API client unless a unit test stands in for it. */
  fetchStatus?: typeof fetchTaskManagerStatus;
}

/**
 * Observes the checkpoint progress of a job's TaskManagers over their
 * control channel, in the background: a reconcile reads the latest reports
 * without waiting on the network, and a finished poll requeues the job. A
 * TaskManager that does not answer is simply not observed this time: its
 * liveness is the pod probes' business, not this one's.
 */
export class TaskManagerPoller {
  private readonly options: TaskManagerPollerOptions;
  private readonly lastPolledAt = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  private readonly latest = new Map<
    string,
    { runId: string; tasks: ObservedTaskReport[]; standbyLags: ReadonlyMap<string, number | null> }
  >();
  /** The load samples of autoscaled jobs (spec.autoscaler), by job uid. */
  private readonly histories = new Map<string, LoadHistory>();
  /** "<job uid> <error code>" already logged at warn, so a broken job does not repeat itself every poll. */
  private readonly warned = new Set<string>();
  private readonly slots: RequestSlots;

  constructor(options: TaskManagerPollerOptions) {
    this.options = options;
    this.slots = new RequestSlots(options.maxConcurrentRequests ?? 64);
  }

  /**
   * The latest reports of the job's current run (undefined before the
   * first), and when the next poll is due; starts a poll of the run's Ready
   * pods when one is due now.
   */
  observe(
    job: StreamJob,
    pods: readonly ObservedPod[],
  ): {
    reports: ObservedTaskReport[] | undefined;
    /** The standby pods' lags (by pod name) as they last answered. */
    standbyLags?: ReadonlyMap<string, number | null>;
    /** What the tasks did over spec.autoscaler.metricsWindow, for an autoscaled job. */
    load?: LoadWindow;
    nextPollInMs: number | undefined;
  } {
    const uid = job.metadata.uid ?? '';
    const runId = job.status?.run?.id;
    if (!runId) return { reports: undefined, nextPollInMs: undefined };
    const cached = this.latest.get(uid)?.runId === runId ? this.latest.get(uid) : undefined;
    const reports = cached?.tasks;
    const settings = autoscalerSettings(job.spec);
    const load = settings
      ? this.histories.get(uid)?.window(settings.metricsWindowMs, this.options.now().getTime())
      : undefined;
    const lags = {
      ...(cached?.standbyLags.size ? { standbyLags: cached.standbyLags } : {}),
      ...(load ? { load } : {}),
    };
    const delayMs = nextPollDelayMs(reports, timingOf(deployedSpecOf(job)), this.options.minIntervalMs);
    const targets = pods.filter(
      (p) => p.podIP && p.phase === 'Running' && p.ready && !p.deleting && p.runId === runId,
    );
    // Nothing to ask: no poll is due, and no requeue is asked for one (a pod becoming Ready brings the job back).
    if (targets.length === 0) return { reports, ...lags, nextPollInMs: undefined };
    const nowMs = this.options.now().getTime();
    const last = this.lastPolledAt.get(uid);
    const due = last === undefined || nowMs - last >= delayMs;
    if (due && !this.inFlight.has(uid)) {
      this.lastPolledAt.set(uid, nowMs);
      this.inFlight.add(uid);
      void this.poll(job, runId, targets)
        .then((answered) => {
          if (!answered || !this.inFlight.has(uid)) return; // nothing answered, or the job was deleted meanwhile
          this.latest.set(uid, { runId, ...answered });
          if (job.spec.autoscaler?.enabled) {
            const history = this.histories.get(uid) ?? new LoadHistory();
            history.add(this.options.now().getTime(), runId, answered.tasks);
            this.histories.set(uid, history);
          } else this.histories.delete(uid);
          this.options.onReports(job);
        })
        .finally(() => this.inFlight.delete(uid));
    }
    // A poll in flight requeues the job when it answers; otherwise come back when the next one is due.
    const polledAt = this.lastPolledAt.get(uid);
    if (this.inFlight.has(uid) || polledAt === undefined)
      return { reports, ...lags, nextPollInMs: undefined };
    return { reports, ...lags, nextPollInMs: Math.max(1, polledAt + delayMs - nowMs) };
  }

  private async poll(
    job: StreamJob,
    runId: string,
    targets: readonly ObservedPod[],
  ): Promise<{ tasks: ObservedTaskReport[]; standbyLags: Map<string, number | null> } | undefined> {
    const uid = job.metadata.uid ?? '';
    const token = jobToken(this.options.key, job);
    const log = () => this.options.log.child({ job: `${job.metadata.namespace}/${job.metadata.name}` });
    const fetchStatus = this.options.fetchStatus ?? fetchTaskManagerStatus;
    const answers = await Promise.all(
      targets.map(async (pod) => {
        try {
          const report = await this.slots.run(() =>
            fetchStatus(pod.podIP ?? '', token, this.options.timeoutMs),
          );
          if (report.runId !== runId) return { pod: pod.name, tasks: [] };
          return {
            pod: pod.name,
            tasks: report.tasks.map((t) => ({ ...t, pod: pod.name, podUid: pod.uid })),
            ...(report.standbyLag !== undefined ? { standbyLag: report.standbyLag } : {}),
          };
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          const retriable = (error as { retriable?: unknown }).retriable === true;
          const warnKey = `${uid} ${String(code)}`;
          if (!retriable && !this.warned.has(warnKey)) {
            this.warned.add(warnKey);
            log().warn({ err: error, pod: pod.name }, 'cannot read TaskManager status');
            this.options.onPersistentError?.(job, pod.name, {
              code: String(code),
              message: (error as Error).message,
            });
          } else {
            log().debug({ err: error, pod: pod.name }, 'TaskManager status not read this time');
          }
          return undefined;
        }
      }),
    );
    const answered = answers.filter((a) => a !== undefined);
    if (!answered.length) return undefined;
    const standbyLags = new Map<string, number | null>();
    for (const a of answered) if (a.standbyLag !== undefined) standbyLags.set(a.pod, a.standbyLag);
    return { tasks: answered.flatMap((a) => a.tasks), standbyLags };
  }

  forget(uid: string): void {
    this.lastPolledAt.delete(uid);
    this.inFlight.delete(uid);
    this.latest.delete(uid);
    this.histories.delete(uid);
    for (const key of this.warned) if (key.startsWith(`${uid} `)) this.warned.delete(key);
  }
}
