/**
 * Operator failover (issue 12): a TaskManager fails right after the operator's leader died without
 * releasing its Lease. How long until the job runs again, for each Lease setting?
 *
 * Two operators (from dist/, as the image runs them) share a Lease; a StreamJob of one TaskManager runs on
 * a kwok node (bench/kwok.ts), with restart delay 0. Each round SIGKILLs the leader and at once marks the
 * TaskManager's pod Failed (exit code 137, as a killed container), then watches, every 50 ms: the standby
 * taking the Lease (its acquireTime, microseconds), the failed pod replaced by a Ready one, and the job
 * Running again. The killed operator is started again as the next round's standby. With kwok no process
 * runs in the pod, so the figures are the control plane's part alone; a TaskManager's own restart is
 * bench/recovery.ts.
 *
 * Usage: source .weir/harness/env && node bench/operator-failover.ts [--rounds 5] [--leases 15s/10s/2s,4s/3s/1s]
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CoordinationV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { type Cluster, connect, createTestNamespace, deleteNamespace } from '../e2e/support/cluster.ts';
import { type OperatorProcess, startOperator } from '../e2e/support/operator.ts';
import { applyCrd, standinJob } from '../e2e/support/streamjobs.ts';
import type { StreamJob } from '../src/api/streamjob.ts';
import { type KwokNodes, startKwokNodes } from './kwok.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    leases: { type: 'string', default: '15s/10s/2s,4s/3s/1s' },
  },
});
const rounds = Number(values.rounds);
const settings = values.leases.split(',').map((s) => {
  const [duration, renewDeadline, retryPeriod] = s.split('/');
  if (!duration || !renewDeadline || !retryPeriod) {
    throw new Error(`--leases takes duration/renewDeadline/retryPeriod,…; got "${s}"`);
  }
  return { duration, renewDeadline, retryPeriod };
});
const root = join(import.meta.dirname, '..');
const progress = (message: string) => process.stderr.write(`    ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(50);
  }
}

function metric(metrics: string, name: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;

async function measure(cluster: Cluster, kwok: KwokNodes, lease: (typeof settings)[number]) {
  const namespace = await createTestNamespace(cluster, 'bench-failover');
  const env = {
    WEIR_STATUS_POLL_INTERVAL: '30s',
    WEIR_LEASE_DURATION: lease.duration,
    WEIR_LEASE_RENEW_DEADLINE: lease.renewDeadline,
    WEIR_LEASE_RETRY_PERIOD: lease.retryPeriod,
  };
  let started = 0;
  const operator = () =>
    startOperator({
      name: `${namespace}-${started++}`,
      watchNamespaces: [namespace],
      leaseName: 'weir-operator',
      leaseNamespace: namespace,
      build: 'dist',
      env,
    });
  const operators: OperatorProcess[] = [await operator(), await operator()];
  const jobs = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  const leases = cluster.kubeConfig.makeApiClient(CoordinationV1Api);
  const job = { group: 'weir.dev', version: 'v1alpha1', plural: 'streamjobs', namespace, name: 'job' };
  await jobs.createNamespacedCustomObject({
    ...job,
    body: standinJob('job', {
      image: 'weir-bench/none',
      parallelism: 1,
      restartStrategy: { type: 'fixed-delay', attempts: rounds + 10, delay: '0s' },
      taskManager: {
        terminationGracePeriodSeconds: 30,
        nodeSelector: kwok.nodeSelector,
        tolerations: kwok.tolerations,
      },
    }),
  });
  const running = async () =>
    ((await jobs.getNamespacedCustomObject(job)) as StreamJob).status?.phase === 'Running' ? true : undefined;
  const readyPod = async (not?: string) => {
    const pods = await cluster.core.listNamespacedPod({ namespace });
    return pods.items.find(
      (p: V1Pod) =>
        p.metadata?.uid !== not &&
        !p.metadata?.deletionTimestamp &&
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
  };
  const results: { takeOver: number; replaced: number; running: number }[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      await until('the job Running', 60_000, running);
      const leaderIndex = await until('one leader', 60_000, async () => {
        const states = await Promise.all(
          operators.map(async (o) => metric(await o.metrics(), 'weir_operator_leader')),
        );
        return states.filter((s) => s === 1).length === 1 ? states.indexOf(1) : undefined;
      });
      const pod = await until('a Ready TaskManager pod', 60_000, () => readyPod());
      const leader = operators[leaderIndex] as OperatorProcess;
      const killedAt = Date.now();
      await leader.stop('SIGKILL');
      await cluster.core.patchNamespacedPodStatus(
        {
          namespace,
          name: pod.metadata?.name ?? '',
          body: {
            status: {
              phase: 'Failed',
              conditions: [{ type: 'Ready', status: 'False' }],
              containerStatuses: [
                {
                  name: 'taskmanager',
                  image: 'weir-bench/none',
                  imageID: '',
                  ready: false,
                  restartCount: 0,
                  state: { terminated: { exitCode: 137, reason: 'Error' } },
                },
              ],
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      const timeout = Number.parseInt(lease.duration, 10) * 1000 + 60_000;
      await until('a replacement pod Ready', timeout, () => readyPod(pod.metadata?.uid));
      const replaced = Date.now() - killedAt;
      await until('the job Running again', timeout, running);
      const runningAt = Date.now() - killedAt;
      const taken = await leases.readNamespacedLease({ name: 'weir-operator', namespace });
      const takeOver = new Date(taken.spec?.acquireTime ?? 0).getTime() - killedAt;
      results.push({ takeOver, replaced, running: runningAt });
      progress(
        `lease ${lease.duration}: round ${round}: standby leads after ${takeOver} ms, pod replaced after ${replaced} ms, Running after ${runningAt} ms`,
      );
      operators.splice(leaderIndex, 1);
      operators.push(await operator());
    }
  } finally {
    for (const o of operators) await o.stop();
    await deleteNamespace(cluster, namespace);
  }
  const summary = (pick: (r: (typeof results)[number]) => number) => {
    const sorted = results.map(pick).sort((a, b) => a - b);
    return { p50: quantile(sorted, 0.5), max: sorted.at(-1) ?? Number.NaN };
  };
  return {
    lease: `${lease.duration}/${lease.renewDeadline}/${lease.retryPeriod}`,
    rounds: results.length,
    takeOverMs: summary((r) => r.takeOver),
    replacedMs: summary((r) => r.replaced),
    runningMs: summary((r) => r.running),
  };
}

progress('building the operator into dist/ (tsc -p tsconfig.build.json)');
execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
const cluster = connect();
await applyCrd();
process.stderr.write(`==> operator failover: ${rounds} rounds for each Lease setting (${values.leases})\n`);
const kwok = await startKwokNodes(cluster, 1, 100);
try {
  for (const lease of settings) {
    const row = await measure(cluster, kwok, lease);
    process.stdout.write(`${JSON.stringify(row)}\n`);
  }
} finally {
  await kwok.stop();
}
