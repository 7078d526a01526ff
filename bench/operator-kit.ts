/**
 * What the operator benchmarks share: the TaskManager stand-in (tiny-taskmanager.c) and its image, the API
 * server's own write counters, a process's CPU and memory, and a bounded-concurrency loop.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { importImage } from '../e2e/support/harness-nodes.ts';

// Tagged: an untagged (latest) image is pulled again on every start, and nothing can be pulled here.
export const tinyTaskManagerImage = 'weir-bench/tiny-taskmanager:2';
const root = join(import.meta.dirname, '..');

/**
 * The chart's defaults for the operator (charts/weir/values.yaml): the benches run it as a deployment
 * would, not with the tests' 2 s poll.
 */
export const chartValues = parseYaml(readFileSync(join(root, 'charts', 'weir', 'values.yaml'), 'utf8')) as {
  heapPercent: number;
  concurrency: number;
  statusPollInterval: string;
};

/**
 * The stand-in's binary, and for the harness's real nodes an image of it (static, FROM scratch), made with
 * buildah and imported into every node; kwok's nodes run no containers.
 */
export async function buildTinyTaskManager(forHarnessNodes: boolean): Promise<void> {
  const dir = join(process.env.HOME ?? '/root', '.cache', 'weir', 'bench');
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, 'tiny-taskmanager');
  execFileSync('gcc', ['-O2', '-Wall', '-static', '-o', binary, join(root, 'bench', 'tiny-taskmanager.c')]);
  if (!forHarnessNodes) return;
  const buildah = (...args: string[]) => execFileSync('buildah', args, { encoding: 'utf8' }).trim();
  const container = buildah('from', 'scratch');
  buildah('copy', container, binary, '/tiny-taskmanager');
  buildah('config', '--entrypoint', '["/tiny-taskmanager"]', '--user', '65532:65532', container);
  buildah('commit', '--quiet', '--rm', container, `localhost/${tinyTaskManagerImage}`);
  const archive = join(dir, 'tiny-taskmanager.oci.tar');
  rmSync(archive, { force: true });
  buildah(
    'push',
    '--quiet',
    `localhost/${tinyTaskManagerImage}`,
    `oci-archive:${archive}:docker.io/${tinyTaskManagerImage}`,
  );
  await importImage(archive);
}

/** Runs `work` on every item, at most `limit` at a time. */
export async function inParallel<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  });
  await Promise.all(workers);
}

/** A process's CPU time so far and its peak resident memory, from /proc. */
export function procStats(pid: number): { cpuSeconds: number; peakRssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / 100, peakRssMiB: Math.round(hwm / 1024) };
}

/** Writes by verb and resource, from the API server's own request counters (all clients). */
export function apiServerWrites(): Map<string, number> {
  const text = execFileSync('kubectl', ['get', '--raw', '/metrics'], {
    maxBuffer: 256 * 1024 * 1024,
  }).toString();
  const writes = new Map<string, number>();
  for (const [, labels, value] of text.matchAll(/^apiserver_request_total\{([^}]*)\} (\S+)$/gm)) {
    const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(labels ?? '')?.[1] ?? '';
    const verb = label('verb');
    if (!['POST', 'PUT', 'PATCH', 'DELETE', 'DELETECOLLECTION', 'APPLY'].includes(verb)) continue;
    const resource = label('subresource')
      ? `${label('resource')}/${label('subresource')}`
      : label('resource');
    const key = `${verb} ${resource} ${label('code')}`;
    writes.set(key, (writes.get(key) ?? 0) + Number(value));
  }
  return writes;
}

/**
 * The operator's writes (StreamJobs, pods, Secrets, Events) since `before`, divided by `per` (jobs, or jobs ×
 * minutes) when given, to two decimals.
 */
export function writesSince(before: Map<string, number>, per = 0): Record<string, number> {
  const counted = (key: string) => /^(\w+) (streamjobs(\/status)?|pods|secrets|events) \d+$/.test(key);
  const writes: Record<string, number> = {};
  for (const [key, count] of apiServerWrites()) {
    const made = count - (before.get(key) ?? 0);
    if (made > 0 && counted(key)) writes[key] = per ? Math.round((made / per) * 100) / 100 : made;
  }
  return writes;
}
