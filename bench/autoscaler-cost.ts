/**
 * What the autoscaler costs the operator (issue 35): N StreamJobs of parallelism 1 run on the harness's real
 * nodes as TaskManager stand-ins (tiny-taskmanager.c: a status document with load counters, like a
 * TaskManager's, busy --busy % of the time, moved by up to ±--noise % every 30 s). The same jobs are measured
 * twice in one run, for --minutes each, with the chart's poll interval (charts/weir/values.yaml):
 *   - baseline: autoscaler off;
 *   - autoscaled: spec.autoscaler.enabled on every job (apply mode), measured from once each shows a first
 *     recommendation in status.
 * For each: the operator's writes per job per minute (StreamJob status writes, and Events recorded) and its
 * CPU seconds per minute; then the autoscaler's extra writes and the ratios.
 * The load never asks for more tasks than run (busy ≤ target), so no job rescales: what is measured is the
 * cost of watching, not of acting.
 * Usage: source .weir/harness/env && node bench/autoscaler-cost.ts [--jobs 100] [--minutes 3] [--noise 30]
 */
import { parseArgs } from 'node:util';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { connect, createTestNamespace, deleteNamespace, waitFor } from '../e2e/support/cluster.ts';
import { startOperator } from '../e2e/support/operator.ts';
import { applyCrd, standinJob } from '../e2e/support/streamjobs.ts';
import { type StreamJob, taskManagerDefaults } from '../src/api/streamjob.ts';
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
    minutes: { type: 'string', default: '3' },
    busy: { type: 'string', default: '40' },
    noise: { type: 'string', default: '30' },
  },
});
const count = (name: keyof typeof values, low: number, high: number) => {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < low || value > high)
    throw new Error(`--${name} must be an integer from ${low} to ${high}, got ${values[name]}`);
  return value;
};
const jobCount = count('jobs', 1, 500);
const minutes = count('minutes', 1, 30);
const busyPercent = count('busy', 0, 70);
const noisePercent = count('noise', 0, 100);
const progress = (message: string) => process.stderr.write(`    ${message}\n`);

const cluster = connect();
const api = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
const group = { group: 'weir.dev', version: 'v1alpha1', plural: 'streamjobs' } as const;
const names = Array.from({ length: jobCount }, (_, i) => `job-${i}`);

async function listJobs(namespace: string): Promise<StreamJob[]> {
  return ((await api.listNamespacedCustomObject({ ...group, namespace })) as { items: StreamJob[] }).items;
}

/** The operator's Events in the namespace, each counted as often as it was recorded (the kubelet's are not). */
async function operatorEvents(namespace: string): Promise<number> {
  const list = await cluster.core.listNamespacedEvent({ namespace });
  return list.items
    .filter((e) => e.source?.component === 'weir-operator' || e.reportingComponent === 'weir-operator')
    .reduce((sum, e) => sum + (e.series?.count ?? e.count ?? 1), 0);
}

/**
 * The operator's writes per job per minute over `minutes` from now: its StreamJob writes from the API
 * server's request counters (no other client writes StreamJobs here), its Events from the Events themselves
 * (the API server's counters would add the kubelet's: on the harness, a MissingClusterDNS Event per pod every
 * few seconds). And its CPU seconds per minute.
 */
async function measure(namespace: string, pid: number, what: string) {
  const writesBefore = apiServerWrites();
  const eventsBefore = await operatorEvents(namespace);
  const cpuBefore = procStats(pid).cpuSeconds;
  const started = Date.now();
  progress(`${what}: measuring for ${minutes} min`);
  await new Promise((resolve) => setTimeout(resolve, minutes * 60_000));
  const perJobMinute = jobCount * ((Date.now() - started) / 60_000);
  const round = (n: number) => Math.round(n * 100) / 100;
  const writes = Object.fromEntries(
    Object.entries(writesSince(writesBefore, perJobMinute)).filter(([key]) =>
      /^(PUT|PATCH) streamjobs(\/status)? /.test(key),
    ),
  );
  writes['Events recorded'] = round(((await operatorEvents(namespace)) - eventsBefore) / perJobMinute);
  const total = Object.values(writes).reduce((sum, n) => sum + n, 0);
  return {
    writesPerJobMinute: writes,
    totalPerJobMinute: round(total),
    operatorCpuSecondsPerMinute: round(((procStats(pid).cpuSeconds - cpuBefore) * jobCount) / perJobMinute),
  };
}

await buildTinyTaskManager(true);
await applyCrd();
const namespace = await createTestNamespace(cluster, 'bench-as-cost');
process.stderr.write(
  `==> autoscaler cost: ${jobCount} StreamJobs of stand-ins, busy ${busyPercent} % ± ${noisePercent} %, ${minutes} min per phase\n`,
);
const operator = await startOperator({
  name: namespace,
  watchNamespaces: [namespace],
  leaseName: 'weir-operator',
  leaseNamespace: namespace,
  readyTimeoutMs: 5 * 60_000,
  // The chart's poll interval, not the tests' 2 s: the bench measures what a deployment would do.
  env: { WEIR_STATUS_POLL_INTERVAL: chartValues.statusPollInterval },
});
try {
  const pid = operator.process.pid ?? 0;
  await inParallel(names, 16, (name) =>
    api.createNamespacedCustomObject({
      ...group,
      namespace,
      body: standinJob(name, {
        image: tinyTaskManagerImage,
        parallelism: 1,
        taskManager: {
          ...taskManagerDefaults,
          // A stand-in needs next to nothing; the defaults (1Gi each) would not fit N pods on the harness.
          resources: { requests: { cpu: '1m', memory: '8Mi' }, limits: { memory: '32Mi' } },
          env: [
            { name: 'TINY_BUSY_PERCENT', value: String(busyPercent) },
            { name: 'TINY_NOISE_PERCENT', value: String(noisePercent) },
          ],
        },
      }),
    }),
  );
  await waitFor(`${jobCount} StreamJobs Running`, 15 * 60_000, async () => {
    const running = (await listJobs(namespace)).filter((j) => j.status?.phase === 'Running').length;
    return running === jobCount;
  });
  progress(`all ${jobCount} Running`);
  const baseline = await measure(namespace, pid, 'baseline (autoscaler off)');

  await inParallel(names, 16, (name) =>
    api.patchNamespacedCustomObject({
      ...group,
      namespace,
      name,
      body: [
        {
          op: 'add',
          path: '/spec/autoscaler',
          value: { enabled: true, mode: 'apply', minParallelism: 1, maxParallelism: 12 },
        },
      ],
    }),
  );
  await waitFor(`every job's first recommendation`, 10 * 60_000, async () =>
    (await listJobs(namespace)).every((j) => j.status?.autoscaler?.recommendation !== undefined),
  );
  const autoscaled = await measure(namespace, pid, 'autoscaled');
  const scaled = (await listJobs(namespace)).filter(
    (j) => (j.status?.autoscaler?.parallelism ?? 1) !== 1 || j.status?.autoscaler?.lastScaleTime,
  );
  const extra = Math.round((autoscaled.totalPerJobMinute - baseline.totalPerJobMinute) * 100) / 100;
  process.stdout.write(
    `${JSON.stringify({
      jobs: jobCount,
      minutesPerPhase: minutes,
      busyPercent,
      noisePercent,
      baseline,
      autoscaled,
      extraWritesPerJobMinute: extra,
      ratioWrites: Math.round((autoscaled.totalPerJobMinute / baseline.totalPerJobMinute) * 100) / 100,
      ratioCpu:
        Math.round((autoscaled.operatorCpuSecondsPerMinute / baseline.operatorCpuSecondsPerMinute) * 100) /
        100,
      jobsScaled: scaled.length,
    })}\n`,
  );
} finally {
  await operator.stop();
  await deleteNamespace(cluster, namespace);
}
