/**
 * Output through an S3 outage (issue 31), on the local harness.
 *
 * A keyed-count TaskManager (one process, exactly-once, 1 s checkpoints, four
 * input partitions, 16 keys) reads a probe record for each key every 100 ms.
 * Its storage endpoint is a TCP relay to MinIO; after 10 s the relay is cut
 * for `--outage` seconds (60 by default), then restored for 15 s. A
 * read_committed reader notes when each committed output arrives; the figure
 * is each key's longest gap between two arrivals, across the outage, against
 * the goal of three checkpoint intervals.
 *
 * Run beside the same on another checkout (--baseline-root, e.g. the commit
 * before the changelog), in the same run and on the same broker.
 *
 * Usage: source .weir/harness/env && node bench/s3-outage.ts [--outage 60] [--baseline-root DIR]
 */
import { parseArgs } from 'node:util';
import { requireEnv } from '../e2e/support/cluster.ts';
import { createTopics, kafkaBootstrap, uniqueName } from '../e2e/support/kafka-topics.ts';
import { TaskManagerProcess, taskManagerEnv } from '../e2e/support/taskmanager-process.ts';
import { TcpProxy } from '../e2e/support/tcp-proxy.ts';
import { AssignedConsumer } from '../src/kafka/assigned-consumer.ts';
import { startProbes } from './probes.ts';

const { values } = parseArgs({
  options: { outage: { type: 'string', default: '60' }, 'baseline-root': { type: 'string' } },
});
const outageMs = Number(values.outage) * 1000;
const keys = 16;
const partitions = 4;

interface Result {
  label: string;
  /** Per key, the longest gap between committed outputs from the cut on, in ms. */
  gaps: number[];
  /** Outputs committed while the relay was cut. */
  duringOutage: number;
  exited: number | null | 'running';
}

async function measure(label: string, root: string | undefined): Promise<Result> {
  const input = uniqueName('bench-s3out-in');
  const output = uniqueName('bench-s3out-out');
  await createTopics({ name: input, partitions }, { name: output, partitions });
  const minio = new URL(requireEnv('WEIR_S3_ENDPOINT'));
  const proxy = await TcpProxy.start({ host: minio.hostname, port: Number(minio.port) });
  const env = taskManagerEnv({
    job: 's3out',
    runId: uniqueName('r'),
    input,
    output,
    parallelism: 1,
    tasks: [0],
    interval: '1s',
    timeout: '5s',
    tolerableFailures: 3,
    materializationInterval: '5s',
    s3Endpoint: proxy.url,
  });
  const tm = new TaskManagerProcess(env, root);
  const consumer = await AssignedConsumer.connect({
    bootstrapServers: kafkaBootstrap(),
    groupId: uniqueName('bench-s3out-reader'),
    isolation: 'read_committed',
  });
  consumer.setConsumeTimeout(50);
  consumer.assign(
    Array.from({ length: partitions }, (_, partition) => ({ topic: output, partition, offset: 0 })),
  );
  const arrivals = new Map<string, number[]>();
  let reading = true;
  const reader = (async () => {
    const until = Date.now() + 600_000;
    while (reading && Date.now() < until) {
      for (const m of await consumer.consume(1000)) {
        const { key } = JSON.parse(m.value?.toString() ?? '{}') as { key: string };
        arrivals.set(key, [...(arrivals.get(key) ?? []), Date.now()]);
      }
    }
  })();
  const stopProbes = startProbes(
    input,
    () => Array.from({ length: keys }, (_, k) => ({ key: `k${k}`, value: 'p' })),
    100,
  );
  let exited: Result['exited'] = 'running';
  void tm.exited.then((code) => {
    exited = code;
  });
  try {
    await tm.waitForLog('restored', (l) => l.msg === 'restored', 60_000);
    await new Promise((r) => setTimeout(r, 10_000));
    const cutAt = Date.now();
    proxy.cut();
    await new Promise((r) => setTimeout(r, outageMs));
    const healedAt = Date.now();
    proxy.heal();
    await new Promise((r) => setTimeout(r, 15_000));
    const gaps = Array.from({ length: keys }, (_, k) => {
      const times = [cutAt, ...(arrivals.get(`k${k}`) ?? []).filter((t) => t >= cutAt), Date.now()];
      let longest = 0;
      for (let i = 1; i < times.length; i++)
        longest = Math.max(longest, (times[i] as number) - (times[i - 1] as number));
      return longest;
    });
    const duringOutage = [...arrivals.values()].flat().filter((t) => t > cutAt && t < healedAt).length;
    return { label, gaps, duringOutage, exited };
  } finally {
    await stopProbes();
    reading = false;
    await reader;
    await consumer.disconnect();
    tm.signal('SIGKILL');
    await tm.exited;
    proxy.close();
  }
}

const rows = [await measure('this checkout', undefined)];
if (values['baseline-root'])
  rows.push(await measure(`baseline ${values['baseline-root']}`, values['baseline-root']));
process.stdout.write(
  `${outageMs / 1000} s of S3 cut off, 16 keys probed every 100 ms, 1 s checkpoints (goal: no key's gap above 3 s)\n`,
);
process.stdout.write(
  '| run | longest gap of any key | median key | outputs during the outage | TaskManager |\n|---|---:|---:|---:|---|\n',
);
for (const r of rows) {
  const sorted = [...r.gaps].sort((a, b) => a - b);
  const state = r.exited === 'running' ? 'ran throughout' : `exited (${r.exited}) during the run`;
  process.stdout.write(
    `| ${r.label} | ${((sorted.at(-1) ?? 0) / 1000).toFixed(1)} s | ${((sorted[Math.floor(sorted.length / 2)] ?? 0) / 1000).toFixed(1)} s | ${r.duringOutage} | ${state} |\n`,
  );
}
