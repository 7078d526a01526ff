/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, or the runtime benchmark's
 * `--profile DIR`): where the main thread's time goes, as self time per
 * function and per area of the code, in percent of the sampled time and in
 * microseconds per record when the record count is given.
 *
 * Usage: node bench/cpu-profile.ts FILE.cpuprofile [--records N] [--top 30]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { records: { type: 'string' }, top: { type: 'string', default: '30' } },
});
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: node bench/cpu-profile.ts FILE.cpuprofile [--records N] [--top 30]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

/** Self time per node id, in microseconds, from the samples and their time deltas. */
const selfUs = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i] as number;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const totalUs = profile.endTime - profile.startTime;

/** Where a frame belongs: the areas a record's microseconds are split into in BENCHMARKS.md. */
function areaOf(node: ProfileNode): string {
  const { functionName: name, url } = node.callFrame;
  if (name === '(idle)') return 'idle (waiting for the client)';
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(program)') return 'V8 and native, outside JavaScript';
  if (url.includes('kafka-javascript')) return 'Kafka client (JS side and native calls)';
  if (url.includes('prom-client')) return 'metrics (prom-client)';
  if (url.includes('pino')) return 'logging';
  if (url.includes('/src/kafka/')) return 'src/kafka';
  if (url.includes('/src/runtime/state/')) return 'keyed state';
  if (url.includes('/src/runtime/task/stage-executor')) return 'executor';
  if (url.includes('/src/runtime/task/')) return 'task loop';
  if (url.includes('/src/runtime/')) return 'runtime, other';
  if (url.includes('/src/sdk/') || url.includes('/src/jobs/')) return 'job and formats';
  if (url === '' && name) return `builtin: ${name}`;
  if (url.startsWith('node:')) return 'Node internals';
  return 'other';
}

const areas = new Map<string, number>();
const functions = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id) as ProfileNode;
  const area = areaOf(node);
  areas.set(area, (areas.get(area) ?? 0) + us);
  const { functionName, url, lineNumber } = node.callFrame;
  const where = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${lineNumber + 1}`;
  functions.set(where, (functions.get(where) ?? 0) + us);
}

const records = values.records ? Number(values.records) : undefined;
const row = (label: string, us: number) =>
  `  ${label.padEnd(70)} ${((100 * us) / totalUs).toFixed(1).padStart(5)} %${records ? `  ${(us / records).toFixed(2).padStart(6)} µs/rec` : ''}\n`;

process.stdout.write(
  `${file}: ${(totalUs / 1e6).toFixed(1)} s sampled${records ? `, ${records} records` : ''}\n`,
);
process.stdout.write('by area (self time):\n');
for (const [area, us] of [...areas].sort((a, b) => b[1] - a[1])) process.stdout.write(row(area, us));
process.stdout.write(`top ${values.top} functions (self time):\n`);
for (const [where, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  process.stdout.write(row(where, us));
}
