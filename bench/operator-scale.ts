/**
 * Operator scale benchmark (issues 3 and 12). For N StreamJobs of parallelism 2 it
 * measures, on the local harness:
 *   - baseline: a minimal client loop creating the same 2N pods directly (the
 *     API server's and the nodes' own limit): time until all exist, until all are Ready;
 *   - Weir: time from applying N StreamJobs until all 2N pods exist and every
 *     StreamJob is Running; the operator's peak RSS and CPU seconds; reconcile
 *     latency p50/p99 (from its histogram, interpolated within buckets);
 *   - a restart of the operator with all N jobs present: time until its first pass
 *     over every job is done, its RSS, and the writes it made (from the API
 *     server's request counters), which should be none.
 * With --kwok the pods run on kwok's simulated nodes (bench/kwok.ts) instead of the
 * harness's real nodes (there, a static stand-in image), so thousands of jobs fit on 2 cores. The operator runs from
 * its build in dist/ (what the image runs; built here), or with --operator source
 * from this checkout's TypeScript.
 * Usage: source .weir/harness/env && node bench/operator-scale.ts --jobs 1000 --kwok [--concurrency 16]
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import {
  connect,
  createTestNamespace,
  deleteNamespace,
  requireEnv,
  waitFor,
} from '../e2e/support/cluster.ts';
import { startOperator } from '../e2e/support/operator.ts';
import { applyCrd, standinJob } from '../e2e/support/streamjobs.ts';
import { type StreamJob, taskManagerDefaults } from '../src/api/streamjob.ts';
import { taskManagerPod, tokenSecret } from '../src/operator/deploy/taskmanager-pod.ts';
import { type KwokNodes, startKwokNodes } from './kwok.ts';
import { createMemoryCgroup, type MemoryCgroup } from './memory-cgroup.ts';
import {
  apiServerWrites,
  buildTinyTaskManager,
  chartValues,
  inParallel,
  procStats,
  tinyTaskManagerImage,
  writesSince,
} from './operator-kit.ts';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '16' },
    kwok: { type: 'boolean', default: false },
    'pods-per-node': { type: 'string', default: '1000' },
    operator: { type: 'string', default: 'dist' },
    // The operator runs in a memory cgroup with this limit, as in a pod with resources.limits.memory; 0: none.
    'memory-limit': { type: 'string', default: '256' },
    // Skips the raw-client baseline (no ratios), for profiling the operator alone.
    'skip-baseline': { type: 'boolean', default: false },
    // The operator's reconcile concurrency (WEIR_OPERATOR_CONCURRENCY); the chart's value if not given.
    'operator-concurrency': { type: 'string', default: '' },
    // Extra Node options for the operator, after the chart's (e.g. --heapsnapshot-near-heap-limit=1).
    'operator-node-options': { type: 'string', default: '' },
    // Leaves the StreamJobs, their pods and kwok running at the end, for profiling an operator by hand.
    keep: { type: 'boolean', default: false },
  },
});
const jobCount = Number(values.jobs);
const concurrency = Number(values.concurrency);
const podsPerNode = Number(values['pods-per-node']);
const operatorBuild = values.operator;
const memoryLimitMiB = Number(values['memory-limit']);
if (!Number.isInteger(jobCount) || jobCount < 1)
  throw new Error(`--jobs must be a positive integer, got ${values.jobs}`);
if (operatorBuild !== 'dist' && operatorBuild !== 'source') {
  throw new Error(`--operator must be dist or source, got ${operatorBuild}`);
}
const parallelism = 2;
const image = tinyTaskManagerImage;
const root = join(import.meta.dirname, '..');

/**
 * Each poll lists every pod or StreamJob of the run: at thousands of jobs that is megabytes per poll, which
 * would load the API server being measured, so the interval grows with the run (0.5 s at 250 jobs, 5 s cap).
 */
const pollIntervalMs = Math.min(5_000, 500 * Math.max(1, jobCount / 250));

/** Polls until `done`; unlike the tests' waitFor, an error ends the benchmark at once. */
async function poll(what: string, timeoutMs: number, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}

const progress = (message: string) => process.stderr.write(`    ${message}\n`);
const seconds = (ms: number) => Math.round(ms / 100) / 10;

async function countPods(
  cluster: ReturnType<typeof connect>,
  namespace: string,
  ready: boolean,
): Promise<number> {
  let count = 0;
  let token: string | undefined;
  do {
    const page = await cluster.core.listNamespacedPod({ namespace, limit: 500, _continue: token });
    for (const pod of page.items) {
      const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
      if (waiting && waiting.reason !== 'ContainerCreating') {
        throw new Error(`pod ${pod.metadata?.name} cannot start: ${waiting.reason}: ${waiting.message}`);
      }
    }
    count += page.items.filter((p: V1Pod) =>
      ready ? p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') : true,
    ).length;
    token = page.metadata?._continue || undefined;
  } while (token);
  return count;
}

/** Where the pods go: the harness's nodes, or kwok's (a node selector and a toleration of their taint). */
type Placement = Pick<KwokNodes, 'nodeSelector' | 'tolerations'> | undefined;

/** The same pods the operator would create, but from a plain loop. */
async function baseline(cluster: ReturnType<typeof connect>, placement: Placement) {
  const namespace = await createTestNamespace(cluster, 'bench-baseline');
  const pods = jobCount * parallelism;
  // A job object only to feed the pod builder; it is never applied.
  const template: StreamJob = {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'StreamJob',
    metadata: { name: 'base', namespace, uid: '00000000-0000-0000-0000-000000000000' },
    spec: {
      image,
      entry: 'dist/jobs/bench.js',
      parallelism,
      taskSlots: 1,
      kafka: { bootstrapServers: requireEnv('WEIR_KAFKA_BOOTSTRAP') },
      checkpoints: {
        storage: { url: 's3://weir/bench', region: 'us-east-1' },
        interval: '10s',
        mode: 'exactly-once',
        timeout: '60s',
        tolerableFailures: 3,
        retained: 3,
      },
      restartStrategy: { type: 'exponential-delay' },
      ...(placement ? { taskManager: { ...taskManagerDefaults, ...placement } } : {}),
      failoverStrategy: 'region',
      state: 'running',
      restartNonce: 0,
      savepointTriggerNonce: 0,
      allowNonRestoredState: false,
      upgradeMode: 'savepoint',
      upgrade: {
        stableTimeout: '5m',
        rollback: true,
        savepointTimeout: '2m',
        savepointFallback: true,
        warmup: false,
        warmupTimeout: '5m',
      },
      savepoints: { historyMaxCount: 10, onDeletion: false },
    },
  };
  // Without the owner reference: the template job does not exist, so the garbage collector would remove it.
  const secret = tokenSecret(template, 'bench');
  secret.metadata = { ...secret.metadata, ownerReferences: [] };
  await cluster.core.createNamespacedSecret({ namespace, body: secret });
  const started = performance.now();
  await inParallel(
    Array.from({ length: pods }, (_, i) => i),
    concurrency,
    async (i) => {
      const pod = taskManagerPod(template, {
        index: i % parallelism,
        runId: 'base',
        restartEpoch: 0,
        specHash: 'base',
      });
      pod.metadata = { ...pod.metadata, name: `base-${i}`, ownerReferences: [] };
      await cluster.core.createNamespacedPod({ namespace, body: pod });
    },
  );
  const created = performance.now() - started;
  progress(`baseline: ${pods} pods created in ${seconds(created)}s`);
  await poll(
    `${pods} baseline pods ready`,
    20 * 60_000,
    async () => (await countPods(cluster, namespace, true)) === pods,
  );
  const ready = performance.now() - started;
  progress(`baseline: all ready after ${seconds(ready)}s`);
  await cleanUp(cluster, namespace);
  return { created, ready };
}

async function cleanUp(cluster: ReturnType<typeof connect>, namespace: string) {
  await deleteNamespace(cluster, namespace);
  await waitFor(`namespace ${namespace} to be gone`, 30 * 60_000, async () => {
    const list = await cluster.core.listNamespace();
    return !list.items.some((n) => n.metadata?.name === namespace);
  });
}

function quantile(metrics: string, q: number): number {
  const buckets = [
    ...metrics.matchAll(/weir_reconcile_duration_seconds_bucket\{le="([^"]+)",result="success"\} (\d+)/g),
  ].map(([, le, count]) => ({
    le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le),
    count: Number(count),
  }));
  const total = buckets.at(-1)?.count ?? 0;
  const rank = q * total;
  let previous = { le: 0, count: 0 };
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return previous.le;
      const within =
        bucket.count === previous.count ? 0 : (rank - previous.count) / (bucket.count - previous.count);
      return previous.le + within * (bucket.le - previous.le);
    }
    previous = bucket;
  }
  return Number.NaN;
}

const operatorConcurrency = values['operator-concurrency'] || String(chartValues.concurrency);
/** The Node options the chart gives the operator (its heap as a share of the memory limit). */
const chartNodeOptions = `--max-old-space-size-percentage=${chartValues.heapPercent}`;

/** The operator, in a memory cgroup of its own when a limit is set. */
async function startBenchOperator(namespace: string, name: string) {
  const cgroup = memoryLimitMiB > 0 ? createMemoryCgroup(`weir-${name}`, memoryLimitMiB) : undefined;
  const operator = await startOperator({
    name,
    ...(cgroup ? { prefix: cgroup.prefix } : {}),
    watchNamespaces: [namespace],
    leaseName: 'weir-operator',
    leaseNamespace: namespace,
    build: operatorBuild as 'dist' | 'source',
    readyTimeoutMs: 5 * 60_000,
    // The chart's defaults, not the tests' 2 s poll: the bench measures what a deployment would do.
    env: {
      WEIR_STATUS_POLL_INTERVAL: chartValues.statusPollInterval,
      WEIR_OPERATOR_CONCURRENCY: operatorConcurrency,
      NODE_OPTIONS: `${chartNodeOptions} ${values['operator-node-options']}`.trim(),
    },
  });
  return { operator, cgroup };
}

/** Memory as a pod's limit sees it: peak charged to the cgroup, reclaims at the limit, OOM kills. */
function memoryOf(cgroup: MemoryCgroup | undefined) {
  if (!cgroup) return {};
  const usage = cgroup.usage();
  cgroup.remove();
  return { cgroupPeakMiB: usage.peakMiB, limitHits: usage.limitHits, oomKills: usage.oomKills };
}

function alive(operator: { process: { exitCode: number | null; signalCode: string | null } }, what: string) {
  const { exitCode, signalCode } = operator.process;
  if (exitCode !== null || signalCode !== null) {
    throw new Error(`the operator exited (${signalCode ?? `code ${exitCode}`}) while ${what}; see its log`);
  }
}

async function weir(cluster: ReturnType<typeof connect>, placement: Placement) {
  await applyCrd();
  const namespace = await createTestNamespace(cluster, 'bench-weir');
  try {
    return await measureWeir(cluster, placement, namespace);
  } catch (error) {
    // While kwok still runs, so its pods can go; a failed run leaves nothing behind for the next.
    progress(`failed; removing namespace ${namespace}`);
    await cleanUp(cluster, namespace).catch(() => undefined);
    throw error;
  }
}

async function measureWeir(cluster: ReturnType<typeof connect>, placement: Placement, namespace: string) {
  const { operator, cgroup } = await startBenchOperator(namespace, namespace);
  const pid = operator.process.pid ?? 0;
  const before = procStats(pid);
  const api = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  const writesBefore = apiServerWrites();
  const started = performance.now();
  await inParallel(
    Array.from({ length: jobCount }, (_, i) => i),
    concurrency,
    async (i) => {
      await api.createNamespacedCustomObject({
        group: 'weir.dev',
        version: 'v1alpha1',
        plural: 'streamjobs',
        namespace,
        body: standinJob(`job-${i}`, {
          image,
          parallelism,
          ...(placement ? { taskManager: { ...taskManagerDefaults, ...placement } } : {}),
        }),
      });
    },
  );
  progress(`weir: ${jobCount} StreamJobs applied in ${seconds(performance.now() - started)}s`);
  let podsExistAt = 0;
  let lastReport = 0;
  await poll(`${jobCount} StreamJobs Running`, 20 * 60_000, async () => {
    alive(operator, 'the jobs started');
    if (!podsExistAt && (await countPods(cluster, namespace, false)) === jobCount * parallelism) {
      podsExistAt = performance.now() - started;
      progress(`weir: all ${jobCount * parallelism} pods exist after ${seconds(podsExistAt)}s`);
    }
    const list = (await api.listNamespacedCustomObject({
      group: 'weir.dev',
      version: 'v1alpha1',
      plural: 'streamjobs',
      namespace,
    })) as { items: StreamJob[] };
    const running = list.items.filter((j) => j.status?.phase === 'Running').length;
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      progress(`weir: ${running}/${jobCount} Running after ${seconds(performance.now() - started)}s`);
    }
    return running === jobCount && podsExistAt > 0;
  });
  const allRunning = performance.now() - started;
  const after = procStats(pid);
  const metrics = await operator.metrics();
  const writes = writesSince(writesBefore, jobCount);
  await operator.stop();
  const memory = memoryOf(cgroup);
  const restart = await restartWithAllJobs(namespace);
  if (values.keep) progress(`kept: namespace ${namespace} with ${jobCount} StreamJobs`);
  else await cleanUp(cluster, namespace);
  return {
    podsExist: podsExistAt,
    allRunning,
    cpuSeconds: Math.round((after.cpuSeconds - before.cpuSeconds) * 10) / 10,
    peakRssMiB: after.peakRssMiB,
    p50: quantile(metrics, 0.5),
    p99: quantile(metrics, 0.99),
    memory,
    writes,
    restart,
  };
}

/**
 * Starts a new operator while all jobs run, and waits until it has reconciled every job once and its
 * queue is empty. The writes it makes meanwhile (to StreamJobs, pods, Secrets, Events) are counted;
 * kwok's pod status patches and every Lease renewal are other clients' and left out.
 */
async function restartWithAllJobs(namespace: string) {
  const before = apiServerWrites();
  const started = performance.now();
  const { operator, cgroup } = await startBenchOperator(namespace, `${namespace}-restart`);
  const synced = performance.now() - started;
  const reconciled = (metrics: string) =>
    Number(/^weir_reconcile_duration_seconds_count\{result="success"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
  let metrics = '';
  await poll('the restarted operator to reconcile every job', 20 * 60_000, async () => {
    alive(operator, 'it passed over the jobs after a restart');
    metrics = await operator.metrics();
    return reconciled(metrics) >= jobCount && /^weir_workqueue_depth 0$/m.test(metrics);
  });
  const passDone = performance.now() - started;
  const stats = procStats(operator.process.pid ?? 0);
  await operator.stop();
  const memory = memoryOf(cgroup);
  const writes = writesSince(before);
  progress(`restart: synced after ${seconds(synced)}s, every job reconciled after ${seconds(passDone)}s`);
  return {
    syncedS: seconds(synced),
    passDoneS: seconds(passDone),
    peakRssMiB: stats.peakRssMiB,
    memory,
    writes,
  };
}

await buildTinyTaskManager(!values.kwok);
if (operatorBuild === 'dist') {
  progress('building the operator into dist/ (tsc -p tsconfig.build.json)');
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
}
const cluster = connect();
process.stderr.write(
  `==> operator scale benchmark: ${jobCount} StreamJobs × parallelism ${parallelism}, operator from ${operatorBuild}, ${values.kwok ? 'kwok nodes' : 'harness nodes'}\n`,
);
const kwok = values.kwok
  ? await startKwokNodes(cluster, Math.ceil((jobCount * parallelism) / podsPerNode), podsPerNode)
  : undefined;
const placement = kwok ? { nodeSelector: kwok.nodeSelector, tolerations: kwok.tolerations } : undefined;
const base = values['skip-baseline']
  ? { created: Number.NaN, ready: Number.NaN }
  : await baseline(cluster, placement);
const result = await weir(cluster, placement).catch(async (error: unknown) => {
  await kwok?.stop();
  throw error;
});
if (values.keep) {
  progress('kept: kwok runs until this process is stopped (Ctrl-C); the nodes stay until then');
  process.once('SIGINT', () => void kwok?.stop().then(() => process.exit(0)));
  process.once('SIGTERM', () => void kwok?.stop().then(() => process.exit(0)));
} else {
  await kwok?.stop();
}
const row = {
  jobs: jobCount,
  pods: jobCount * parallelism,
  nodes: kwok ? 'kwok' : 'harness',
  operator: operatorBuild,
  operatorConcurrency: Number(operatorConcurrency),
  baselineCreatedS: seconds(base.created),
  baselineReadyS: seconds(base.ready),
  weirPodsExistS: seconds(result.podsExist),
  weirAllRunningS: seconds(result.allRunning),
  ratioPodsExist: Math.round((result.podsExist / base.created) * 100) / 100,
  ratioRunning: Math.round((result.allRunning / base.ready) * 100) / 100,
  memoryLimitMiB: memoryLimitMiB || 'none',
  operatorPeakRssMiB: result.peakRssMiB,
  operatorMemory: result.memory,
  operatorCpuSeconds: result.cpuSeconds,
  // Writes per job in the Weir phase, by verb, resource and HTTP code; "POST streamjobs 201" is the bench's own.
  writesPerJob: result.writes,
  reconcileP50ms: Math.round(result.p50 * 10000) / 10,
  reconcileP99ms: Math.round(result.p99 * 10000) / 10,
  restartSyncedS: result.restart.syncedS,
  restartAllReconciledS: result.restart.passDoneS,
  restartPeakRssMiB: result.restart.peakRssMiB,
  restartMemory: result.restart.memory,
  restartWrites: result.restart.writes,
};
process.stdout.write(`${JSON.stringify(row)}\n`);
