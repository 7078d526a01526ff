import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repositoryRoot } from '../e2e/support/cli.ts';
import { createTopics, kafkaBootstrap, openWriter, uniqueName } from '../e2e/support/kafka-topics.ts';
import { TaskManagerProcess, taskManagerEnv } from '../e2e/support/taskmanager-process.ts';
import { TransactionalProducer } from '../src/kafka/transactional-producer.ts';
import { kafkaStreamsTwin, scrapeMetrics } from './taskmanager-kit.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    records: { type: 'string', default: '200000' },
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '200' },
    /** A directory for the TaskManagers' CPU profiles (node --cpu-prof). */
    profile: { type: 'string' },
    /** Weir only: for an A/B of two Weir versions, without the twins' minutes. */
    'no-kafka-streams': { type: 'boolean' },
  },
});
const runs = (part: string) => values.only === undefined || values.only === part;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString('en');
const jobs = join(repositoryRoot, 'src/jobs');

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function produceBacklog(
  topic: string,
  n: number,
  record: (i: number) => { key: string; value: string },
) {
  const producer = await TransactionalProducer.connect({
    bootstrapServers: kafkaBootstrap(),
    settings: { 'linger.ms': 20, 'batch.num.messages': 10000, 'queue.buffering.max.messages': 500000 },
  });
  for (let i = 0; i < n; i++) {
    const r = record(i);
    await producer.sendWhenQueued({ topic, partition: 0, key: r.key, value: Buffer.from(r.value) });
  }
  await producer.flush();
  await producer.disconnect();
}

/** A one-task TaskManager of a join job; resolves once it has restored, with its metrics URL. */
async function startJoinJob(
  entry: string,
  args: Record<string, unknown>,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ tm: TaskManagerProcess; metricsUrl: string }> {
  const output = uniqueName('bench-join-out');
  await createTopics({ name: output, partitions: 1 });
  const env = {
    ...taskManagerEnv({
      job: uniqueName('bench-join'), // each its own: a task deletes the internal topics of its job's other runs
      runId: uniqueName('r'),
      input: '',
      output,
      parallelism: 1,
      tasks: [0],
      interval: '1s',
      timeout: '60s',
    }),
    WEIR_ENTRY: join(jobs, `${entry}.ts`),
    WEIR_ARGS: JSON.stringify({ output, late: uniqueName('bench-join-late'), idleMs: 600_000, ...args }),
    ...(values.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${values.profile}` } : {}),
    ...extraEnv,
  };
  const tm = new TaskManagerProcess(env);
  const serving = await tm.waitForLog('serving', (l) => l.msg === 'serving');
  const address = serving.metrics as { address: string; port: number };
  await tm.waitForLog('restored', (l) => l.msg === 'restored', 60_000);
  return { tm, metricsUrl: `http://${address.address}:${address.port}/metrics` };
}

/** Weir: records of both topics per second, from "restored" until all `total` were read. */
async function weirDrain(entry: string, args: Record<string, unknown>, total: number): Promise<number> {
  const { tm, metricsUrl } = await startJoinJob(entry, args);
  const started = Date.now();
  const deadline = started + 600_000;
  while (((await scrapeMetrics(metricsUrl)).get('weir_task_records_in_total') ?? 0) < total) {
    if (Date.now() > deadline) throw new Error(`${entry}: the backlog was not drained within 10 minutes`);
    await sleep(100);
  }
  const seconds = (Date.now() - started) / 1000;
  tm.signal(values.profile ? 'SIGTERM' : 'SIGKILL'); // a profile is written at a clean exit
  await tm.exited;
  return total / seconds;
}

/** The Kafka Streams twin (bench/kafka-streams, Joins.java) on the same topics. */
function kafkaStreams(topology: 'orders' | 'clicks', left: string, right: string, total: number): number {
  return kafkaStreamsTwin('Joins', [topology, left, right, String(total), uniqueName(`ksb-${topology}`)]);
}

if (runs('throughput')) {
  const n = Number(values.records);
  const start = Date.now() - 86_400_000;
  const customers = 1_000;
  const versions = 20_000;
  const topics = {
    orders: uniqueName('bench-orders'),
    customers: uniqueName('bench-customers'),
    clicks: uniqueName('bench-clicks'),
    impressions: uniqueName('bench-impressions'),
  };
  for (const name of Object.values(topics)) await createTopics({ name, partitions: 1 });
  // Orders 10 ms of event time apart; customer versions spread over the same span; 1000 customers, 1000 users.
  const span = n * 10;
  await produceBacklog(topics.customers, versions, (i) => ({
    key: `c${i % customers}`,
    value: JSON.stringify({
      name: `c${i % customers}`,
      tier: `t${i % 7}`,
      since: start + Math.floor((i / versions) * span),
    }),
  }));
  await produceBacklog(topics.orders, n, (i) => ({
    key: `c${(i * 7) % customers}`,
    value: JSON.stringify({
      id: `o${i}`,
      customer: `c${(i * 7) % customers}`,
      amount: i % 100,
      time: start + i * 10,
    }),
  }));
  // 20,000 users, an impression each 200 s of event time: about 3 impressions in a click's 10 minutes.
  const users = 20_000;
  await produceBacklog(topics.impressions, n, (i) => ({
    key: `u${(i * 13) % users}`,
    value: JSON.stringify({ id: `i${i}`, ad: `a${i % 50}`, time: start + i * 10 }),
  }));
  await produceBacklog(topics.clicks, n, (i) => ({
    key: `u${(i * 7) % users}`,
    value: JSON.stringify({ id: `c${i}`, ad: `a${i % 50}`, time: start + i * 10 + 5 }),
  }));
  log(
    `joins, one task (one stream thread), exactly-once, 1 s commits, backlogs on one partition each:\n` +
      `  orders ${fmt(n)} × customers table ${fmt(versions)} versions of ${fmt(customers)} keys; clicks ${fmt(n)} × impressions ${fmt(n)}, ${fmt(users)} users, 10 min window (~3 impressions per click)`,
  );
  const orders = await weirDrain(
    'order-enrichment',
    { orders: topics.orders, customers: topics.customers },
    n + versions,
  );
  const clicks = await weirDrain(
    'click-attribution',
    { clicks: topics.clicks, impressions: topics.impressions },
    2 * n,
  );
  if (values.profile) process.exit(0);
  if (values['no-kafka-streams']) {
    log(`Weir alone: orders ${fmt(orders)} rec/s, clicks ${fmt(clicks)} rec/s`);
    process.exit(0);
  }
  const ksOrders = kafkaStreams('orders', topics.orders, topics.customers, n + versions);
  const ksClicks = kafkaStreams('clicks', topics.clicks, topics.impressions, 2 * n);
  log('| join | Weir, input rec/s | Kafka Streams, input rec/s | Weir / Kafka Streams |');
  log('|---|---:|---:|---:|');
  log(
    `| orders × customers (temporal, left) | ${fmt(orders)} | ${fmt(ksOrders)} | ${(orders / ksOrders).toFixed(2)} |`,
  );
  log(
    `| clicks × impressions (10 min window) | ${fmt(clicks)} | ${fmt(ksClicks)} | ${(clicks / ksClicks).toFixed(2)} |`,
  );
}

if (runs('state')) {
  const minutes = Number(values.minutes);
  const rate = Number(values.rate);
  const windowMs = 60_000;
  const graceMs = 10_000;
  const outOfOrdernessMs = 2_000;
  const clicks = uniqueName('bench-state-clicks');
  const impressions = uniqueName('bench-state-impressions');
  await createTopics({ name: clicks, partitions: 1 }, { name: impressions, partitions: 1 });
  const { tm, metricsUrl } = await startJoinJob(
    'click-attribution',
    { clicks, impressions, withinMs: windowMs, graceMs, outOfOrdernessMs },
    { WEIR_STATE_STORE: 'disk' },
  );
  const writers = { clicks: await openWriter(clicks), impressions: await openWriter(impressions) };
  // A record is kept until the watermark passes its time + window + grace (the watermark trails by the
  // out-of-orderness): one entry, and at most one timer entry (one per key and expiry time). The steady state
  // is about this; the load comes in bursts of 100 ms, so a sample may sit a little above it.
  const bound = 2 * rate * 2 * ((windowMs + graceMs + outOfOrdernessMs) / 1000 + 1);
  log(
    `window join state over ${minutes} min: ${rate} records/s on each side, 1000 users, window ${windowMs / 1000} s, grace ${graceMs / 1000} s; entries (records kept and their timers) are bounded by ~${fmt(bound)}`,
  );
  log('| minute | records in | state entries (disk store) | joined out |');
  log('|---:|---:|---:|---:|');
  const started = Date.now();
  let sent = 0;
  let nextSample = started + 30_000;
  const samples: number[] = [];
  while (Date.now() - started < minutes * 60_000) {
    const now = Date.now();
    const due = Math.floor(((now - started) / 1000) * rate);
    const batch = Array.from({ length: Math.max(0, due - sent) }, (_, j) => sent + j);
    if (batch.length) {
      const at = (i: number) => now - ((i * 7) % outOfOrdernessMs);
      await Promise.all([
        writers.impressions.write(
          batch.map((i) => ({
            key: `u${(i * 13) % 1000}`,
            value: JSON.stringify({ id: `i${i}`, ad: 'a', time: at(i) }),
          })),
        ),
        writers.clicks.write(
          batch.map((i) => ({
            key: `u${(i * 7) % 1000}`,
            value: JSON.stringify({ id: `c${i}`, ad: 'a', time: at(i) }),
          })),
        ),
      ]);
      sent += batch.length;
    }
    if (now >= nextSample) {
      const m = await scrapeMetrics(metricsUrl).catch((error: unknown) => {
        throw new Error(`the TaskManager did not answer (${String(error)}): ${tm.exitReport()}`);
      });
      const entries = m.get('weir_state_entries') ?? 0;
      samples.push(entries);
      log(
        `| ${((now - started) / 60_000).toFixed(1)} | ${fmt(m.get('weir_task_records_in_total') ?? 0)} | ${fmt(entries)} | ${fmt(m.get('weir_task_records_out_total') ?? 0)} |`,
      );
      nextSample += 30_000;
    }
    await sleep(100);
  }
  await writers.clicks.close();
  await writers.impressions.close();
  tm.signal('SIGTERM');
  await tm.exited;
  // After the first window + grace the state should stop growing: the later samples' spread says whether it did.
  const settled = samples.slice(Math.ceil((windowMs + graceMs) / 30_000) + 1);
  const max = Math.max(...settled);
  const min = Math.min(...settled);
  log(
    `settled (after window + grace): entries between ${fmt(min)} and ${fmt(max)}, ${((100 * max) / bound).toFixed(0)} % of what the window and grace hold (${fmt(bound)}): ${max <= 1.1 * bound ? 'bounded by the window' : 'ABOVE the window: state leaks'}`,
  );
}
