import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { finalSavepointFinalizer } from '../../api/constants.ts';
import { jobSavepointUrl } from '../../api/names.ts';
import { deployedSpecOf, type StreamJob } from '../../api/streamjob.ts';
import type { TaskManagerPoller } from '../control/taskmanager-poller.ts';
import { type DecideOptions, decide } from '../decide/decide.ts';
import { decideDeletion, finalizerChange } from '../decide/deletion.ts';
import { type EventSpec, taskFailedReason } from '../decide/events.ts';
import type { ObservedPod } from '../decide/observation.ts';
import { awaitedSavepointId } from '../decide/savepoint.ts';
import { timingOf } from '../decide/timing.ts';
import { reachable } from '../decide/upgrade-input.ts';
import { podCount } from '../deploy/taskmanager-pod.ts';
import { type EventRecorder, streamJobEventTarget } from '../kube/event-recorder.ts';
import type { FinalizerPatcher } from '../kube/finalizers.ts';
import type { ObjectCache } from '../kube/informer-set.ts';
import type { ReconcileResult } from '../kube/work-queue.ts';
import type { OperatorMetrics } from '../metrics.ts';
import type { StatusRecorder } from '../status/status-recorder.ts';
import type { Actuator } from './act.ts';
import { observeNodesOf, observePod } from './observe.ts';

export interface ControllerDeps {
  jobs: ObjectCache<StreamJob>;
  pods: ObjectCache<V1Pod>;
  nodes: ObjectCache<V1Node>;
  status: StatusRecorder;
  events: EventRecorder;
  actuator: Actuator;
  finalizers: FinalizerPatcher;
  /** Reads checkpoint progress from the TaskManagers; without it status.checkpoint is not observed. */
  taskManagers?: TaskManagerPoller;
  metrics: OperatorMetrics;
  decideOptions: DecideOptions;
  now: () => Date;
  log: Logger;
}

/**
 * Reconciles one StreamJob: observe (informer caches) → decide (pure) →
 * record (status, which carries every intent) → act. An error propagates to
 * the work queue, which retries it if it is retriable.
 */
/** How long a deleted pod's uid is remembered; far longer than any cache lag. */
const releasedTtlMs = 10 * 60_000;

/** Uids remembered for releasedTtlMs after they were added; expired ones are dropped as new ones come. */
class RecentUids {
  private readonly expiry = new Map<string, number>();

  add(uid: string, nowMs: number): void {
    this.prune(nowMs);
    this.expiry.set(uid, nowMs + releasedTtlMs);
  }

  has(uid: string): boolean {
    return this.expiry.has(uid);
  }

  /** The uids not yet expired at `nowMs`. */
  current(nowMs: number): Set<string> {
    this.prune(nowMs);
    return new Set(this.expiry.keys());
  }

  private prune(nowMs: number): void {
    for (const [known, expires] of this.expiry) if (expires < nowMs) this.expiry.delete(known);
  }
}

/** How often a job whose pod the API server refused tries it again. */
const podRejectionRecheckMs = 30_000;

export class StreamJobController {
  private readonly deps: ControllerDeps;
  private readonly released = new RecentUids();
  /**
   * Deleted jobs (by uid) whose final-savepoint finalizer this operator
   * removed: the informer cache may still show them with it for a moment, and
   * deciding again on that stale copy would release them twice.
   */
  private readonly finalized = new RecentUids();

  constructor(deps: ControllerDeps) {
    this.deps = deps;
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { jobs, pods, nodes, status, actuator, log } = this.deps;
    const job = jobs.get(key);
    if (!job) return undefined;
    const jobLog = log.child({ job: key });

    const owned = pods
      .indexed(key)
      .filter((p) => p.metadata?.ownerReferences?.some((o) => o.uid === job.metadata.uid))
      .map(observePod);
    if (job.metadata.deletionTimestamp) {
      // Owned objects go by garbage collection; only a final savepoint holds the deletion.
      if (!job.metadata.finalizers?.includes(finalSavepointFinalizer)) return undefined;
      if (this.finalized.has(job.metadata.uid ?? '')) return undefined;
      return this.finishDeletion(job, owned, jobLog);
    }
    const finalizer = finalizerChange(job.spec.savepoints.onDeletion, job.metadata.finalizers);
    if (finalizer) {
      // First, and alone: the patch's update event brings the job back for the rest.
      await this.deps.finalizers.apply(job, finalizer);
      return undefined;
    }
    const polled = this.deps.taskManagers?.observe(job, owned);
    const checkpoints = polled?.reports;
    const savepointOutcome = actuator.savepointOutcome(job.metadata.uid ?? '');
    const disposalOutcome = actuator.takeDisposalOutcome(job.metadata.uid ?? '');
    const podRejections = actuator.podRejections(job.metadata.uid ?? '');
    const observation = {
      pods: owned,
      nodes: observeNodesOf(owned, nodes),
      released: this.released.current(this.deps.now().getTime()),
      ...(checkpoints ? { checkpoints } : {}),
      ...(savepointOutcome ? { savepointOutcome } : {}),
      ...(disposalOutcome ? { disposalOutcome } : {}),
      ...(podRejections.length ? { podRejections } : {}),
    };
    const decision = decide(job, observation, this.deps.now(), this.deps.decideOptions);

    const written = await status.record(job, decision.status);
    const recorded: StreamJob = { ...job, status: decision.status };
    const nowMs = this.deps.now().getTime();
    for (const action of decision.actions) {
      if (action.kind === 'deletePod') this.released.add(action.uid, nowMs);
    }
    const mutations = decision.actions.filter(
      (a) => a.kind !== 'ensureTokenSecret' && a.kind !== 'ensureNetworkPolicy',
    );
    if (mutations.length) jobLog.debug({ actions: mutations }, 'acting');
    actuator.settleSavepoint(job.metadata.uid ?? '', awaitedSavepointId(decision.status));
    // The transition is recorded: its Events and the actions it asked for go at once.
    await Promise.all([
      written ? this.emit(job, decision.events, jobLog) : undefined,
      actuator.apply(recorded, decision.actions),
    ]);
    // A pod the API server refused just now goes into the Ready condition at once; one refused before is
    // tried again now and then (a quota or a webhook may change its answer without the job changing).
    const refused = actuator.podRejections(job.metadata.uid ?? '');
    const rejectionRecheckMs =
      refused.length === 0 ? undefined : refused.length !== podRejections.length ? 0 : podRejectionRecheckMs;
    // The next poll of the TaskManagers is due then: come back for it, whatever else the decision asked.
    const requeues = [decision.requeueAfterMs, polled?.nextPollInMs, rejectionRecheckMs].filter(
      (ms) => ms !== undefined,
    );
    return requeues.length ? { requeueAfterMs: Math.min(...requeues) } : undefined;
  }

  /** A deleted job held by the final-savepoint finalizer: stop it with a savepoint, then release it. */
  private async finishDeletion(
    job: StreamJob,
    owned: ObservedPod[],
    jobLog: Logger,
  ): Promise<ReconcileResult | undefined> {
    const { actuator, status } = this.deps;
    const uid = job.metadata.uid ?? '';
    const previous = job.status ?? {};
    const next = structuredClone(previous);
    const deployed = deployedSpecOf({ spec: job.spec, status: previous });
    const tracked = new Set(previous.pods ?? []);
    const live = reachable(owned.filter((p) => tracked.has(p.name)));
    const outcome = actuator.savepointOutcome(uid);
    const decision = decideDeletion(next, {
      onDeletion: job.spec.savepoints.onDeletion,
      phase: previous.phase,
      running: live.length === podCount(deployed.parallelism, deployed.taskSlots) ? live : undefined,
      live,
      now: this.deps.now(),
      timeoutMs: timingOf(job.spec).savepointTimeoutMs,
      outcome,
      locate: (id) => jobSavepointUrl(job, id),
    });
    await status.record(job, next);
    // Events first: the finalizer's removal lets the object go, and the events are what is left to read.
    await this.emit(job, decision.events, jobLog);
    const action = decision.action;
    if (action?.kind === 'stopWithSavepoint') {
      actuator.settleSavepoint(uid, action.id);
      await actuator.apply({ ...job, status: next }, [action]);
    } else if (action) {
      await this.deps.finalizers.apply(job, action);
      actuator.forget(uid);
      this.finalized.add(uid, this.deps.now().getTime());
    }
    return decision.requeueAfterMs !== undefined ? { requeueAfterMs: decision.requeueAfterMs } : undefined;
  }

  private async emit(job: StreamJob, decided: readonly EventSpec[], jobLog: Logger): Promise<void> {
    const target = streamJobEventTarget(job);
    for (const event of decided) {
      jobLog.info({ reason: event.reason, eventType: event.type }, event.message);
      if (event.reason === taskFailedReason) {
        this.deps.metrics.taskFailures.inc({
          namespace: job.metadata.namespace ?? '',
          job: job.metadata.name ?? '',
        });
      }
      await this.deps.events.record(target, event.type, event.reason, event.message);
    }
  }
}
