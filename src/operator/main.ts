import { randomBytes } from 'node:crypto';
import { CoreV1Api, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { type Logger, pino } from 'pino';
import { labels, managedBy } from '../api/constants.ts';
import { tokenSecretName } from '../api/names.ts';
import { parseSavepointRef } from '../api/savepoint-ref.ts';
import { type StreamJobSnapshot, snapshotKind, snapshotPlural } from '../api/snapshot.ts';
import { apiVersion, group, kind, plural, type StreamJob, version } from '../api/streamjob.ts';
import { loadConfig, type OperatorConfig } from './config.ts';
import { ActionOutcomes } from './control/action-outcomes.ts';
import { loadControlKey } from './control/control-key.ts';
import { TaskManagerPoller } from './control/taskmanager-poller.ts';
import { TaskManagerWatch } from './control/taskmanager-watch.ts';
import { Actuator } from './controller/act.ts';
import { StreamJobController } from './controller/streamjob-controller.ts';
import { timingOf } from './decide/timing.ts';
import { startHealthServer } from './health-server.ts';
import { EventRecorder, streamJobEventTarget } from './kube/event-recorder.ts';
import { FinalizerPatcher } from './kube/finalizers.ts';
import { type InformerOptions, objectKey } from './kube/informer.ts';
import { InformerSet } from './kube/informer-set.ts';
import { LeaderElector } from './kube/leader-election.ts';
import { PooledKubeConfig } from './kube/pooled-kube-config.ts';
import { podJobKey, slimNode, slimPod, slimStreamJob, snapshotJobKey } from './kube/slim.ts';
import { SnapshotClient } from './kube/snapshot-client.ts';
import { WorkQueue } from './kube/work-queue.ts';
import { createMetrics } from './metrics.ts';
import { StatusRecorder } from './status/status-recorder.ts';

type Log = Logger;

/** The operator's informers: StreamJobs, their pods and snapshots in the watched namespaces, and every node. */
function createInformers(kubeConfig: PooledKubeConfig, config: OperatorConfig, log: Log) {
  const informerOptions = <T>(what: string, shape: Pick<InformerOptions<T>, 'transform' | 'indexBy'>) => ({
    resyncMs: 5 * 60_000,
    relistBackoff: { initialMs: 500, maxMs: 30_000 },
    onError: (error: unknown) => log.warn({ err: error, informer: what }, 'watch error; retrying'),
    ...shape,
  });
  const jobs = new InformerSet<StreamJob>(
    kubeConfig,
    {
      apiVersion,
      kind,
      collection: (ns) =>
        ns ? `/apis/${group}/${version}/namespaces/${ns}/${plural}` : `/apis/${group}/${version}/${plural}`,
    },
    config.watchNamespaces,
    informerOptions('streamjobs', { transform: slimStreamJob }),
  );
  const pods = new InformerSet<V1Pod>(
    kubeConfig,
    {
      apiVersion: 'v1',
      kind: 'Pod',
      collection: (ns) => (ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods'),
      labelSelector: `${labels.managedBy}=${managedBy}`,
    },
    config.watchNamespaces,
    informerOptions('pods', { transform: slimPod, indexBy: podJobKey }),
  );
  const snapshots = new InformerSet<StreamJobSnapshot>(
    kubeConfig,
    {
      apiVersion,
      kind: snapshotKind,
      collection: (ns) =>
        ns
          ? `/apis/${group}/${version}/namespaces/${ns}/${snapshotPlural}`
          : `/apis/${group}/${version}/${snapshotPlural}`,
    },
    config.watchNamespaces,
    informerOptions('streamjobsnapshots', { transform: slimStreamJob, indexBy: snapshotJobKey }),
  );
  const nodes = new InformerSet<V1Node>(
    kubeConfig,
    { apiVersion: 'v1', kind: 'Node', collection: () => '/api/v1/nodes' },
    [],
    informerOptions('nodes', { transform: slimNode }),
  );
  return { jobs, pods, snapshots, nodes };
}

type Informers = ReturnType<typeof createInformers>;

function createOperatorMetrics({ jobs }: Informers) {
  return createMetrics({
    jobsByPhase: () => {
      const counts: Record<string, number> = {};
      for (const job of jobs.list()) {
        const phase = job.status?.phase ?? 'Pending';
        counts[phase] = (counts[phase] ?? 0) + 1;
      }
      return counts;
    },
    checkpoints: () =>
      jobs.list().map((job) => ({
        namespace: job.metadata.namespace ?? '',
        job: job.metadata.name ?? '',
        checkpoint: job.status?.checkpoint,
        ...progressWindowOf(job),
        ...(job.status?.lastSavepointFailure
          ? { lastSavepointFailure: job.status.lastSavepointFailure.time }
          : {}),
      })),
  });
}

/** Every informer event that concerns a job puts the job in the queue. */
function subscribe(
  { jobs, pods, snapshots, nodes }: Informers,
  queue: WorkQueue,
  forget: (uid: string) => void,
): void {
  // A job that names another job's snapshot or savepoint (spec.initialSnapshot, initialSavepoint's URL) holds
  // that job's deletions and history limits: a change to it, or its deletion, concerns that job too.
  const enqueueReferenced = (job: StreamJob) => {
    const namespace = job.metadata.namespace ?? '';
    const named = job.spec.initialSnapshot && snapshots.get(`${namespace}/${job.spec.initialSnapshot}`);
    if (named) queue.add(`${namespace}/${named.spec.jobName}`);
    const ref = job.spec.initialSavepoint;
    if (!ref?.startsWith('s3://')) return;
    try {
      const url = parseSavepointRef(ref);
      if (url.kind === 'url' && url.namespace === namespace) queue.add(`${namespace}/${url.job}`);
    } catch {
      // Not a savepoint URL (the CRD's pattern refuses those): it names nothing to requeue.
    }
  };
  const enqueueJob = (job: StreamJob) => {
    queue.add(objectKey(job));
    enqueueReferenced(job);
  };
  jobs.subscribe({
    onAdd: enqueueJob,
    onUpdate: (job, previous) => {
      enqueueJob(job);
      if (previous) enqueueReferenced(previous);
    },
    onDelete: (job) => {
      forget(job.metadata.uid ?? '');
      // Its snapshots are no job's now (decideOrphanSnapshots), and what it named is free.
      enqueueJob(job);
    },
  });
  const enqueueOwner = (pod: V1Pod) => {
    const job = podJobKey(pod);
    if (job) queue.add(job);
  };
  pods.subscribe({ onAdd: enqueueOwner, onUpdate: enqueueOwner, onDelete: enqueueOwner });
  // A snapshot concerns its job, and every job of its namespace that names it in spec.initialSnapshot.
  const enqueueSnapshotJobs = (snapshot: StreamJobSnapshot) => {
    const job = snapshotJobKey(snapshot);
    if (job) queue.add(job);
    for (const named of jobs.list()) {
      if (
        named.metadata.namespace === snapshot.metadata.namespace &&
        named.spec.initialSnapshot === snapshot.metadata.name
      )
        queue.add(objectKey(named));
    }
  };
  snapshots.subscribe({
    onAdd: enqueueSnapshotJobs,
    onUpdate: enqueueSnapshotJobs,
    onDelete: enqueueSnapshotJobs,
  });
  const nodeReady = (node: V1Node) => node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  nodes.subscribe({
    onUpdate: (node, previous) => {
      if (nodeReady(node) === nodeReady(previous)) return;
      for (const pod of pods.list()) if (pod.spec?.nodeName === node.metadata?.name) enqueueOwner(pod);
    },
  });
}

/**
 * Runs the operator: loads its settings and control key, fills its caches,
 * serves health and metrics, and reconciles StreamJobs while it holds the
 * leader lease. Ends the process on SIGTERM or SIGINT (after in-flight
 * reconciles finish), and with exit code 1 when it loses the lease.
 */
export async function startOperator(): Promise<void> {
  const config = loadConfig();
  const log = pino({ name: 'weir-operator', level: config.logLevel });
  const kubeConfig = new PooledKubeConfig();
  kubeConfig.loadFromDefault(); // KUBECONFIG out of cluster, the service account in a pod
  // Before anything else: without the key the operator could neither create job tokens nor call TaskManagers.
  const controlKey = await loadControlKey({
    core: kubeConfig.makeApiClient(CoreV1Api),
    namespace: config.leaseNamespace,
    name: config.controlKeySecret,
    log,
  }).catch((error: unknown) => {
    log.fatal({ err: error }, 'cannot load the control key');
    process.exit(1);
  });

  const informers = createInformers(kubeConfig, config, log);
  const { jobs, pods, snapshots, nodes } = informers;
  const metrics = createOperatorMetrics(informers);
  // A finished background request (a savepoint, a disposal) requeues its job, whose next pass observes the outcome.
  const outcomes = new ActionOutcomes((job) => queue.add(objectKey(job)));
  const finalizers = new FinalizerPatcher(kubeConfig);
  const snapshotClient = new SnapshotClient(kubeConfig, finalizers);
  const actuator = new Actuator(
    kubeConfig,
    controlKey,
    outcomes,
    {
      enabled: config.networkPolicy.enabled,
      operator: { namespace: config.leaseNamespace, podLabels: config.networkPolicy.operatorPodLabels },
    },
    snapshotClient,
  );
  const events = new EventRecorder(kubeConfig, 'weir-operator', log);
  const taskManagers = new TaskManagerPoller({
    key: controlKey,
    minIntervalMs: config.statusPollIntervalMs,
    timeoutMs: 2_000,
    now: () => new Date(),
    log,
    onReports: (job) => queue.add(objectKey(job)),
    onPersistentError: (job, pod, error) => {
      const rejected = error.code === 'TASKMANAGER_UNAUTHORIZED';
      const message = rejected
        ? `TaskManager ${pod} refused the operator's token: the job's ${tokenSecretName(job.metadata.name ?? '')} Secret was not made with this operator's key; delete it and restart the job (restartNonce) to renew it`
        : `cannot read TaskManager ${pod} status: ${error.message}`;
      void events.record(
        streamJobEventTarget(job),
        'Warning',
        rejected ? 'ControlTokenRejected' : 'TaskManagerStatusUnreadable',
        message,
      );
    },
  });
  const watch = new TaskManagerWatch({ key: controlKey, onGone: (job) => queue.add(objectKey(job)), log });
  const controller = new StreamJobController({
    jobs,
    pods,
    nodes,
    snapshots,
    snapshotClient,
    status: new StatusRecorder(kubeConfig),
    finalizers,
    events,
    actuator,
    outcomes,
    taskManagers,
    watch,
    metrics,
    decideOptions: {
      nodeLostTimeoutMs: config.nodeLostTimeoutMs,
      degradedWindowMs: 5 * 60_000,
      random: Math.random,
      newRunId: () => randomBytes(4).toString('hex'),
      checkpointPollIntervalMs: config.statusPollIntervalMs,
    },
    now: () => new Date(),
    log,
  });
  const queue = new WorkQueue((key) => controller.reconcile(key), {
    concurrency: config.concurrency,
    backoff: { baseMs: 500, maxMs: 60_000 },
    onError: (key, error, retryInMs) => {
      const code = (error as { code?: unknown }).code;
      metrics.reconcileErrors.inc({ code: typeof code === 'string' ? code : 'UNKNOWN' });
      // A conflict only means the cache was behind the API server; the retry reads the newer object.
      const level = code === 'STATUS_CONFLICT' || code === 'FINALIZER_CONFLICT' ? 'debug' : 'warn';
      log[level](
        { job: key, err: error, retryInMs },
        retryInMs === undefined ? 'reconcile failed (not retried)' : 'reconcile failed',
      );
    },
    onDone: (key, ms, failed) => {
      log.debug({ job: key, durationMs: Math.round(ms), failed }, 'reconciled');
      metrics.reconcileDuration.observe({ result: failed ? 'error' : 'success' }, ms / 1000);
      metrics.queueDepth.set(queue.depth);
    },
  });

  subscribe(informers, queue, (uid) => {
    actuator.forget(uid);
    taskManagers.forget(uid);
    watch.forget(uid);
  });

  const health = await startHealthServer({
    host: config.healthHost,
    port: config.healthPort,
    ready: () => jobs.hasSynced && pods.hasSynced && snapshots.hasSynced && nodes.hasSynced,
    registry: metrics.registry,
  });
  log.info(
    { address: health.address(), watchNamespaces: config.watchNamespaces },
    'serving health and metrics',
  );

  await Promise.all([jobs.start(), pods.start(), snapshots.start(), nodes.start()]);
  log.info({ jobs: jobs.list().length, pods: pods.list().length }, 'caches synced');

  const elector = new LeaderElector(
    kubeConfig,
    {
      namespace: config.leaseNamespace,
      name: config.leaseName,
      identity: config.identity,
      leaseDurationMs: config.lease.durationMs,
      renewDeadlineMs: config.lease.renewDeadlineMs,
      retryPeriodMs: config.lease.retryPeriodMs,
      now: () => new Date(),
    },
    log,
  );
  elector.run({
    onStarted: () => {
      metrics.isLeader.set(1);
      for (const job of jobs.list()) queue.add(objectKey(job));
      queue.start();
    },
    onStopped: () => {
      // A replica that lost the lease may be acting on stale state; exiting lets it restart as a standby.
      metrics.isLeader.set(0);
      log.error('leadership lost; exiting');
      process.exit(1);
    },
  });

  let stopping = false;
  async function shutdown(signal: string) {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight reconciles');
    await queue.stop();
    watch.closeAll();
    await elector.stop();
    jobs.stop();
    pods.stop();
    snapshots.stop();
    nodes.stop();
    health.close();
    log.info('stopped');
    process.exit(0);
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** The job's progress window in seconds, for the metric alerts compare with; none for a spec that does not parse. */
function progressWindowOf(job: StreamJob): { progressWindowSeconds?: number } {
  try {
    return { progressWindowSeconds: timingOf(job.spec).progressWindowMs / 1000 };
  } catch {
    return {};
  }
}
