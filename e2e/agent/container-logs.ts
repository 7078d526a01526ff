import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';

/**
 * Container logs live at <logsDir>/<namespace>_<pod>_<uid>/<container>/<restartCount>.log,
 * the layout of the kubelet's /var/log/pods.
 */
export function containerLogFiles(
  logsDir: string,
  namespace: string,
  pod: string,
  container: string,
): Map<number, string> {
  if (!existsSync(logsDir)) return new Map();
  const podDirs = readdirSync(logsDir)
    .filter((d) => d.startsWith(`${namespace}_${pod}_`))
    .map((d) => join(logsDir, d, container))
    .filter((d) => existsSync(d))
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
  const newest = podDirs.at(-1);
  if (!newest) return new Map();
  const runs = readdirSync(newest)
    .filter((f) => /^\d+\.log$/.test(f))
    .map((f) => [Number.parseInt(f, 10), join(newest, f)] as const);
  return new Map(runs.sort(([a], [b]) => a - b));
}

/**
 * Picks the log of the current run, or with `previous` the run before it, as
 * the kubelet does: during a crash-loop back-off the restart count is already
 * raised, so "previous" is the run that just failed.
 */
export function selectLogFile(
  runs: Map<number, string>,
  restartCount: number | undefined,
  previous: boolean,
): string | undefined {
  const newest = [...runs.keys()].at(-1);
  if (newest === undefined) return undefined;
  const current = restartCount ?? newest;
  if (previous) return runs.get(current - 1);
  return runs.get(current) ?? runs.get(newest);
}

async function tailStart(file: string, tailLines: number): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    let position = size;
    let newlines = 0;
    const chunk = Buffer.alloc(64 * 1024);
    // A trailing newline ends the last line; it does not start another one.
    let skipTrailing = true;
    while (position > 0) {
      const length = Math.min(chunk.length, position);
      position -= length;
      await handle.read(chunk, 0, length, position);
      for (let i = length - 1; i >= 0; i--) {
        if (chunk[i] !== 0x0a) {
          skipTrailing = false;
          continue;
        }
        if (skipTrailing) {
          skipTrailing = false;
          continue;
        }
        newlines++;
        if (newlines === tailLines) return position + i + 1;
      }
    }
    return 0;
  } finally {
    await handle.close();
  }
}

export interface LogRequest {
  file: string;
  tailLines?: number;
  follow: boolean;
  isRunning: () => boolean;
  closed: () => boolean;
}

/** Streams a log file, optionally following it until the container stops or the client leaves. */
export async function streamLog(request: LogRequest, out: Writable): Promise<void> {
  let position = request.tailLines !== undefined ? await tailStart(request.file, request.tailLines) : 0;
  const copyFrom = (start: number) =>
    new Promise<number>((resolve, reject) => {
      const size = statSync(request.file).size;
      if (size <= start) {
        resolve(start);
        return;
      }
      const stream = createReadStream(request.file, { start, end: size - 1 });
      stream.on('error', reject);
      stream.on('end', () => resolve(size));
      stream.pipe(out, { end: false });
    });
  position = await copyFrom(position);
  while (request.follow && !request.closed()) {
    const running = request.isRunning();
    await new Promise((resolve) => setTimeout(resolve, 300));
    position = await copyFrom(position);
    if (!running) break;
  }
}
