import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { finalSavepointFinalizer } from '../../api/constants.ts';
import type { StreamJobSnapshot } from '../../api/snapshot.ts';
import type { StreamJob } from '../../api/streamjob.ts';
import type { ActionOutcomes } from '../control/action-outcomes.ts';
import type { TaskManagerPoller } from '../control/taskmanager-poller.ts';
import type { TaskManagerWatch } from '../control/taskmanager-watch.ts';
import { decide } from '../decide/decide.ts';
import { decideJobDeletion, finalizerChange } from '../decide/deletion.ts';
import { type EventSpec, taskFailedReason } from '../decide/events.ts';
import type { Observation } from '../decide/observation.ts';
import type { DecideOptions } from '../decide/pass.ts';
import { awaitedSavepointId } from '../decide/savepoint.ts';
import { decideOrphanSnapshots, missingRecords, type SnapshotEvent } from '../decide/snapshots.ts';
import { activeSlotsOf, splitByRole } from '../decide/standby.ts';
import { type EventRecorder, snapshotEventTarget, streamJobEventTarget } from '../kube/event-recorder.ts';
import type { FinalizerPatcher } from '../kube/finalizers.ts';
import { objectKey } from '../kube/informer.ts';
import type { ObjectCache } from '../kube/informer-set.ts';
import type { SnapshotClient } from '../kube/snapshot-client.ts';
import type { ReconcileResult } from '../kube/work-queue.ts';
import type { OperatorMetrics } from '../metrics.ts';
import type { StatusRecorder } from '../status/status-recorder.ts';
import type { Actuator } from './act.ts';
import { observeNodesOf, observePod } from './observe.ts';
import { observeInitialSnapshot, snapshotReferences, snapshotsOfJob } from './observe-snapshots.ts';
import { WrittenVersions } from './written-versions.ts';

export interface ControllerDeps {
  jobs: ObjectCache<StreamJob>;
  pods: ObjectCache<V1Pod>;
  nodes: ObjectCache<V1Node>;
  /** StreamJobSnapshots, indexed by "namespace/jobName". */
  snapshots: ObjectCache<StreamJobSnapshot>;
  snapshotClient: SnapshotClient;
  status: StatusRecorder;
  events: EventRecorder;
  actuator: Actuator;
  /** Outcomes of earlier actions (savepoints, disposals, refused pods), observed by the next pass. */
  outcomes: ActionOutcomes;
  finalizers: FinalizerPatcher;
  /** Reads checkpoint progress from the TaskManagers; without it status.checkpoint is not observed. */
  taskManagers?: TaskManagerPoller;
  /** Sees the process of an active TaskManager of a job with standbys end at once; without it, the kubelet tells. */
  watch?: TaskManagerWatch;
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
  /** Status writes the cache may not show yet: a pass on the copy written over is held (written-versions.ts). */
  private readonly writtenVersions = new WrittenVersions();

  constructor(deps: ControllerDeps) {
    this.deps = deps;
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { jobs, log } = this.deps;
    const job = jobs.get(key);
    if (!job) return this.reconcileOrphanSnapshots(key);
    const jobLog = log.child({ job: key });
    const uid = job.metadata.uid ?? '';
    if (job.metadata.deletionTimestamp) {
      // Owned objects go by garbage collection; only a final savepoint holds the deletion.
      if (!job.metadata.finalizers?.includes(finalSavepointFinalizer)) return undefined;
      if (this.finalized.has(uid)) return undefined;
      return this.finishDeletion(job, this.observe(job).observation, jobLog);
    }
    const finalizer = finalizerChange(job.spec.savepoints.onDeletion, job.metadata.finalizers);
    if (finalizer) {
      // First, and alone: the patch's update event brings the job back for the rest.
      await this.deps.finalizers.apply(job, finalizer);
      return undefined;
    }
    const staleForMs = this.writtenVersions.staleForMs(
      uid,
      job.metadata.resourceVersion,
      this.deps.now().getTime(),
    );
    // The write's watch event brings the job back; the requeue covers an event that never comes.
    if (staleForMs > 0) return { requeueAfterMs: staleForMs };
    const { observation, nextPollInMs } = this.observe(job, true);
    return this.reconcileLive(job, observation, nextPollInMs, jobLog);
  }

  /**
   * Everything a pass decides on: the job's pods and their nodes, the pods
   * this operator let go, the outcomes of its earlier requests, and (for a
   * live job) the TaskManagers' latest reports.
   */
  private observe(
    job: StreamJob,
    pollTaskManagers = false,
  ): { observation: Observation; nextPollInMs?: number } {
    const { pods, nodes, outcomes } = this.deps;
    const key = objectKey(job);
    const owned = pods
      .indexed(key)
      .filter((p) => p.metadata?.ownerReferences?.some((o) => o.uid === job.metadata.uid))
      .map(observePod);
    const polled = pollTaskManagers ? this.deps.taskManagers?.observe(job, owned) : undefined;
    const checkpoints = polled?.reports;
    // Only a job with standbys has a process to promote the moment one ends; the rest wait for the kubelet,
    // whose report carries the exit cause.
    const watched =
      pollTaskManagers && job.spec.standby?.replicas
        ? splitByRole(owned, activeSlotsOf(job.status ?? {})).active.filter((p) =>
            (job.status?.pods ?? []).includes(p.name),
          )
        : [];
    const gone = pollTaskManagers ? this.deps.watch?.sync(job, watched) : undefined;
    const observation: Observation = {
      pods: owned,
      ...(gone?.size ? { gone } : {}),
      nodes: observeNodesOf(owned, nodes),
      released: this.released.current(this.deps.now().getTime()),
      ...(checkpoints ? { checkpoints } : {}),
      ...(polled?.standbyLags ? { standbyLags: polled.standbyLags } : {}),
      ...(polled?.load ? { load: polled.load } : {}),
      ...outcomes.observe(job.metadata.uid ?? ''),
      snapshots: snapshotsOfJob(key, this.deps.snapshots),
      snapshotReferences: snapshotReferences(job, this.deps.jobs),
    };
    const initialSnapshot = observeInitialSnapshot(job, this.deps.snapshots);
    if (initialSnapshot) observation.initialSnapshot = initialSnapshot;
    return {
      observation,
      ...(polled?.nextPollInMs !== undefined ? { nextPollInMs: polled.nextPollInMs } : {}),
    };
  }

  private async reconcileLive(
    job: StreamJob,
    observation: Observation,
    nextPollInMs: number | undefined,
    jobLog: Logger,
  ): Promise<ReconcileResult | undefined> {
    const { status, actuator, outcomes } = this.deps;
    const uid = job.metadata.uid ?? '';
    const decision = decide(job, observation, this.deps.now(), this.deps.decideOptions);

    const written = await status.record(job, decision.status);
    if (written) this.writtenVersions.wrote(uid, job.metadata.resourceVersion, this.deps.now().getTime());
    const recorded: StreamJob = { ...job, status: decision.status };
    const nowMs = this.deps.now().getTime();
    for (const action of decision.actions) {
      if (action.kind === 'deletePod') this.released.add(action.uid, nowMs);
    }
    const mutations = decision.actions.filter(
      (a) => a.kind !== 'ensureTokenSecret' && a.kind !== 'ensureNetworkPolicy',
    );
    if (mutations.length) jobLog.debug({ actions: mutations }, 'acting');
    outcomes.settleSavepoint(uid, awaitedSavepointId(decision.status));
    // The transition is recorded: its Events and the actions it asked for go at once.
    await Promise.all([
      written ? this.emit(job, decision.events, jobLog) : undefined,
      this.emitOnSnapshots(job.metadata.namespace ?? '', decision.snapshotEvents, jobLog),
      actuator.apply(recorded, decision.actions),
    ]);
    // A pod the API server refused just now goes into the Ready condition at once; one refused before is
    // tried again now and then (a quota or a webhook may change its answer without the job changing).
    const refused = outcomes.podRejections(uid).length;
    const before = observation.podRejections?.length ?? 0;
    const rejectionRecheckMs = refused === 0 ? undefined : refused !== before ? 0 : podRejectionRecheckMs;
    // The next poll of the TaskManagers is due then: come back for it, whatever else the decision asked.
    const requeues = [decision.requeueAfterMs, nextPollInMs, rejectionRecheckMs].filter(
      (ms) => ms !== undefined,
    );
    return requeues.length ? { requeueAfterMs: Math.min(...requeues) } : undefined;
  }

  /** A deleted job held by the final-savepoint finalizer: stop it with a savepoint, then release it. */
  private async finishDeletion(
    job: StreamJob,
    observation: Observation,
    jobLog: Logger,
  ): Promise<ReconcileResult | undefined> {
    const { actuator, status, outcomes } = this.deps;
    const uid = job.metadata.uid ?? '';
    const decision = decideJobDeletion(job, observation, this.deps.now());
    await status.record(job, decision.status);
    // The final savepoint gets its record before the job goes: what a later job restores from by name.
    const previous = new Set((job.status?.savepoints ?? []).map((e) => e.id));
    const records = missingRecords(
      { savepoints: (decision.status.savepoints ?? []).filter((e) => !previous.has(e.id)) },
      { name: job.metadata.name ?? '', uid },
      new Set(snapshotsOfJob(objectKey(job), this.deps.snapshots).map((s) => s.name)),
    );
    for (const record of records) await this.deps.snapshotClient.apply(job.metadata.namespace ?? '', record);
    // Events first: the finalizer's removal lets the object go, and the events are what is left to read.
    await this.emit(job, decision.events, jobLog);
    const action = decision.action;
    if (action?.kind === 'stopWithSavepoint') {
      outcomes.settleSavepoint(uid, action.id);
      await actuator.apply({ ...job, status: decision.status }, [action]);
    } else if (action) {
      await this.deps.finalizers.apply(job, action);
      actuator.forget(uid);
      this.finalized.add(uid, this.deps.now().getTime());
    }
    return decision.requeueAfterMs !== undefined ? { requeueAfterMs: decision.requeueAfterMs } : undefined;
  }

  /**
   * The snapshots of a job name no StreamJob has (any more): a request
   * fails naming why, and a deleted one is let go with its objects left in S3.
   */
  private async reconcileOrphanSnapshots(key: string): Promise<undefined> {
    const orphans = snapshotsOfJob(key, this.deps.snapshots);
    if (!orphans.length) return undefined;
    const namespace = key.slice(0, key.indexOf('/'));
    const decision = decideOrphanSnapshots(orphans, `StreamJob ${key} does not exist`);
    const jobLog = this.deps.log.child({ job: key });
    for (const action of decision.actions) await this.deps.snapshotClient.apply(namespace, action);
    await this.emitOnSnapshots(namespace, decision.events, jobLog);
    return undefined;
  }

  private async emitOnSnapshots(namespace: string, decided: readonly SnapshotEvent[], jobLog: Logger) {
    for (const event of decided) {
      jobLog.info(
        { snapshot: event.snapshot.name, reason: event.reason, eventType: event.type },
        event.message,
      );
      await this.deps.events.record(
        snapshotEventTarget(namespace, event.snapshot),
        event.type,
        event.reason,
        event.message,
      );
    }
  }

  private async emit(job: StreamJob, decided: readonly EventSpec[], jobLog: Logger): Promise<void> {
    const target = streamJobEventTarget(job);
    for (const event of decided) {
      jobLog.info({ reason: event.reason, eventType: event.type }, event.message);
      if (event.reason === taskFailedReason) {
        this.deps.metrics.taskFailures.inc({
          namespace: job.metadata.namespace ?? '',
          streamjob: job.metadata.name ?? '',
        });
      }
      await this.deps.events.record(target, event.type, event.reason, event.message);
    }
  }
}
