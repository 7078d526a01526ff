/**
 * Checkpoint cost against change, not state (issue 31), on the local harness.
 *
 * A keyed-count TaskManager (one process, exactly-once, 1 s checkpoints, four
 * input partitions) first reads K distinct keys (K counts of state), then
 * for a steady window gets 1 % of them changed per second (K/100 records a
 * second, keys drawn at random from the K). Measured over the window: each
 * checkpoint's duration (start to commit, from its "checkpoint: committed"
 * line) and the TaskManager's event-loop pauses (prom-client's
 * nodejs_eventloop_lag_max_seconds, scraped every second: the longest time
 * the task's thread was held, which is how long records waited).
 *
 * Run beside the same on another checkout (--baseline-root, e.g. a worktree
 * of the commit before the changelog with node_modules linked), in the same
 * run and on the same broker.
 *
 * --stores disk,heap runs this checkout once per state store
 * (spec.taskManager.state.store), in the same run.
 *
 * Usage: source .weir/harness/env && node bench/state-checkpoint.ts [--keys 1000000] [--window 30]
 *        [--baseline-root DIR] [--materialization 10s] [--stores disk,heap]
 */
import { parseArgs } from 'node:util';
import { keyedInput } from '../e2e/support/committed-state.ts';
import { createTopics, kafkaBootstrap, uniqueName } from '../e2e/support/kafka-topics.ts';
import { TaskManagerProcess, taskManagerEnv } from '../e2e/support/taskmanager-process.ts';
import { TransactionalProducer } from '../src/kafka/transactional-producer.ts';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    window: { type: 'string', default: '30' },
    materialization: { type: 'string', default: '10s' },
    'baseline-root': { type: 'string' },
    stores: { type: 'string', default: 'disk' },
  },
});
const keys = Number(values.keys);
const windowSeconds = Number(values.window);
const partitions = 4;

async function produceAll(topic: string, records: { key: string; value: string }[]): Promise<void> {
  const producer = await TransactionalProducer.connect({
    bootstrapServers: kafkaBootstrap(),
    settings: { 'linger.ms': 20, 'batch.num.messages': 10000, 'queue.buffering.max.messages': 500000 },
  });
  for (const r of records) await producer.sendWhenQueued({ topic, key: r.key, value: Buffer.from(r.value) });
  await producer.flush();
  await producer.disconnect();
}

async function metric(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(url)).text();
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    total = (total ?? 0) + value;
  }
  return total;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

interface Result {
  label: string;
  checkpoints: number[];
  pauses: number[];
  loadSeconds: number;
}

async function measure(label: string, root: string | undefined, store?: string): Promise<Result> {
  const input = uniqueName('bench-state-in');
  const output = uniqueName('bench-state-out');
  await createTopics({ name: input, partitions }, { name: output, partitions });
  await produceAll(input, keyedInput(0, keys, keys));
  const env = taskManagerEnv({
    job: 'state',
    runId: uniqueName('r'),
    input,
    output,
    parallelism: 1,
    tasks: [0],
    interval: '1s',
    timeout: '60s',
    materializationInterval: values.materialization,
  });
  const tm = new TaskManagerProcess(
    { ...env, WEIR_METRICS_PORT: '0', ...(store ? { WEIR_STATE_STORE: store } : {}) },
    root,
  );
  try {
    const serving = await tm.waitForLog('serving', (l) => l.msg === 'serving', 60_000);
    const metrics = serving.metrics as { address: string; port: number } | undefined;
    const url = `http://127.0.0.1:${metrics?.port}/metrics`;
    const loadStarted = Date.now();
    // Bounded: K records at no less than 2,000 a second.
    for (let i = 0; i < Math.max(60, keys / 2000); i++) {
      if (((await metric(url, 'weir_task_records_in_total')) ?? 0) >= keys) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const loadSeconds = (Date.now() - loadStarted) / 1000;
    const from = tm.lines.length;
    const pauses: number[] = [];
    let seed = 1;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    await metric(url, 'nodejs_eventloop_lag_max_seconds'); // resets the window
    for (let s = 0; s < windowSeconds; s++) {
      const started = Date.now();
      const changes = Array.from({ length: keys / 100 }, () => {
        const k = Math.floor(random() * keys);
        return { key: `k${k}`, value: `v${k}` };
      });
      await produceAll(input, changes);
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - started))));
      const lag = await metric(url, 'nodejs_eventloop_lag_max_seconds');
      if (lag !== undefined) pauses.push(lag * 1000);
    }
    const checkpoints = tm.lines
      .slice(from)
      .filter((l) => l.msg === 'checkpoint: committed')
      .map((l) => Number(l.durationMs));
    return { label, checkpoints, pauses, loadSeconds };
  } finally {
    tm.signal('SIGKILL');
    await tm.exited;
  }
}

const rows: Result[] = [];
for (const store of (values.stores ?? 'disk').split(','))
  rows.push(await measure(`this checkout, ${store} store`, undefined, store));
if (values['baseline-root'])
  rows.push(await measure(`baseline ${values['baseline-root']}`, values['baseline-root']));

const fmt = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(0));
process.stdout.write(
  `checkpoint cost with ${keys.toLocaleString('en')} keys held, 1 % changed per second, 1 s checkpoints, ${windowSeconds} s window\n`,
);
process.stdout.write(
  '| run | checkpoints | commit p50 ms | p99 | max | pause p50 ms | p99 | max | load s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n',
);
for (const r of rows) {
  const c = [...r.checkpoints].sort((a, b) => a - b);
  const p = [...r.pauses].sort((a, b) => a - b);
  process.stdout.write(
    `| ${r.label} | ${c.length} | ${fmt(percentile(c, 50))} | ${fmt(percentile(c, 99))} | ${fmt(c.at(-1) ?? Number.NaN)} | ${fmt(percentile(p, 50))} | ${fmt(percentile(p, 99))} | ${fmt(p.at(-1) ?? Number.NaN)} | ${r.loadSeconds.toFixed(0)} |\n`,
  );
}
if (values['baseline-root']) {
  const [a, b] = [rows[0] as Result, rows.at(-1) as Result].map((r) =>
    percentile(
      [...r.checkpoints].sort((x, y) => x - y),
      99,
    ),
  );
  process.stdout.write(`commit p99 ratio, this / baseline: ${((a as number) / (b as number)).toFixed(2)}\n`);
}
