/**
 * Savepoint-upgrade downtime (issue 9), on the local harness.
 *
 * For K keys of state (one input record per key, so K counts and K sums), a
 * StreamJob of keyed-count-sum runs in weir:dev pods (parallelism 2, 1 s
 * checkpoints). Once it has committed all K records, the benchmark changes
 * spec.args (a savepoint upgrade) while a probe record is produced every 50 ms,
 * and measures the downtime: from the spec change to the first committed
 * output of the new version (read_committed, version v2).
 *
 * Baseline, measured in the same run: writing the savepoint's bytes to MinIO
 * and reading them back (PUT then GET of objects the same sizes as the
 * savepoint's), which a savepoint upgrade cannot avoid. The goal is
 * downtime <= 2 x (PUT + GET) + 1 s.
 *
 * With --warmup false,true (issue 32) each size runs twice in the same run,
 * without and with spec.upgrade.warmup; besides the spec change → first v2
 * output (which, warm, includes the warm-up while the old version runs on),
 * it reports the output gap: from the last v1 output read to the first v2
 * output, the time no committed output came out; and the longest any probe
 * record waited from its production to its committed output (which counts
 * the old version's savepoint too: records that arrive while it is written
 * wait for the new version).
 *
 * Usage: source .weir/harness/env && node bench/upgrade-downtime.ts [--keys 10000,100000,1000000] [--stores disk,heap] [--warmup false,true]
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { requireEnv, waitFor } from '../e2e/support/cluster.ts';
import { committedOffsets, keyedInput, runtimeStorage } from '../e2e/support/committed-state.ts';
import { startJobNamespace, stopJobNamespace } from '../e2e/support/job-suite.ts';
import { createTopics, kafkaBootstrap, produce, uniqueName } from '../e2e/support/kafka-topics.ts';
import { weirDevJob } from '../e2e/support/streamjobs.ts';
import { type StreamJob, taskManagerDefaults } from '../src/api/streamjob.ts';
import { AssignedConsumer } from '../src/kafka/assigned-consumer.ts';
import { startProbes } from './probes.ts';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '10000,100000,1000000' },
    /** spec.taskManager.state.store of each run, in the same run: "disk,heap" measures both. */
    stores: { type: 'string', default: 'disk' },
    /** spec.upgrade.warmup of each run, in the same run: "false,true" measures both. */
    warmup: { type: 'string', default: 'false' },
    /** A directory to save every pod's log and the job's events in before each job is deleted (where the time went). */
    logs: { type: 'string' },
  },
});
const sizes = (values.keys ?? '').split(',').map(Number);
const partitions = 4;
const storageUrl = `s3://${requireEnv('WEIR_S3_BUCKET')}/bench-upgrade`;

const suite = await startJobNamespace('bench-upgrade', { WEIR_STATUS_POLL_INTERVAL: '1s' });
const { cluster, namespace, jobs } = suite;
const storage = runtimeStorage(storageUrl);

interface Row {
  keys: number;
  store: string;
  warmup: boolean;
  /** From the last v1 output read to the first v2 output read. */
  gapMs: number;
  /** The longest and the median wait of a probe record, from its production to its committed output being read. */
  longestWaitMs: number;
  medianWaitMs: number;
  savepointBytes: number;
  objects: number;
  downtimeMs: number;
  putMs: number;
  getMs: number;
}

/**
 * Reads the output from the topic's end at call time until `afterMs` past the
 * first committed output of `version`: when that first output was read, when
 * the last output of another version was read before it, and how long each
 * probe record waited from its production to its committed output (probe n
 * is key probe<n % 16>, the count of that key's outputs tells which n).
 */
async function watchOutputs(
  topic: string,
  version: string,
  sentAt: ReadonlyMap<number, number>,
  options: { timeoutMs: number; afterMs: number },
): Promise<{ firstAt: number; lastOtherAt: number; waits: number[] }> {
  const consumer = await AssignedConsumer.connect({
    bootstrapServers: kafkaBootstrap(),
    groupId: uniqueName('bench-reader'),
    isolation: 'read_committed',
  });
  consumer.setConsumeTimeout(100);
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: -1 })));
  const deadline = Date.now() + options.timeoutMs;
  let lastOtherAt = Date.now();
  let firstAt: number | undefined;
  const waits: number[] = [];
  try {
    while (Date.now() < deadline && (firstAt === undefined || Date.now() < firstAt + options.afterMs)) {
      for (const m of await consumer.consume(1000)) {
        const now = Date.now();
        const out = JSON.parse(m.value?.toString() ?? '{}') as {
          key?: string;
          count?: number;
          version?: string;
        };
        const probe = /^probe(\d+)$/.exec(out.key ?? '');
        if (probe && out.count !== undefined) {
          const sent = sentAt.get(Number(probe[1]) + 16 * (out.count - 1));
          if (sent !== undefined) waits.push(now - sent);
        }
        if (out.version === version) firstAt ??= now;
        else if (firstAt === undefined) lastOtherAt = now;
      }
    }
    if (firstAt === undefined) throw new Error(`no ${version} output within ${options.timeoutMs} ms`);
    return { firstAt, lastOtherAt, waits };
  } finally {
    await consumer.disconnect();
  }
}

async function measure(keys: number, store: string, warmup: boolean): Promise<Row> {
  const name = `up-${keys}-${store}${warmup ? '-warm' : ''}`;
  const input = uniqueName(`${name}-in`);
  const output = uniqueName(`${name}-out`);
  await createTopics({ name: input, partitions }, { name: output, partitions });
  process.stderr.write(`${keys} keys: producing one record per key\n`);
  for (let from = 0; from < keys; from += 100_000)
    await produce(input, keyedInput(from, Math.min(100_000, keys - from), keys));
  await jobs.create(
    weirDevJob(name, 'keyed-count-sum', {
      args: { input, output, version: 'v1' },
      storageUrl,
      interval: '1s',
      spec: {
        parallelism: 2,
        taskManager: { ...taskManagerDefaults, state: { ...taskManagerDefaults.state, store } },
        ...(warmup ? { upgrade: { warmup: true } } : {}),
      },
    }),
  );
  const running = await jobs.waitFor(name, 'Running', (j) => j.status?.phase === 'Running', 300_000);
  const group = `weir.${namespace}.${name}.${running.status?.run?.id}`;
  await waitFor(`${keys} records committed`, 600_000, async () => {
    const offsets = await committedOffsets(group, input, partitions);
    return offsets.reduce((sum, o) => sum + Math.max(0, o.offset), 0) >= keys;
  });

  process.stderr.write(`${keys} keys: savepoint upgrade with probes flowing\n`);
  const sentAt = new Map<number, number>();
  const stopProbes = startProbes(input, (n) => {
    sentAt.set(n, Date.now());
    return [{ key: `probe${n % 16}`, value: `v${n}` }];
  });
  const firstV2 = watchOutputs(output, 'v2', sentAt, { timeoutMs: 600_000, afterMs: 3_000 });
  await new Promise((resolve) => setTimeout(resolve, 1000)); // the reader is assigned at the end before the change
  const changedAt = Date.now();
  await jobs.patchSpec(name, { args: { input, output, version: 'v2' } });
  const { firstAt, lastOtherAt, waits } = await firstV2;
  const downtimeMs = firstAt - changedAt;
  const gapMs = firstAt - lastOtherAt;
  const sorted = [...waits].sort((a, b) => a - b);
  const longestWaitMs = sorted.at(-1) ?? 0;
  const medianWaitMs = sorted[Math.floor(sorted.length / 2)] ?? 0;
  await stopProbes();
  const upgraded: StreamJob = await jobs.waitFor(name, 'the upgrade savepoint in status', (j) =>
    Boolean(j.status?.savepoints?.some((s) => s.reason === 'upgrade')),
  );
  const id = upgraded.status?.savepoints?.find((s) => s.reason === 'upgrade')?.id ?? '';

  // The baseline: the savepoint's objects, by size, written to MinIO and read back.
  const keysOf = await storage.list(`${namespace}/${name}/savepoints/${id}/`);
  const sizesOf = await Promise.all(keysOf.map(async (k) => (await storage.get(k)).length));
  const blobs = sizesOf.map((n) => randomBytes(n));
  const prefix = `${namespace}/${name}/baseline/`;
  const putStart = performance.now();
  await Promise.all(blobs.map((b, i) => storage.put(`${prefix}${i}`, b)));
  const putMs = performance.now() - putStart;
  const getStart = performance.now();
  await Promise.all(blobs.map((_, i) => storage.get(`${prefix}${i}`)));
  const getMs = performance.now() - getStart;
  if (values.logs) await saveLogs(name, values.logs);
  await jobs.delete(name);
  await waitFor('the pods to go', 120_000, async () => {
    const pods = await cluster.core.listNamespacedPod({ namespace, labelSelector: `weir.dev/job=${name}` });
    return pods.items.length === 0;
  });
  return {
    keys,
    store,
    warmup,
    gapMs,
    longestWaitMs,
    medianWaitMs,
    savepointBytes: sizesOf.reduce((a, b) => a + b, 0),
    objects: sizesOf.length,
    downtimeMs,
    putMs,
    getMs,
  };
}

/** Every pod's TaskManager log and the job's events, into `dir`/<job>-*. */
async function saveLogs(name: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const pods = await cluster.core.listNamespacedPod({ namespace, labelSelector: `weir.dev/job=${name}` });
  for (const pod of pods.items) {
    const podName = pod.metadata?.name ?? '';
    const text = await cluster.core
      .readNamespacedPodLog({ name: podName, namespace, container: 'taskmanager' })
      .catch((error: unknown) => `(no log: ${(error as Error).message})`);
    await writeFile(join(dir, `${podName}.log`), String(text));
  }
  const events = await cluster.core.listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.name=${name}`,
  });
  const lines = events.items.map(
    (e) => `${e.eventTime ?? e.lastTimestamp?.toISOString()} ${e.reason} ${e.message}`,
  );
  await writeFile(join(dir, `${name}.events`), `${lines.sort().join('\n')}\n`);
}

const rows: Row[] = [];
try {
  for (const keys of sizes)
    for (const store of (values.stores ?? 'disk').split(','))
      for (const warmup of (values.warmup ?? 'false').split(','))
        rows.push(await measure(keys, store, warmup === 'true'));
} finally {
  await stopJobNamespace(suite);
}
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
console.log(
  '| keys | state store | warmup | savepoint | objects | spec change → first v2 output | output gap (last v1 → first v2) | longest wait of a record (median) | PUT + GET same bytes | goal 2×(PUT+GET)+1 s | downtime ÷ (PUT+GET) | within goal |',
);
console.log('|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows) {
  const io = r.putMs + r.getMs;
  const goal = 2 * io + 1000;
  console.log(
    `| ${r.keys.toLocaleString('en')} | ${r.store} | ${r.warmup ? 'yes' : 'no'} | ${(r.savepointBytes / 2 ** 20).toFixed(1)} MiB | ${r.objects} | ${s(r.downtimeMs)} | ${s(r.gapMs)} | ${s(r.longestWaitMs)} (${s(r.medianWaitMs)}) | ${s(io)} (${s(r.putMs)} + ${s(r.getMs)}) | ${s(goal)} | ${(r.downtimeMs / io).toFixed(1)} | ${r.downtimeMs <= goal ? 'yes' : 'no'} |`,
  );
}
for (const warm of rows.filter((r) => r.warmup)) {
  const cold = rows.find((r) => !r.warmup && r.keys === warm.keys && r.store === warm.store);
  if (cold)
    console.log(
      `${warm.keys.toLocaleString('en')} keys, ${warm.store}: output gap warm ÷ cold = ${(warm.gapMs / cold.gapMs).toFixed(2)} (${s(warm.gapMs)} / ${s(cold.gapMs)}); longest wait of a record warm ÷ cold = ${(warm.longestWaitMs / cold.longestWaitMs).toFixed(2)} (${s(warm.longestWaitMs)} / ${s(cold.longestWaitMs)}); spec change → first v2 output warm ÷ cold = ${(warm.downtimeMs / cold.downtimeMs).toFixed(2)}`,
    );
}
