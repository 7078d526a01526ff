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
 * With `--standbys 0,1` (issue 32), the whole measure runs once per value in
 * the same run, on the same broker: first without standby pods, then with
 * spec.standby.replicas 1, and the last table gives each figure's ratio. With
 * standbys the failed pod's tasks move to its standby (another pod), whose
 * log holds the restore's parts; each round starts once every index has a
 * Ready standby again (caught up with the changelog).
 *
 * With `--stop delete`, each round deletes the pod (a graceful stop: its last
 * commit) instead of killing its process. With `--volumes ephemeral,persistent`
 * (issue 32, local recovery) the measure runs once per value in the same run:
 * persistent gives each pod a claim of its own (spec.taskManager.state.
 * persistentVolume, bound here to a hostPath volume made for it), on which a
 * pod that comes back after a graceful stop reuses its store.
 *
 * Usage: source .weir/harness/env && node bench/recovery.ts [--kills 20] [--pods 4] [--all]
 *        [--state-mb 100 --pods 1 --interval 10s] [--standbys 0,1]
 *        [--stop delete --volumes ephemeral,persistent]
 */
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { requireEnv } from '../e2e/support/cluster.ts';
import { killContainer } from '../e2e/support/harness-nodes.ts';
import { startJobNamespace, stopJobNamespace } from '../e2e/support/job-suite.ts';
import { createTopics, produce, uniqueName } from '../e2e/support/kafka-topics.ts';
import { weirDevJob } from '../e2e/support/streamjobs.ts';
import { stateClaimName, taskManagerPodName } from '../src/api/names.ts';
import { taskManagerDefaults } from '../src/api/streamjob.ts';
import { countReader, startProbes } from './probes.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '20' },
    pods: { type: 'string', default: '4' },
    all: { type: 'boolean', default: false },
    'state-mb': { type: 'string', default: '0' },
    interval: { type: 'string', default: '1s' },
    standbys: { type: 'string', default: '0' },
    stop: { type: 'string', default: 'kill' },
    volumes: { type: 'string', default: 'ephemeral' },
  },
});
const graceful = values.stop === 'delete';
const volumeKinds = values.volumes.split(',');
for (const kind of volumeKinds)
  if (kind !== 'ephemeral' && kind !== 'persistent')
    throw new Error(`--volumes: ${kind} is not ephemeral or persistent`);
const standbyCounts = values.standbys.split(',').map(Number);
const kills = Number(values.kills);
const pods = Number(values.pods);
const keys = 16;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const suite = await startJobNamespace('bench-recovery');
const { cluster, namespace, jobs } = suite;

interface Round {
  /** The machine's dirty and writeback page cache at its highest during the round (MB): the harness's nodes share one disk. */
  dirtyPeakMb: number;
  pod: string;
  /** The pod that took over (with standbys, the promoted one). */
  tookOver: string;
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

/** Samples Dirty + Writeback from /proc/meminfo every 100 ms until stopped; stop() gives the peak in MB. */
function sampleDirtyPages(): { stop(): number } {
  let peakKb = 0;
  const read = () => {
    const info = readFileSync('/proc/meminfo', 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    peakKb = Math.max(peakKb, kb('Dirty') + kb('Writeback'));
  };
  read();
  const timer = setInterval(read, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.round(peakKb / 1024);
    },
  };
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

/** The pods of each index that run its tasks now (status.standby.activeSlots). */
async function activePods(name: string): Promise<string[]> {
  const slots = (await jobs.get(name)).status?.standby?.activeSlots ?? [];
  return Array.from({ length: pods }, (_, i) => taskManagerPodName(name, i, slots[i] ?? 0));
}

/** Until every index has a Ready standby (a pod of the job that is not active, Running and Ready). */
async function standbysReady(name: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const active = new Set(await activePods(name));
    const list = await cluster.core.listNamespacedPod({ namespace, labelSelector: `weir.dev/job=${name}` });
    const ready = list.items.filter(
      (p) =>
        !active.has(p.metadata?.name ?? '') &&
        !p.metadata?.deletionTimestamp &&
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    const indexes = new Set(ready.map((p) => p.metadata?.labels?.['weir.dev/pod-index']));
    if (indexes.size >= pods) return;
    await sleep(200);
  }
  throw new Error(`the standbys of ${name} were not all Ready within ${timeoutMs} ms`);
}

/** hostPath volumes pre-bound to the pods' state claims: the harness has no provisioner. */
async function persistentVolumes(name: string): Promise<() => Promise<void>> {
  const logs = process.env.WEIR_HARNESS_LOGS;
  const root = join(logs ? dirname(logs) : '.weir/harness', 'volumes', uniqueName('bench'));
  const made: string[] = [];
  for (let i = 0; i < pods; i++) {
    const dir = join(root, String(i));
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const volume = uniqueName(`weir-bench-${i}`).toLowerCase();
    await cluster.core.createPersistentVolume({
      body: {
        metadata: { name: volume },
        spec: {
          capacity: { storage: '20Gi' },
          accessModes: ['ReadWriteOnce'],
          storageClassName: benchStorageClass,
          persistentVolumeReclaimPolicy: 'Retain',
          claimRef: { namespace, name: stateClaimName(taskManagerPodName(name, i)) },
          hostPath: { path: dir, type: 'Directory' },
        },
      },
    });
    made.push(volume);
  }
  return async () => {
    for (const volume of made)
      await cluster.core.deletePersistentVolume({ name: volume }).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  };
}
const benchStorageClass = 'weir-bench-manual';

async function measure(standby: number, volume: string): Promise<Round[]> {
  const name = `recovery-s${standby}-${volume}`;
  const persistent = volume === 'persistent';
  const dropVolumes = persistent ? await persistentVolumes(name) : async () => undefined;
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
  const stopProbes = startProbes(
    input,
    (n) => Array.from({ length: keys }, (_, k) => ({ key: `k${k}`, value: `v${n}` })),
    50,
    // The probes run as long as the rounds may: with large state each round waits for a standby to load it.
    600_000 + kills * 180_000,
  );
  const reader = await countReader(output, pods, keys, {
    probeKeys: Array.from({ length: keys }, (_, k) => `k${k}`),
    maxMs: 600_000 + kills * 180_000,
  });
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
        ...(standby ? { standby: { replicas: standby } } : {}),
        ...(persistent
          ? {
              taskManager: {
                ...taskManagerDefaults,
                state: {
                  ...taskManagerDefaults.state,
                  volumeSize: '20Gi',
                  persistentVolume: { storageClassName: benchStorageClass },
                },
              },
            }
          : {}),
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
      if (standby) await standbysReady(name, 600_000);
      const active = await activePods(name);
      const victims = values.all ? active : [active[round % pods] as string];
      const indexes = values.all ? active.map((_, i) => i) : [round % pods];
      const before = await Promise.all(victims.map(async (pod) => (await readPod(pod)) as V1Pod));
      const dirty = sampleDirtyPages();
      const killedAt = Date.now();
      await Promise.all(
        before.map((pod) =>
          graceful
            ? cluster.core.deleteNamespacedPod({ name: pod.metadata?.name ?? '', namespace })
            : killContainer(pod, 'taskmanager'),
        ),
      );
      const watched = victims.map((pod, i) => watchReplacement(pod, before[i] as V1Pod));
      await sleep(300);
      reader.mark();
      const movedAt = await reader.allMoved(120_000);
      // Without standbys the pod is replaced under its name; with them a standby pod takes over, and the
      // failed one's name gets a new standby (watched the same way: its creation and binding).
      const takers = standby ? (await activePods(name)).filter((_, i) => indexes.includes(i)) : victims;
      const replaced = await Promise.all(
        victims.map(async (_pod, i) => {
          const { podCreated, podBound } = await (watched[i] as ReturnType<typeof watchReplacement>);
          const lines = await logLines(takers[i] as string);
          const restored = lines.find((l) => l.msg === 'restored' && l.time >= killedAt)?.time ?? Number.NaN;
          const kafkaConnected =
            lines.find((l) => l.msg === 'connected to Kafka' && l.time >= killedAt)?.time ?? Number.NaN;
          const firstCommit =
            lines.find((l) => l.msg === 'checkpoint: committed' && l.time >= restored)?.time ?? Number.NaN;
          return {
            podCreated,
            podBound,
            processStarted: standby
              ? (lines.find((l) => l.msg === 'promoted: taking over the tasks')?.time ?? Number.NaN)
              : (lines[0]?.time ?? Number.NaN),
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
        dirtyPeakMb: dirty.stop(),
        pod: victims.join(','),
        tookOver: takers.join(','),
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
    if (persistent) {
      // The claims go with the job; the volumes once they are released.
      const until = Date.now() + 120_000;
      while (Date.now() < until) {
        const left = await cluster.core.listNamespacedPod({
          namespace,
          labelSelector: `weir.dev/job=${name}`,
        });
        if (left.items.length === 0) break;
        await sleep(500);
      }
    }
    await dropVolumes();
  }
  return rounds;
}

const percentile = (xs: number[], p: number) => {
  const sorted = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const parts: [keyof Round, string, string][] = [
  ['failureRecorded', 'operator records the failure', 'operator records the failure'],
  ['podCreated', 'replacement pod exists', 'new standby pod exists (for the next failure)'],
  ['podBound', 'replacement pod bound to a node', 'new standby pod bound to a node'],
  ['processStarted', 'TaskManager process logs its first line', 'standby told to take over'],
  [
    'kafkaConnected',
    'S3 checked; Kafka connected, predecessor fenced',
    'Kafka connected, predecessor fenced',
  ],
  ['restored', 'TaskManager restored (offsets, state)', 'restored (offsets; warm state, changelog tail)'],
  ['firstCommit', 'first checkpoint committed', 'first checkpoint committed'],
  ['everyKeyMoving', 'every key’s committed output moves again', 'every key’s committed output moves again'],
];
const s = (ms: number) => (Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`);
const results = new Map<string, { standby: number; volume: string; rounds: Round[] }>();
try {
  for (const volume of volumeKinds)
    for (const standby of standbyCounts)
      results.set(`${standby}-${volume}`, { standby, volume, rounds: await measure(standby, volume) });
} finally {
  await stopJobNamespace(suite);
}
const stopped = graceful ? 'graceful deletions' : 'kills';
for (const { standby, volume, rounds } of results.values()) {
  console.log(
    `\n${rounds.length} ${stopped} (${volume} state volumes) of ${values.all ? 'all' : 'one'} of ${pods} single-task TaskManagers, ${standby ? `${standby} standby per pod` : 'no standbys'}, restart delay 0, ${values.interval} checkpoints${values['state-mb'] !== '0' ? `, about ${values['state-mb']} MB of state per task` : ''}${values.all ? ' (each part: the slowest pod)' : ''}`,
  );
  console.log(`| from the ${graceful ? 'deletion' : 'SIGKILL'} until | p50 | p90 | p99 | max |`);
  console.log('|---|---:|---:|---:|---:|');
  for (const [part, label, standbyLabel] of parts) {
    const xs = rounds.map((r) => r[part] as number);
    console.log(
      `| ${standby ? standbyLabel : label} | ${s(percentile(xs, 50))} | ${s(percentile(xs, 90))} | ${s(percentile(xs, 99))} | ${s(Math.max(...xs))} |`,
    );
  }
}
const [first, ...others] = [...results.values()];
const baseline = first?.rounds;
if (baseline) {
  for (const { standby, volume, rounds } of others) {
    const ratio = (p: number) =>
      (
        percentile(
          rounds.map((r) => r.everyKeyMoving),
          p,
        ) /
        percentile(
          baseline.map((r) => r.everyKeyMoving),
          p,
        )
      ).toFixed(2);
    console.log(
      `\nevery key moving again with ${standby} standby per pod on ${volume} volumes against ${first?.standby} on ${first?.volume}, same run: p50 ${ratio(50)}×, p90 ${ratio(90)}×, p99 ${ratio(99)}×`,
    );
  }
}
