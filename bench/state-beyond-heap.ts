/**
 * State larger than the heap (issue 31), on the local harness: one
 * TaskManager process whose JavaScript heap is capped (--max-old-space-size,
 * 512 MiB by default) runs a keyed job (bench/jobs/keyed-latest.ts: a count
 * and the latest ~90-byte value per key) over N distinct keys plus N/10
 * updates of random keys, with its state on disk (spec.taskManager.state.store:
 * disk, a 64 MiB cache). It is killed with SIGKILL once about half the input
 * is in, then a second process restores (snapshot + changelog) and finishes.
 *
 * Checked, not only timed: every output record read read_committed, each
 * key's counts exactly 1..n for its n input records (nothing lost, nothing
 * twice). Reported: throughput before the kill, the restore's time, the
 * heap's and the resident set's peaks (scraped every second), and the store's
 * size on disk.
 *
 * Usage: source .weir/harness/env && node bench/state-beyond-heap.ts [--keys 10000000] [--heap-mib 512]
 *        [--cache 67108864] [--store disk]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repositoryRoot } from '../e2e/support/cli.ts';
import { createTopics, kafkaBootstrap, uniqueName } from '../e2e/support/kafka-topics.ts';
import { NativeReader } from '../e2e/support/native-reader.ts';
import { TaskManagerProcess, taskManagerEnv } from '../e2e/support/taskmanager-process.ts';
import { TransactionalProducer } from '../src/kafka/transactional-producer.ts';
import { scrapeMetrics } from './taskmanager-kit.ts';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '10000000' },
    'heap-mib': { type: 'string', default: '512' },
    cache: { type: 'string', default: String(64 * 1024 * 1024) },
    store: { type: 'string', default: 'disk' },
    materialization: { type: 'string', default: '2m' },
  },
});
const keys = Number(values.keys);
const updates = Math.floor(keys / 10);
const total = keys + updates;
const partitions = 4;
const payload = 'x'.repeat(80);

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

/** Input record i: the first N give each key once, the rest update keys drawn by a fixed formula. */
function keyOf(i: number): number {
  return i < keys ? i : (i * 2_654_435_761) % keys;
}

async function produceInput(topic: string): Promise<void> {
  const producer = await TransactionalProducer.connect({
    bootstrapServers: kafkaBootstrap(),
    settings: { 'linger.ms': 20, 'batch.num.messages': 10000, 'queue.buffering.max.messages': 500000 },
  });
  for (let i = 0; i < total; i++) {
    await producer.sendWhenQueued({ topic, key: `k${keyOf(i)}`, value: Buffer.from(`${i}-${payload}`) });
    if (i % 1_000_000 === 0) log(`produced ${i.toLocaleString('en')}`);
  }
  await producer.flush();
  await producer.disconnect();
}

interface Peaks {
  heap: number;
  rss: number;
  diskBytes: number;
  cacheBytes: number;
}

/** Runs one TaskManager until `until` holds of its records-in count, scraping its metrics every second. */
async function runUntil(
  env: NodeJS.ProcessEnv,
  until: (recordsIn: number, lag: number) => boolean,
  peaks: Peaks,
  limitSeconds: number,
): Promise<{ tm: TaskManagerProcess; restoredMs: number; seconds: number; recordsIn: number }> {
  const tm = new TaskManagerProcess(env);
  const started = Date.now();
  const serving = await tm.waitForLog('serving', (l) => l.msg === 'serving', 60_000);
  const url = `http://127.0.0.1:${(serving.metrics as { port: number }).port}/metrics`;
  const restored = await tm.waitForLog('restored', (l) => l.msg === 'restored', 600_000);
  const restoredMs = Number(restored.time) - started;
  let recordsIn = 0;
  let movedAt = Date.now();
  for (let s = 0; s < limitSeconds; s++) {
    if (tm.child.exitCode !== null || tm.exitSignal) throw new Error(`TaskManager ended: ${tm.exitReport()}`);
    const m = await scrapeMetrics(url).catch(() => new Map<string, number>());
    const now = m.get('weir_task_records_in_total') ?? recordsIn;
    if (now !== recordsIn) movedAt = Date.now();
    recordsIn = now;
    if (Date.now() - movedAt > 60_000 && (m.get('weir_task_lag_records') ?? 1) > 0) {
      tm.signal('SIGKILL');
      throw new Error(`no record processed for 60 s at ${recordsIn}: ${tm.exitReport()}`);
    }
    peaks.heap = Math.max(peaks.heap, m.get('nodejs_heap_size_used_bytes') ?? 0);
    peaks.rss = Math.max(peaks.rss, m.get('process_resident_memory_bytes') ?? 0);
    peaks.diskBytes = Math.max(peaks.diskBytes, m.get('weir_state_disk_bytes') ?? 0);
    peaks.cacheBytes = Math.max(peaks.cacheBytes, m.get('weir_state_cache_bytes') ?? 0);
    if (s % 15 === 0)
      log(
        `records in ${recordsIn.toLocaleString('en')}, heap ${mib(m.get('nodejs_heap_size_used_bytes') ?? 0)} MiB, rss ${mib(m.get('process_resident_memory_bytes') ?? 0)} MiB, disk ${mib(m.get('weir_state_disk_bytes') ?? 0)} MiB`,
      );
    if (until(recordsIn, m.get('weir_task_lag_records') ?? Number.NaN)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { tm, restoredMs, seconds: (Date.now() - started) / 1000, recordsIn };
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

/** Reads the output read_committed and checks each key's counts are exactly 1..n. */
async function verify(topic: string): Promise<{ records: number; problems: string[] }> {
  const expected = new Uint32Array(keys);
  for (let i = 0; i < total; i++) (expected[keyOf(i)] as number)++;
  const seen = new Uint32Array(keys);
  const problems: string[] = [];
  const reader = await NativeReader.connect({
    bootstrapServers: kafkaBootstrap(),
    groupId: uniqueName('bench-beyond-heap-reader'),
    isolation: 'read_committed',
  });
  reader.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: -2 })));
  let records = 0;
  let quietSince = Date.now();
  try {
    while (Date.now() - quietSince < 10_000) {
      const batch = await reader.consume(10_000);
      if (batch.length) quietSince = Date.now();
      for (const m of batch) {
        records++;
        const { key, count } = JSON.parse(m.value?.toString() ?? '{}') as { key: string; count: number };
        const k = Number(key.slice(1));
        // Per key, the counts arrive in order (one partition per key): each must be the next.
        if (count !== (seen[k] as number) + 1 && problems.length < 10)
          problems.push(`key ${key}: count ${count} after ${seen[k]}`);
        seen[k] = Math.max(seen[k] as number, count);
      }
    }
  } finally {
    await reader.disconnect();
  }
  for (let k = 0; k < keys && problems.length < 10; k++)
    if (seen[k] !== expected[k]) problems.push(`key k${k}: counted to ${seen[k]}, expected ${expected[k]}`);
  return { records, problems };
}

const input = uniqueName('bench-heap-in');
const output = uniqueName('bench-heap-out');
await createTopics({ name: input, partitions }, { name: output, partitions });
log(`producing ${total.toLocaleString('en')} records (${keys.toLocaleString('en')} keys)`);
await produceInput(input);
const env: NodeJS.ProcessEnv = {
  ...taskManagerEnv({
    job: 'beyond-heap',
    runId: uniqueName('r'),
    input,
    output,
    parallelism: 2,
    tasks: [0, 1],
    interval: '1s',
    timeout: '120s',
    materializationInterval: values.materialization,
  }),
  WEIR_ENTRY: join(repositoryRoot, 'bench/jobs/keyed-latest.ts'),
  WEIR_METRICS_PORT: '0',
  WEIR_STATE_STORE: values.store,
  WEIR_STATE_CACHE_BYTES: values.cache,
  NODE_OPTIONS: `--max-old-space-size=${values['heap-mib']}`,
};
const peaks: Peaks = { heap: 0, rss: 0, diskBytes: 0, cacheBytes: 0 };
const first = await runUntil(env, (n) => n >= total / 2, peaks, 3600);
log(
  `first TaskManager: ${first.recordsIn.toLocaleString('en')} records in ${first.seconds.toFixed(0)} s; SIGKILL`,
);
first.tm.signal('SIGKILL');
await first.tm.exited;
// Its records-in count starts at 0 and includes what it redoes after the last commit: it is done when no lag is left.
const second = await runUntil(env, (n, lag) => n > 0 && lag === 0, peaks, 3600);
const committed = second.tm.lines.filter((l) => l.msg === 'checkpoint: committed').length;
second.tm.signal('SIGTERM');
const code = await second.tm.exited;
const { records, problems } = await verify(output);
const lines = [
  `state beyond the heap: ${keys.toLocaleString('en')} keys, ${total.toLocaleString('en')} records, ${values.store} store, heap capped at ${values['heap-mib']} MiB, cache ${mib(Number(values.cache))} MiB, one SIGKILL`,
  '| measure | value |',
  '|---|---:|',
  `| first TaskManager: records/s until the SIGKILL | ${(first.recordsIn / first.seconds).toFixed(0)} |`,
  `| second: restore (start to "restored") | ${(second.restoredMs / 1000).toFixed(1)} s |`,
  `| second: records redone or new after restore | ${second.recordsIn.toLocaleString('en')} |`,
  `| second: records/s after restore | ${(second.recordsIn / (second.seconds - second.restoredMs / 1000)).toFixed(0)} |`,
  `| heap used, peak | ${mib(peaks.heap)} MiB |`,
  `| resident set, peak | ${mib(peaks.rss)} MiB |`,
  `| state cache, peak | ${mib(peaks.cacheBytes)} MiB |`,
  `| disk store, peak | ${mib(peaks.diskBytes)} MiB |`,
  `| checkpoints committed by the second | ${committed} |`,
  `| output records read_committed | ${records.toLocaleString('en')} (input ${total.toLocaleString('en')}) |`,
  `| exactly once (per-key counts 1..n) | ${problems.length === 0 && records === total ? 'yes' : `NO: ${problems.join('; ')}`} |`,
  `| second's exit code | ${code} |`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (problems.length || records !== total) process.exitCode = 1;
