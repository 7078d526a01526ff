/**
 * TaskManager runtime benchmark (issue 4), on the local harness's Kafka and MinIO.
 *
 * Records per second for one task, measured over the same window on the same
 * input backlog (a 1-partition topic, 1000 distinct keys):
 *   (a) baseline: a raw consume→produce pipe with @confluentinc/kafka-javascript,
 *       no state, no transactions, in this process; (a2) the same pipe reading
 *       with Weir's own record fetcher (src/kafka/wire), as a TaskManager does;
 *   (b) Weir exactly-once keyed count and (c) Weir at-least-once keyed count,
 *       each a real `weir taskmanager` process, at checkpoint intervals 1s and 10s;
 *   (d) the raw pipe with kafkajs and (e) with @platformatic/kafka, so that the
 *       client choice rests on numbers.
 * for 100-byte and 1 KiB values. `--only pipelines`: word count (lines → words →
 * keyBy word → count, two stages through a repartition topic) and page views per
 * user per minute (keyBy user, event-time tumbling windows), exactly-once at 1 s,
 * end to end, beside the keyed count and the Kafka Streams twins of both jobs
 * (bench/kafka-streams, Java, built with Maven) on the same broker, in the same run.
 * Then checkpoint cost against state size
 * (10^4 to 10^6 keys): snapshot encode, upload to MinIO, bytes, and restore
 * (ranged GETs, checksum, decode).
 *
 * With `--only throughput` (or no --only) the Kafka Streams keyed count
 * (../shared/bench/kafka-streams) runs after Weir's on the same broker, for the
 * same configurations, and each row gets its ratio per record/s and per core
 * (CPU µs per record of the whole process, all threads, on both sides).
 *
 * Usage: source .weir/harness/env && node bench/runtime-throughput.ts [--window 10] [--quick]
 *        [--only throughput|pipelines|checkpoint|restore] [--configs exactly-once:1s,...]
 *        [--no-kafka-streams] [--no-kafkajs] [--no-platformatic]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Consumer as PlatformaticConsumer, Producer as PlatformaticProducer } from '@platformatic/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { runtimeStorage } from '../e2e/support/committed-state.ts';
import { createTopics, kafkaBootstrap, uniqueName } from '../e2e/support/kafka-topics.ts';
import { NativeReader } from '../e2e/support/native-reader.ts';
import {
  count as countLines,
  TaskManagerProcess,
  taskManagerEnv,
} from '../e2e/support/taskmanager-process.ts';
import { KafkaAdmin } from '../src/kafka/admin.ts';
import { AssignedConsumer } from '../src/kafka/assigned-consumer.ts';
import { TransactionalProducer } from '../src/kafka/transactional-producer.ts';
import { decodeSection, encodeSnapshot, verifiedSection } from '../src/runtime/state/snapshot-format.ts';
import { kafkaStreamsTwin } from './taskmanager-kit.ts';

const { values } = parseArgs({
  options: {
    window: { type: 'string', default: '10' },
    quick: { type: 'boolean' },
    only: { type: 'string' },
    /** Comma-separated subset of the throughput configurations, e.g. exactly-once:1s,at-least-once:10s. */
    configs: { type: 'string' },
    /** Value sizes to run, comma-separated: 100,1024 by default. */
    sizes: { type: 'string', default: '100,1024' },
    'no-kafka-streams': { type: 'boolean' },
    'no-kafkajs': { type: 'boolean' },
    'no-platformatic': { type: 'boolean' },
    /** Write a V8 CPU profile of each Weir TaskManager run into this folder (summarise: bench/cpu-profile.ts). */
    profile: { type: 'string' },
    /**
     * A checkout of another commit (its node_modules linked): every (b)/(c) row runs again with that
     * checkout's TaskManager on the same backlog, right after this one's, and prints the ratio.
     */
    'baseline-root': { type: 'string' },
  },
});
const windowMs = Number(values.window) * 1000;
const warmupMs = 2000;
// Large enough that the fastest pipe does not drain it within warm-up + window; a drained
// backlog ends the window early and is reported.
const sizes = [
  { bytes: 100, backlog: values.quick ? 600_000 : 5_000_000 },
  { bytes: 1024, backlog: values.quick ? 300_000 : 2_000_000 },
].filter((s) => values.sizes.split(',').includes(String(s.bytes)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function produceBacklog(
  topic: string,
  n: number,
  bytes: number,
  valueAt: (i: number) => Buffer = () => Buffer.alloc(bytes, 'x'),
): Promise<number> {
  const producer = await TransactionalProducer.connect({
    bootstrapServers: kafkaBootstrap(),
    settings: { 'linger.ms': 20, 'batch.num.messages': 10000, 'queue.buffering.max.messages': 500000 },
  });
  const started = Date.now();
  for (let i = 0; i < n; i++) {
    await producer.sendWhenQueued({ topic, partition: 0, key: `k${i % 1000}`, value: valueAt(i) });
  }
  await producer.flush();
  await producer.disconnect();
  return Date.now() - started;
}

interface Rate {
  rate: number;
  /** The backlog ran out before the window ended: the window was cut where records stopped. */
  drained: boolean;
  /** CPU seconds the measured process spent over the window (user + system, all its threads). */
  cpuSeconds: number;
  /** Those CPU seconds per record, in microseconds: the per-core cost Kafka Streams' bench prints too. */
  cpuUsPerRecord: number;
}

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU seconds (user + system, every thread) a process has used so far, from /proc. */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/**
 * Rate of a cumulative record counter over `windowMs` after `warmupMs`, and
 * the CPU the process `pid` spent over the same window. If the counter
 * stops for a second, the backlog is drained: the window ends at its last move.
 */
async function measure(counter: () => Promise<number> | number, pid = process.pid): Promise<Rate> {
  await sleep(warmupMs);
  const v0 = await counter();
  const t0 = Date.now();
  const cpu0 = cpuSecondsOf(pid);
  let last = v0;
  let lastMoved = t0;
  let cpuAtMove = cpu0;
  const result = (end: number, drained: boolean): Rate => {
    const cpuSeconds = cpuAtMove - cpu0;
    return {
      rate: (last - v0) / ((end - t0) / 1000),
      drained,
      cpuSeconds,
      cpuUsPerRecord: last > v0 ? (cpuSeconds * 1e6) / (last - v0) : 0,
    };
  };
  while (Date.now() - t0 < windowMs) {
    await sleep(200);
    const v = await counter();
    if (v !== last) {
      last = v;
      lastMoved = Date.now();
      cpuAtMove = cpuSecondsOf(pid);
    } else if (Date.now() - lastMoved > 1000) {
      return result(lastMoved, true);
    }
  }
  return result(lastMoved, false);
}

/**
 * (a) The baseline: consume a batch, produce it, no state, no transactions,
 * all with the Confluent client; (a2) with `fetcher`, the records come from
 * Weir's own fetcher, as in a TaskManager.
 */
async function rawPipe(input: string, output: string, fetcher = false): Promise<Rate> {
  const options = {
    bootstrapServers: kafkaBootstrap(),
    groupId: uniqueName('bench-raw'),
    isolation: 'read_uncommitted',
  } as const;
  const consumer = fetcher
    ? await AssignedConsumer.connect(options)
    : await NativeReader.connect({ ...options, consumeTimeoutMs: 100 });
  const producer = await TransactionalProducer.connect({
    bootstrapServers: kafkaBootstrap(),
    settings: { 'linger.ms': 5 },
  });
  if (consumer instanceof AssignedConsumer) consumer.setConsumeTimeout(100);
  consumer.assign([{ topic: input, partition: 0, offset: -2 }]);
  let processed = 0;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const batch = await consumer.consume(500);
      for (const m of batch) {
        await producer.sendWhenQueued({ topic: output, key: m.key as Buffer, value: m.value });
      }
      processed += batch.length;
    }
  })();
  const rate = await measure(() => processed);
  stop = true;
  await loop;
  await consumer.disconnect();
  await producer.disconnect();
  return rate;
}

/** (d) The same pipe with kafkajs (no assign(): a one-member consumer group from the beginning). */
async function kafkajsPipe(input: string, output: string): Promise<Rate> {
  const kafka = new Kafka({
    clientId: 'bench-kafkajs',
    brokers: kafkaBootstrap().split(','),
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId: uniqueName('bench-kafkajs') });
  const producer = kafka.producer();
  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let processed = 0;
  await consumer.run({
    eachBatch: async ({ batch }) => {
      await producer.send({
        topic: output,
        messages: batch.messages.map((m) => ({ key: m.key, value: m.value })),
      });
      processed += batch.messages.length;
    },
  });
  const rate = await measure(() => processed);
  await consumer.disconnect();
  await producer.disconnect();
  return rate;
}

async function metric(url: string, name: string, task = 's0-t0'): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{task="${task}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/**
 * (e) The same pipe with @platformatic/kafka, the pure-TypeScript client the
 * issue names as the alternative to a native one: its consumer stream (a
 * one-member group from the beginning) and its idempotent producer, sending
 * what was read in batches of up to 1000, one send in flight.
 */
async function platformaticPipe(input: string, output: string): Promise<Rate> {
  const brokers = kafkaBootstrap().split(',');
  const consumer = new PlatformaticConsumer({
    groupId: uniqueName('bench-pk'),
    clientId: 'bench-pk',
    bootstrapBrokers: brokers,
  });
  const producer = new PlatformaticProducer({
    clientId: 'bench-pk',
    bootstrapBrokers: brokers,
    idempotent: true,
  });
  const stream = await consumer.consume({
    topics: [input],
    mode: 'earliest',
    autocommit: false,
    maxWaitTime: 100,
  });
  let processed = 0;
  let pending: { key: Buffer | undefined; value: Buffer | undefined }[] = [];
  let sending: Promise<void> | undefined;
  let failure: Error | undefined;
  stream.on('error', (error: Error) => {
    failure ??= error;
  });
  const send = () => {
    if (sending || pending.length === 0) return;
    const batch = pending;
    pending = [];
    stream.pause();
    sending = producer
      .send({ messages: batch.map((m) => ({ topic: output, key: m.key, value: m.value })) })
      .then(
        () => {
          processed += batch.length;
          sending = undefined;
          stream.resume();
        },
        (error: unknown) => {
          failure ??= error as Error;
        },
      );
  };
  stream.on('data', (m: { key: Buffer | undefined; value: Buffer | undefined }) => {
    pending.push(m);
    if (pending.length >= 1000) send();
  });
  const flusher = setInterval(send, 5);
  const rate = await measure(() => processed);
  clearInterval(flusher);
  stream.pause();
  await sending;
  await stream.close();
  await consumer.close(true);
  await producer.close();
  // A failed send or fetch stops the counter, which would read as a drained backlog: say so instead.
  if (failure) throw new Error(`@platformatic/kafka pipe failed: ${failure.message}`);
  return rate;
}

/** A real `weir taskmanager` process of one task on `input`, restored, with its metrics URL. */
async function startTaskManager(
  input: string,
  mode: 'exactly-once' | 'at-least-once',
  interval: string,
  job: { entry?: string; args?: Record<string, unknown> } = {},
  root?: string,
): Promise<{ tm: TaskManagerProcess; metricsUrl: string }> {
  const output = uniqueName('bench-out');
  await createTopics({ name: output, partitions: 1 });
  const env = taskManagerEnv({
    job: 'bench',
    runId: uniqueName('r'),
    input,
    output,
    parallelism: 1,
    tasks: [0],
    mode,
    interval,
  });
  if (root) env.WEIR_ENTRY = `${root}/src/jobs/keyed-count.ts`;
  if (job.entry) env.WEIR_ENTRY = job.entry;
  if (job.args) env.WEIR_ARGS = JSON.stringify({ input, output, ...job.args });
  if (values.profile) env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${values.profile}`;
  const tm = new TaskManagerProcess(env, root);
  const serving = await tm.waitForLog('serving', (l) => l.msg === 'serving');
  const address = serving.metrics as { address: string; port: number };
  await tm.waitForLog('restored', (l) => l.msg === 'restored', 60_000);
  return { tm, metricsUrl: `http://${address.address}:${address.port}/metrics` };
}

/** (b), (c) A real TaskManager process; the rate is read from its records-in counter. */
async function weirRun(
  input: string,
  mode: 'exactly-once' | 'at-least-once',
  interval: string,
  root?: string,
) {
  const { tm, metricsUrl } = await startTaskManager(input, mode, interval, {}, root);
  const rate = await measure(() => metric(metricsUrl, 'weir_task_records_in_total'), tm.child.pid);
  const durations = tm.lines
    .filter((l) => l.msg === 'checkpoint: committed')
    .map((l) => Number(l.durationMs));
  const bytes = tm.lines.filter((l) => l.msg === 'checkpoint: committed').map((l) => Number(l.bytes));
  if (values.profile) {
    const total = await metric(metricsUrl, 'weir_task_records_in_total');
    process.stdout.write(`  profiled run (${mode}, ${interval}): ${total} records in all, for --records\n`);
  }
  // A profile is written when the process exits on its own: a graceful stop then.
  tm.signal(values.profile ? 'SIGTERM' : 'SIGKILL');
  await tm.exited;
  const sorted = durations.sort((a, b) => a - b);
  return {
    ...rate,
    checkpoints: countLines(tm.lines, 'checkpoint: committed'),
    p50: sorted[Math.floor(sorted.length / 2)] ?? 0,
    max: sorted.at(-1) ?? 0,
    bytes: Math.max(0, ...bytes),
  };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function checkpointCost(keys: number) {
  const storage = runtimeStorage();
  const partitions = Array.from({ length: 4 }, (_, p) => {
    const entries = new Map<string, Buffer>();
    for (let k = p; k < keys; k += 4) entries.set(`key-${k}`, Buffer.from(JSON.stringify(k)));
    return { topic: 'bench', partition: p, stores: new Map([['count/count', entries]]) };
  });
  let t = performance.now();
  const snapshot = encodeSnapshot({ task: 's0/t0', checkpointId: 1, attempt: 'bench' }, partitions);
  const encodeMs = performance.now() - t;
  const key = `bench/cost/${keys}-${uniqueName('o')}.snap`;
  t = performance.now();
  await storage.put(key, snapshot.bytes);
  const uploadMs = performance.now() - t;
  t = performance.now();
  let restored = 0;
  for (const range of snapshot.index.sections) {
    const bytes = await storage.get(key, { start: range.start, length: range.length });
    restored += decodeSection(key, verifiedSection(key, range, bytes)).get('count/count')?.size ?? 0;
  }
  const restoreMs = performance.now() - t;
  await storage.delete(key);
  storage.close();
  if (restored !== keys) throw new Error(`restored ${restored} keys of ${keys}`);
  return { keys, bytes: snapshot.bytes.length, encodeMs, uploadMs, restoreMs };
}

/**
 * A whole TaskManager restore: a job with `keys` keys of committed state is
 * stopped, then started again; the time from spawn to the "restored" log line
 * (Kafka connections, initTransactions, the offset fetch, the ranged GETs and
 * decode).
 */
async function processRestore(keys: number) {
  const input = uniqueName('bench-restore-in');
  const output = uniqueName('bench-restore-out');
  await createTopics({ name: input, partitions: 4 }, { name: output, partitions: 4 });
  const producer = await TransactionalProducer.connect({
    bootstrapServers: kafkaBootstrap(),
    settings: { 'linger.ms': 20 },
  });
  for (let i = 0; i < keys; i++) {
    await producer.sendWhenQueued({ topic: input, key: `key-${i}`, value: Buffer.from('v') });
  }
  await producer.flush();
  await producer.disconnect();
  const settings = {
    job: 'restore',
    runId: uniqueName('r'),
    input,
    output,
    parallelism: 1,
    tasks: [0],
    interval: '2s',
  };
  const first = new TaskManagerProcess(taskManagerEnv(settings));
  const serving = await first.waitForLog('serving', (l) => l.msg === 'serving');
  const address = serving.metrics as { address: string; port: number };
  const url = `http://${address.address}:${address.port}/metrics`;
  while ((await metric(url, 'weir_task_records_in_total')) < keys) await sleep(200);
  first.signal('SIGTERM');
  if ((await first.exited) !== 0) throw new Error(`first run failed: ${first.stderr}`);
  const started = Date.now();
  const second = new TaskManagerProcess(taskManagerEnv(settings));
  const restored = await second.waitForLog('restored', (l) => l.msg === 'restored', 120_000);
  const restoredMs = Date.now() - started;
  second.signal('SIGKILL');
  await second.exited;
  const admin = new KafkaAdmin(kafkaBootstrap());
  for (const topic of [input, output]) await admin.deleteTopic(topic).catch(() => undefined);
  admin.disconnect();
  return { keys, restoredMs, partitions: Number(restored.restored ?? 0) };
}

process.stdout.write(
  `window ${windowMs / 1000} s after a ${warmupMs / 1000} s warm-up; one task, one input partition\n\n`,
);
const runs = (part: string) => values.only === undefined || values.only === part;
/** A Weir guarantee and interval, and the same configuration for Kafka Streams' bench. */
const throughputConfigs = [
  { mode: 'exactly-once', interval: '1s', ks: 'exactly_once_v2:1000' },
  { mode: 'at-least-once', interval: '1s', ks: 'at_least_once:1000' },
  { mode: 'exactly-once', interval: '10s', ks: 'exactly_once_v2:10000' },
  { mode: 'at-least-once', interval: '10s', ks: 'at_least_once:10000' },
] as const;
const configsWanted = values.configs?.split(',');
const configs = throughputConfigs.filter(
  (c) => !configsWanted || configsWanted.includes(`${c.mode}:${c.interval}`),
);

interface StreamsResult {
  rate: number;
  cpuUsPerRecord: number;
  cores: number;
  drained: boolean;
}

/**
 * The Kafka Streams keyed count (../shared/bench/kafka-streams, one stream
 * thread, its own input backlog of the same shape: 1 partition, 1000 keys) on
 * the same broker, for one value size and the given configurations; its
 * RESULT lines by configuration ("exactly_once_v2:1000").
 */
function kafkaStreamsKeyedCount(bytes: number, backlog: number): Map<string, StreamsResult> {
  const script = `${import.meta.dirname}/../../shared/bench/kafka-streams/run.sh`;
  const out = execFileSync('bash', [script, kafkaBootstrap(), String(backlog), String(backlog)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 1_800_000,
    env: { ...process.env, SIZES: String(bytes), CONFIGS: configs.map((c) => c.ks).join(' ') },
  });
  const results = new Map<string, StreamsResult>();
  for (const line of out.split('\n')) {
    const m =
      /^RESULT guarantee=(\S+) commitMs=(\d+) .* rate=(\d+) rec\/s processCpuS=\S+ processCpuCores=([\d.]+) cpuUsPerRec=([\d.]+)/.exec(
        line,
      );
    if (!m) continue;
    results.set(`${m[1]}:${m[2]}`, {
      rate: Number(m[3]),
      cores: Number(m[4]),
      cpuUsPerRecord: Number(m[5]),
      drained: line.includes('DRAINED'),
    });
  }
  return results;
}

const cpuNote = (r: Rate) =>
  `${(r.cpuSeconds / (windowMs / 1000)).toFixed(2)} cores, ${r.cpuUsPerRecord.toFixed(2)} µs CPU/rec`;

for (const size of runs('throughput') ? sizes : []) {
  const input = uniqueName(`bench-in-${size.bytes}`);
  await createTopics({ name: input, partitions: 1 });
  const produceMs = await produceBacklog(input, size.backlog, size.bytes);
  process.stdout.write(
    `${size.bytes} B values: backlog ${fmt(size.backlog)} records written in ${(produceMs / 1000).toFixed(1)} s\n`,
  );
  const rawOut = uniqueName('bench-raw-out');
  await createTopics({ name: rawOut, partitions: 1 });
  const baseline = await rawPipe(input, rawOut);
  const rows: [string, Rate, string][] = [['(a) raw pipe, confluent client (baseline)', baseline, '']];
  const fetcherOut = uniqueName('bench-fetcher-out');
  await createTopics({ name: fetcherOut, partitions: 1 });
  rows.push([
    "(a2) raw pipe, Weir's fetcher + confluent producer",
    await rawPipe(input, fetcherOut, true),
    '',
  ]);
  const weir = new Map<string, Rate>();
  for (const config of configs) {
    const r = await weirRun(input, config.mode, config.interval);
    weir.set(config.ks, r);
    rows.push([
      `(${config.mode === 'exactly-once' ? 'b' : 'c'}) Weir ${config.mode} keyed count, interval ${config.interval}`,
      r,
      `${r.checkpoints} checkpoints (p50 ${r.p50} ms, max ${r.max} ms, largest ${fmt(r.bytes)} B)`,
    ]);
    const other = values['baseline-root'];
    if (other) {
      const b = await weirRun(input, config.mode, config.interval, other);
      rows.push([
        `  the same from --baseline-root`,
        b,
        `this checkout ÷ baseline-root: ${(r.rate / b.rate).toFixed(3)}× rec/s, ${(b.cpuUsPerRecord / r.cpuUsPerRecord).toFixed(3)}× per core`,
      ]);
    }
  }
  const kjsOut = uniqueName('bench-kjs-out');
  if (!values['no-kafkajs']) {
    await createTopics({ name: kjsOut, partitions: 1 });
    rows.push(['(d) raw pipe, kafkajs', await kafkajsPipe(input, kjsOut), '']);
  }
  const pkOut = uniqueName('bench-pk-out');
  if (!values['no-platformatic']) {
    await createTopics({ name: pkOut, partitions: 1 });
    const pk = await platformaticPipe(input, pkOut).catch((error: Error) => error);
    if (pk instanceof Error) process.stdout.write(`  (e) raw pipe, @platformatic/kafka: ${pk.message}\n`);
    else rows.push(['(e) raw pipe, @platformatic/kafka', pk, '']);
  }
  for (const [what, r, note] of rows) {
    process.stdout.write(
      `  ${what.padEnd(52)} ${fmt(r.rate).padStart(9)} rec/s  ${(r.rate / baseline.rate).toFixed(2)}× baseline  ${cpuNote(r)}  ${r.drained ? '[backlog drained early] ' : ''}${note}\n`,
    );
  }
  const admin = new KafkaAdmin(kafkaBootstrap());
  for (const topic of [input, rawOut, fetcherOut, kjsOut, pkOut])
    await admin.deleteTopic(topic).catch(() => undefined);
  admin.disconnect();
  if (!values['no-kafka-streams']) {
    process.stdout.write(
      `  Kafka Streams keyed count, same broker, one stream thread (../shared/bench/kafka-streams):\n`,
    );
    const streams = kafkaStreamsKeyedCount(size.bytes, size.backlog);
    for (const config of configs) {
      const ks = streams.get(config.ks);
      const w = weir.get(config.ks) as Rate;
      if (!ks) {
        process.stdout.write(`    ${config.ks}: no RESULT from Kafka Streams\n`);
        continue;
      }
      process.stdout.write(
        `    ${config.ks.padEnd(22)} KS ${fmt(ks.rate).padStart(9)} rec/s, ${ks.cores.toFixed(2)} cores, ${ks.cpuUsPerRecord.toFixed(2)} µs CPU/rec${ks.drained ? ' [drained]' : ''}` +
          `  |  Weir ÷ KS: ${(w.rate / ks.rate).toFixed(2)}× per record/s, ${(ks.cpuUsPerRecord / w.cpuUsPerRecord).toFixed(2)}× per core\n`,
      );
    }
  }
  process.stdout.write('\n');
}

/**
 * End to end: a TaskManager started on a backlog of `n` records, timed from
 * "restored" until its last stage has read `lastStageRecords` (every record a
 * word or a view turned into); input records per second over that time.
 */
async function drainRun(
  input: string,
  n: number,
  job: { entry: string; args?: Record<string, unknown>; lastStage: string; lastStageRecords: number },
): Promise<number> {
  const { tm, metricsUrl: url } = await startTaskManager(input, 'exactly-once', '1s', job);
  const started = Date.now();
  const deadline = started + 600_000;
  while ((await metric(url, 'weir_task_records_in_total', job.lastStage)) < job.lastStageRecords) {
    if (Date.now() > deadline) throw new Error(`${job.entry}: the backlog was not drained within 10 minutes`);
    await sleep(100);
  }
  const seconds = (Date.now() - started) / 1000;
  tm.signal('SIGKILL');
  await tm.exited;
  return n / seconds;
}

/**
 * The Kafka Streams twin of a pipeline job (bench/kafka-streams, built with
 * Maven on first use) on the same input topic and broker: input records per
 * second from its first record read until the stage after its repartition
 * has read `lastStageRecords`.
 */
function kafkaStreams(
  topology: 'wordcount' | 'pageviews',
  input: string,
  n: number,
  lastStageRecords: number,
): number {
  return kafkaStreamsTwin('Pipelines', [
    topology,
    input,
    String(n),
    String(lastStageRecords),
    uniqueName(`ksb-${topology}`),
  ]);
}

/** Lines of 8 words from a vocabulary of 1000, and page views of 1000 users 10 ms of event time apart. */
const wordsPerLine = 8;
const vocabulary = Array.from({ length: 1000 }, (_, i) => `word${i}`);
const lineOf = (i: number) =>
  Buffer.from(Array.from({ length: wordsPerLine }, (_, j) => vocabulary[(i * 7 + j * 131) % 1000]).join(' '));
const viewsStart = Date.now() - 86_400_000;
const viewOf = (i: number) =>
  Buffer.from(
    JSON.stringify({ user: `user${(i * 7) % 1000}`, page: `/p${i % 50}`, time: viewsStart + i * 10 }),
  );

if (runs('pipelines')) {
  const n = values.quick ? 100_000 : 400_000;
  const inputs = {
    keyed: uniqueName('bench-keyed'),
    lines: uniqueName('bench-lines'),
    views: uniqueName('bench-views'),
  };
  for (const name of Object.values(inputs)) await createTopics({ name, partitions: 1 });
  await produceBacklog(inputs.keyed, n, 100);
  await produceBacklog(inputs.lines, n / 4, 0, lineOf);
  await produceBacklog(inputs.views, n, 0, viewOf);
  process.stdout.write(
    `pipelines, end to end (from "restored" until the last stage has read everything), exactly-once, 1 s checkpoints:\n` +
      `  backlogs: ${fmt(n)} records of 100 B; ${fmt(n / 4)} lines of ${wordsPerLine} words; ${fmt(n)} page views (~70 B)\n`,
  );
  const jobs = `${import.meta.dirname}/../src/jobs`;
  const keyed = await drainRun(inputs.keyed, n, {
    entry: `${jobs}/keyed-count.ts`,
    lastStage: 's0-t0',
    lastStageRecords: n,
  });
  const lines = await drainRun(inputs.lines, n / 4, {
    entry: `${jobs}/word-count.ts`,
    lastStage: 's1-t0',
    lastStageRecords: (n / 4) * wordsPerLine,
  });
  const views = await drainRun(inputs.views, n, {
    entry: `${jobs}/page-views.ts`,
    args: { late: uniqueName('bench-late'), idleMs: 600_000 },
    lastStage: 's1-t0',
    lastStageRecords: n,
  });
  const ksLines = kafkaStreams('wordcount', inputs.lines, n / 4, (n / 4) * wordsPerLine);
  const ksViews = kafkaStreams('pageviews', inputs.views, n, n);
  const rows: [string, number, string][] = [
    ['(b) Weir keyed count, one stage (baseline)', keyed, ''],
    [
      `(e) Weir word count, two stages: lines/s (× ${wordsPerLine} words)`,
      lines,
      `${(lines / ksLines).toFixed(2)}× Kafka Streams`,
    ],
    ['(e′) Kafka Streams word count (groupBy word, count)', ksLines, ''],
    [
      '(f) Weir page views per user-minute, two stages: views/s',
      views,
      `${(views / ksViews).toFixed(2)}× Kafka Streams`,
    ],
    ['(f′) Kafka Streams page views (windowed count, suppress)', ksViews, ''],
  ];
  for (const [what, rate, note] of rows) {
    process.stdout.write(
      `  ${what.padEnd(62)} ${fmt(rate).padStart(9)} rec/s  ${(rate / keyed).toFixed(2)}× Weir keyed count  ${note}\n`,
    );
  }
  process.stdout.write(`  word count in words counted per second: ${fmt(lines * wordsPerLine)}\n`);
  const admin = new KafkaAdmin(kafkaBootstrap());
  for (const topic of Object.values(inputs)) await admin.deleteTopic(topic).catch(() => undefined);
  admin.disconnect();
  process.stdout.write('\n');
}

if (runs('checkpoint'))
  process.stdout.write(
    'checkpoint cost against state size (4 partitions, one object, MinIO on the harness)\n',
  );
for (const keys of runs('checkpoint') ? [10_000, 100_000, 1_000_000] : []) {
  const c = await checkpointCost(keys);
  process.stdout.write(
    `  ${fmt(keys).padStart(9)} keys: ${(c.bytes / 1e6).toFixed(1).padStart(5)} MB, encode ${c.encodeMs.toFixed(0)} ms, upload ${c.uploadMs.toFixed(0)} ms, restore (4 ranged GETs + sha256 + decode) ${c.restoreMs.toFixed(0)} ms\n`,
  );
}

if (runs('restore'))
  process.stdout.write(
    '\nwhole TaskManager restore (spawn → "restored": connect, initTransactions, offsets, GETs, decode)\n',
  );
for (const keys of !runs('restore') ? [] : values.quick ? [10_000] : [10_000, 100_000, 1_000_000]) {
  const r = await processRestore(keys);
  process.stdout.write(
    `  ${fmt(keys).padStart(9)} keys in ${r.partitions} partitions: ${fmt(r.restoredMs)} ms\n`,
  );
}
