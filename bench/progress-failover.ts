/**
 * Health by progress (issue 13), on the local harness: how long a key's
 * output stops when its TaskManager is cut off from Kafka only (its kubelet
 * and the operator still reach it), against a TaskManager that crashes.
 *
 * A keyed-count-sum StreamJob (parallelism 2, 1 s checkpoints, weir:dev pods)
 * reads a probe record for each of 16 keys every 50 ms. At the fault, the
 * pod network namespace of <job>-tm-0 starts dropping its traffic to the
 * broker. A read_committed reader tracks each key's emitted count; a key
 * "moves again" at the first output whose count is above the highest count
 * seen one second after the fault (nothing of the cut TaskManager can commit
 * after the fault, so a higher count comes from its replacement). The figure
 * is from the fault to the moment every key moved again.
 *
 * Baseline, measured in the same run on a job of the same shape: the same
 * TaskManager's process is killed (SIGKILL), a failure its kubelet sees at
 * once, so the difference is the cost of finding a TaskManager that is alive
 * but makes no progress. The goal: replaced within three checkpoint
 * intervals plus 5 s.
 *
 * Usage: source .weir/harness/env && node bench/progress-failover.ts [--windows 3s,6s] [--runs 3]
 */
import { parseArgs } from 'node:util';
import { requireEnv } from '../e2e/support/cluster.ts';
import { killContainer, setPodTrafficDrop } from '../e2e/support/harness-nodes.ts';
import { startJobNamespace, stopJobNamespace } from '../e2e/support/job-suite.ts';
import { createTopics, uniqueName } from '../e2e/support/kafka-topics.ts';
import { weirDevJob } from '../e2e/support/streamjobs.ts';
import { countReader, startProbes } from './probes.ts';

const { values } = parseArgs({
  options: { windows: { type: 'string', default: '3s,6s' }, runs: { type: 'string', default: '3' } },
});
const windows = (values.windows ?? '').split(',').filter(Boolean);
const runs = Number(values.runs);
const partitions = 2;
const keys = 16;
const intervalS = 1;

// The operator's usual status poll; nextPollDelayMs shortens it for a short window or an overdue commit.
const suite = await startJobNamespace('bench-progress', { WEIR_STATUS_POLL_INTERVAL: '30s' });
const { cluster, namespace, jobs } = suite;

interface Row {
  fault: string;
  window: string;
  moveMs: number;
  failureMs: number;
  failure: string;
}

async function measure(fault: 'cut' | 'kill', window: string, run: number): Promise<Row> {
  const name = `pf-${fault}-${window.replace(/\W/g, '')}-${run}`;
  const input = uniqueName(`${name}-in`);
  const output = uniqueName(`${name}-out`);
  await createTopics({ name: input, partitions }, { name: output, partitions });
  const body = weirDevJob(name, 'keyed-count-sum', {
    args: { input, output, version: 'v1' },
    storageUrl: `s3://${requireEnv('WEIR_S3_BUCKET')}/bench-progress`,
    interval: `${intervalS}s`,
    spec: { parallelism: partitions, restartStrategy: { type: 'fixed-delay', attempts: 10, delay: '1s' } },
  }) as { spec: { checkpoints: Record<string, unknown> } };
  Object.assign(body.spec.checkpoints, { timeout: '2s', progressWindow: window });
  // A probe record for each key every 50 ms.
  const stopProbes = startProbes(input, (n) =>
    Array.from({ length: keys }, (_, k) => ({ key: `k${k}`, value: `v${n}` })),
  );
  const reader = await countReader(output, partitions, keys);
  try {
    await jobs.create(body);
    await jobs.waitFor(name, 'Running', (j) => j.status?.phase === 'Running', 120_000);
    await new Promise((r) => setTimeout(r, 5000)); // steady state: several checkpoints committed
    const faultAt = Date.now();
    if (fault === 'cut') {
      await setPodTrafficDrop(namespace, `${name}-tm-0`, requireEnv('WEIR_KAFKA_BOOTSTRAP'), 'on');
    } else {
      const pod = await cluster.core.readNamespacedPod({ namespace, name: `${name}-tm-0` });
      await killContainer(pod, 'taskmanager');
    }
    await new Promise((r) => setTimeout(r, 1000));
    reader.mark();
    const movedAt = await reader.allMoved(120_000);
    const job = await jobs.get(name);
    const failure = job.status?.restarts?.lastFailure;
    await jobs.delete(name);
    return {
      fault,
      window,
      moveMs: movedAt - faultAt,
      failureMs: failure ? new Date(failure.time).getTime() - faultAt : Number.NaN,
      failure: `${failure?.reason ?? 'none'}${/made no progress/.test(failure?.message ?? '') ? ' (operator)' : /NO_PROGRESS/.test(failure?.message ?? '') ? ' (liveness probe)' : ''}`,
    };
  } finally {
    await stopProbes();
    await reader.stop();
  }
}

const rows: Row[] = [];
try {
  for (let run = 0; run < runs; run++) {
    for (const window of windows) {
      process.stderr.write(`run ${run + 1}/${runs}, window ${window}: cut off from Kafka, then killed\n`);
      rows.push(await measure('cut', window, run));
      rows.push(await measure('kill', window, run));
    }
  }
} finally {
  await stopJobNamespace(suite);
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
console.log('| window | fault | failure recorded (as) | fault → failure | fault → every key moving | runs |');
console.log('|---|---|---|---:|---:|---|');
for (const window of windows) {
  for (const fault of ['cut', 'kill'] as const) {
    const mine = rows.filter((r) => r.window === window && r.fault === fault);
    console.log(
      `| ${window} | ${fault === 'cut' ? 'Kafka-only partition' : 'SIGKILL (baseline)'} | ${[...new Set(mine.map((r) => r.failure))].join(', ')} | ${s(median(mine.map((r) => r.failureMs)))} | ${s(median(mine.map((r) => r.moveMs)))} | ${mine.map((r) => s(r.moveMs)).join(' / ')} |`,
    );
  }
  const cut = median(rows.filter((r) => r.window === window && r.fault === 'cut').map((r) => r.moveMs));
  const kill = median(rows.filter((r) => r.window === window && r.fault === 'kill').map((r) => r.moveMs));
  const goal = 3 * intervalS * 1000 + 5000;
  console.log(
    `\nwindow ${window}: Kafka-only partition ÷ crash = ${(cut / kill).toFixed(2)}; goal (3 intervals + 5 s = ${s(goal)}) ${cut <= goal ? 'met' : 'not met'} for every key moving again\n`,
  );
}
