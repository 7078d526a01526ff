/**
 * A memory cgroup with a limit, for running a process as a pod with `resources.limits.memory` would run:
 * the kernel holds it to the limit (reclaiming, and OOM-killing it if that is not enough), and Node sizes
 * its heap from the limit it sees. Created under the cgroup this process runs in, never at the root of
 * the machine's hierarchy; cgroup v1 and v2 both.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryCgroup {
  /** A command prefix that moves the command into the cgroup before it starts (`bash -c … exec`). */
  prefix: string[];
  /** Peak memory charged to the cgroup, the times the limit was reached, and OOM kills. */
  usage(): { peakMiB: number; limitHits: number; oomKills: number };
  remove(): void;
}

const root = '/sys/fs/cgroup';

function ownPath(controller: string): string {
  // v1 lines are "id:controllers:/path", v2 is "0::/path".
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (path === undefined) continue;
    if (controller === '' ? controllers === '' : controllers?.split(',').includes(controller)) return path;
  }
  throw new Error(`this process is in no ${controller || 'v2'} cgroup (/proc/self/cgroup)`);
}

const mib = (bytes: number) => Math.round(bytes / 1048576);
const counter = (text: string, name: string) =>
  Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);

export function createMemoryCgroup(name: string, limitMiB: number): MemoryCgroup {
  const v2 = existsSync(join(root, 'cgroup.controllers'));
  const dir = v2 ? join(root, ownPath(''), name) : join(root, 'memory', ownPath('memory'), name);
  mkdirSync(dir, { recursive: true });
  const limit = String(limitMiB * 1048576);
  writeFileSync(join(dir, v2 ? 'memory.max' : 'memory.limit_in_bytes'), limit);
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  return {
    prefix: ['bash', '-c', 'echo $$ > "$0" && exec "$@"', join(dir, 'cgroup.procs')],
    usage() {
      if (v2) {
        const events = read('memory.events');
        return {
          peakMiB: existsSync(join(dir, 'memory.peak')) ? mib(Number(read('memory.peak'))) : Number.NaN,
          limitHits: counter(events, 'max'),
          oomKills: counter(events, 'oom_kill'),
        };
      }
      return {
        peakMiB: mib(Number(read('memory.max_usage_in_bytes'))),
        limitHits: Number(read('memory.failcnt')),
        oomKills: counter(read('memory.oom_control'), 'oom_kill'),
      };
    },
    remove() {
      rmdirSync(dir);
    },
  };
}
