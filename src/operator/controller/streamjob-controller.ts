import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { labels } from '../../api/constants.ts';
import type { StreamJob } from '../../api/streamjob.ts';
import type { TaskManagerPoller } from '../control/taskmanager-poller.ts';
import { type DecideOptions, decide } from '../decide/decide.ts';
import { awaitedSavepointId } from '../decide/savepoint.ts';
import { type EventRecorder, streamJobEventTarget } from '../kube/event-recorder.ts';
import type { ObjectCache } from '../kube/informer-set.ts';
import type { ReconcileResult } from '../kube/work-queue.ts';
import type { OperatorMetrics } from '../metrics.ts';
import type { StatusRecorder } from '../status/status-recorder.ts';
import type { Actuator } from './act.ts';
import { observeNode, observePod } from './observe.ts';

export interface ControllerDeps {
  jobs: ObjectCache<StreamJob>;
  pods: ObjectCache<V1Pod>;
  nodes: ObjectCache<V1Node>;
  status: StatusRecorder;
  events: EventRecorder;
  actuator: Actuator;
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

export class StreamJobController {
  private readonly deps: ControllerDeps;
  private readonly released = new Map<string, number>();

  constructor(deps: ControllerDeps) {
    this.deps = deps;
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { jobs, pods, nodes, status, events, actuator, metrics, log } = this.deps;
    const job = jobs.get(key);
    if (!job || job.metadata.deletionTimestamp) return undefined; // owned objects go by garbage collection
    const [namespace, name] = key.split('/') as [string, string];
    const jobLog = log.child({ job: key });

    const owned = pods
      .list()
      .filter((p) => p.metadata?.namespace === namespace && p.metadata?.labels?.[labels.job] === name)
      .filter((p) => p.metadata?.ownerReferences?.some((o) => o.uid === job.metadata.uid))
      .map(observePod);
    const checkpoints = this.deps.taskManagers?.observe(job, owned);
    const savepointOutcome = actuator.savepointOutcome(job.metadata.uid ?? '');
    const observation = {
      pods: owned,
      nodes: new Map(nodes.list().map((n) => [n.metadata?.name ?? '', observeNode(n)])),
      released: new Set(this.released.keys()),
      ...(checkpoints ? { checkpoints } : {}),
      ...(savepointOutcome ? { savepointOutcome } : {}),
    };
    const decision = decide(job, observation, this.deps.now(), this.deps.decideOptions);

    const written = await status.record(job, decision.status);
    const target = streamJobEventTarget(job);
    if (written) {
      for (const event of decision.events) {
        jobLog.info({ reason: event.reason, eventType: event.type }, event.message);
        if (event.reason === 'TaskFailed') metrics.taskFailures.inc({ namespace, job: name });
        await events.record(target, event.type, event.reason, event.message);
      }
    }
    const recorded: StreamJob = { ...job, status: decision.status };
    const nowMs = this.deps.now().getTime();
    for (const [uid, expires] of this.released) if (expires < nowMs) this.released.delete(uid);
    for (const action of decision.actions) {
      if (action.kind === 'deletePod') this.released.set(action.uid, nowMs + releasedTtlMs);
    }
    const mutations = decision.actions.filter((a) => a.kind !== 'ensureTokenSecret');
    if (mutations.length) jobLog.debug({ actions: mutations }, 'acting');
    actuator.settleSavepoint(job.metadata.uid ?? '', awaitedSavepointId(decision.status));
    await actuator.apply(recorded, decision.actions);
    return decision.requeueAfterMs !== undefined ? { requeueAfterMs: decision.requeueAfterMs } : undefined;
  }
}
