/**
 * Recovery after a TaskManager is killed (issue 12), on the local harness:
 * the time from SIGKILL until every key's committed output moves again, over
 * `--kills` kills (20 by default), with its percentiles and its parts.
 *
 * A keyed-count-sum StreamJob of `--pods` single-task TaskManagers (4 by
 * default; 1 s checkpoints; restart delay 0 under fixed-delay) reads a probe
 * record for each of 16 keys every 50 ms. Each round kills one TaskManager's
 * process (the pods in turn). A read_committed reader tracks every key's
 * emitted count; a key moves again at its first output above the highest
 * count seen 300 ms after the kill (by then the reader has read everything
 * committed before it; nothing of the killed process commits after it).
 *
 * The parts, each measured on this machine's one clock: the kill until the
 * operator records the failure (status.restarts.lastFailure.time), until the
 * replacement pod exists and is bound to a node (the bench watches the pod
 * every 25 ms), until the TaskManager's first log line (process start and
 * module loading), "connected to Kafka" (the S3 check; Kafka's metadata,
 * producer with fencing and consumer), "restored" (committed offsets, snapshot
 * GETs, checksums, decode), its first committed checkpoint, and every key
 * moving. Only the
 * restarted pod's keys wait for all of it; the other pods' keys never stop.
 *
 * With `--all`, each round kills every TaskManager at once; a part is then the
 * slowest pod's.
 *
 * With `--state-mb N`, about N MB of state per task is written first (keys of
 * 100 characters, each with a count and a sum, through the job itself) and
 * each round starts once it is committed; `--interval` sets the checkpoint
 * interval (1s by default; a large state wants a longer one on this machine).
 *
 * Usage: source .weir/harness/env && node bench/recovery.ts [--kills 20] [--pods 4] [--all]
 *        [--state-mb 100 --pods 1 --interval 10s]
 */
import { parseArgs } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { requireEnv } from '../e2e/support/cluster.ts';
import { killContainer } from '../e2e/support/harness-nodes.ts';
import { startJobNamespace, stopJobNamespace } from '../e2e/support/job-suite.ts';
import { createTopics, produce, uniqueName } from '../e2e/support/kafka-topics.ts';
import { weirDevJob } from '../e2e/support/streamjobs.ts';
import { countReader, startProbes } from './probes.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '20' },
    pods: { type: 'string', default: '4' },
    all: { type: 'boolean', default: false },
    'state-mb': { type: 'string', default: '0' },
    interval: { type: 'string', default: '1s' },
  },
});
const kills = Number(values.kills);
const pods = Number(values.pods);
const keys = 16;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const suite = await startJobNamespace('bench-recovery');
const { cluster, namespace, jobs } = suite;

interface Round {
  pod: string;
  /** Milliseconds after the kill. */
  failureRecorded: number;
  podCreated: number;
  podBound: number;
  processStarted: number;
  /** The S3 check, and Kafka: metadata, the producer with fencing, the consumer. */
  kafkaConnected: number;
  /** Committed offsets, snapshot GETs, checksums, decode. */
  restored: number;
  firstCommit: number;
  everyKeyMoving: number;
}

async function readPod(name: string): Promise<V1Pod | undefined> {
  return cluster.core.readNamespacedPod({ namespace, name }).catch(() => undefined);
}

/** The pino log lines of a pod, parsed; [] while it has none. */
async function logLines(name: string): Promise<{ time: number; msg: string; bytes?: number }[]> {
  const text = await cluster.core
    .readNamespacedPodLog({ namespace, name, container: 'taskmanager' })
    .catch(() => '');
  return String(text)
    .split('\n')
    .flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as { time?: number; msg?: string; bytes?: number };
        return typeof parsed.time === 'number'
          ? [
              {
                time: parsed.time,
                msg: parsed.msg ?? '',
                ...(parsed.bytes === undefined ? {} : { bytes: parsed.bytes }),
              },
            ]
          : [];
      } catch {
        return [];
      }
    });
}

/** When the pod's replacement (another uid) was first seen, and bound to a node; polled every 25 ms. */
async function watchReplacement(
  podName: string,
  before: V1Pod,
): Promise<{ podCreated: number; podBound: number }> {
  let podCreated = Number.NaN;
  let podBound = Number.NaN;
  const watchUntil = Date.now() + 120_000;
  while (Number.isNaN(podBound) && Date.now() < watchUntil) {
    const pod = await readPod(podName);
    if (pod && pod.metadata?.uid !== before.metadata?.uid) {
      if (Number.isNaN(podCreated)) podCreated = Date.now();
      if (pod.spec?.nodeName) podBound = Date.now();
    }
    await sleep(25);
  }
  return { podCreated, podBound };
}

const name = 'recovery';
const input = uniqueName('recovery-in');
const output = uniqueName('recovery-out');
await createTopics({ name: input, partitions: pods }, { name: output, partitions: pods });
// A key of 100 characters with its count and sum comes to about 250 bytes of snapshot.
const seeded = Math.round((Number(values['state-mb']) * 1_000_000 * pods) / 250);
if (seeded) {
  process.stderr.write(
    `writing ${seeded.toLocaleString()} keys of state (about ${values['state-mb']} MB per task)\n`,
  );
  for (let from = 0; from < seeded; from += 50_000) {
    const count = Math.min(50_000, seeded - from);
    await produce(
      input,
      Array.from({ length: count }, (_, i) => ({ key: `s${from + i}`.padEnd(100, '-'), value: 'v1' })),
    );
  }
}
const stopProbes = startProbes(input, (n) =>
  Array.from({ length: keys }, (_, k) => ({ key: `k${k}`, value: `v${n}` })),
);
const reader = await countReader(output, pods, keys);
const rounds: Round[] = [];
try {
  const body = weirDevJob(name, 'keyed-count-sum', {
    args: { input, output, version: 'v1' },
    storageUrl: `s3://${requireEnv('WEIR_S3_BUCKET')}/bench-recovery`,
    interval: values.interval,
    spec: {
      parallelism: pods,
      restartStrategy: { type: 'fixed-delay', attempts: kills * (values.all ? pods : 1) + 10, delay: '0s' },
      failoverStrategy: 'region',
    },
  });
  await jobs.create(body);
  await jobs.waitFor(name, 'Running', (j) => j.status?.phase === 'Running', 180_000);
  if (seeded) {
    const until = Date.now() + 600_000;
    while (reader.keysSeen() < seeded + keys && Date.now() < until) await sleep(1000);
    if (reader.keysSeen() < seeded + keys) throw new Error(`only ${reader.keysSeen()} keys have output`);
    await sleep(2 * Number.parseFloat(values.interval) * 1000 + 3000); // committed in a checkpoint, then steady
    const sizes = (await logLines(`${name}-tm-0`)).flatMap((l) => (l.bytes === undefined ? [] : [l.bytes]));
    process.stderr.write(
      `state written: task 0's last snapshot is ${(Math.max(...sizes) / 1e6).toFixed(1)} MB\n`,
    );
  }
  for (let round = 0; round < kills; round++) {
    await sleep(3000); // steady: every pod Ready, several checkpoints committed since the last round
    await jobs.waitFor(name, 'Running', (j) => j.status?.phase === 'Running', 120_000);
    const victims = values.all
      ? Array.from({ length: pods }, (_, i) => `${name}-tm-${i}`)
      : [`${name}-tm-${round % pods}`];
    const before = await Promise.all(victims.map(async (pod) => (await readPod(pod)) as V1Pod));
    const killedAt = Date.now();
    await Promise.all(before.map((pod) => killContainer(pod, 'taskmanager')));
    const watched = victims.map((pod, i) => watchReplacement(pod, before[i] as V1Pod));
    await sleep(300);
    reader.mark();
    const movedAt = await reader.allMoved(120_000);
    const replaced = await Promise.all(
      victims.map(async (pod, i) => {
        const { podCreated, podBound } = await (watched[i] as ReturnType<typeof watchReplacement>);
        const lines = await logLines(pod);
        const restored = lines.find((l) => l.msg === 'restored')?.time ?? Number.NaN;
        const kafkaConnected = lines.find((l) => l.msg === 'connected to Kafka')?.time ?? Number.NaN;
        const firstCommit =
          lines.find((l) => l.msg === 'checkpoint: committed' && l.time >= restored)?.time ?? Number.NaN;
        return {
          podCreated,
          podBound,
          processStarted: lines[0]?.time ?? Number.NaN,
          kafkaConnected,
          restored,
          firstCommit,
        };
      }),
    );
    const slowest = (part: keyof (typeof replaced)[number]) =>
      Math.max(...replaced.map((p) => p[part])) - killedAt;
    const failure = (await jobs.get(name)).status?.restarts?.lastFailure;
    const r: Round = {
      pod: victims.join(','),
      failureRecorded: failure ? new Date(failure.time).getTime() - killedAt : Number.NaN,
      podCreated: slowest('podCreated'),
      podBound: slowest('podBound'),
      processStarted: slowest('processStarted'),
      kafkaConnected: slowest('kafkaConnected'),
      restored: slowest('restored'),
      firstCommit: slowest('firstCommit'),
      everyKeyMoving: movedAt - killedAt,
    };
    rounds.push(r);
    process.stderr.write(
      `kill ${round + 1}/${kills} (${r.pod}): every key moving after ${r.everyKeyMoving} ms ${JSON.stringify(r)}\n`,
    );
  }
} finally {
  await stopProbes();
  await reader.stop();
  await jobs.delete(name).catch(() => undefined);
  await stopJobNamespace(suite);
}

const percentile = (xs: number[], p: number) => {
  const sorted = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const parts: [keyof Round, string][] = [
  ['failureRecorded', 'operator records the failure'],
  ['podCreated', 'replacement pod exists'],
  ['podBound', 'replacement pod bound to a node'],
  ['processStarted', 'TaskManager process logs its first line'],
  ['kafkaConnected', 'S3 checked; Kafka connected, predecessor fenced'],
  ['restored', 'TaskManager restored (offsets, state)'],
  ['firstCommit', 'first checkpoint committed'],
  ['everyKeyMoving', 'every key’s committed output moves again'],
];
console.log(
  `\n${rounds.length} kills of ${values.all ? 'all' : 'one'} of ${pods} single-task TaskManagers, restart delay 0, ${values.interval} checkpoints${seeded ? `, about ${values['state-mb']} MB of state per task` : ''}${values.all ? ' (each part: the slowest pod)' : ''}`,
);
console.log('| from the SIGKILL until | p50 | p90 | max |');
console.log('|---|---:|---:|---:|');
for (const [part, label] of parts) {
  const xs = rounds.map((r) => r[part] as number);
  const s = (ms: number) => (Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`);
  console.log(`| ${label} | ${s(percentile(xs, 50))} | ${s(percentile(xs, 90))} | ${s(Math.max(...xs))} |`);
}
