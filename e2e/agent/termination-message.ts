import { chmodSync, closeSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import type { V1Container } from '@kubernetes/client-node';

/** What the kubelet keeps of a termination message file, and of a log tail used in its place. */
const fileMaxBytes = 4096;
const logTailMaxBytes = 2048;
const logTailMaxLines = 80;

/** Where the container writes its termination message: the pod spec's path, Kubernetes' default otherwise. */
export function terminationMessageTarget(spec: V1Container): string {
  return spec.terminationMessagePath || '/dev/termination-log';
}

/** An empty file the container may write (whatever user it runs as), to bind at the target path. */
export function prepareTerminationFile(hostPath: string): void {
  writeFileSync(hostPath, '');
  chmodSync(hostPath, 0o666);
}

/** At most `maxBytes` of a file, from its start or from its end; empty when it cannot be read. */
function readPart(path: string, maxBytes: number, from: 'start' | 'end'): string {
  let fd: number | undefined;
  try {
    const size = statSync(path).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    fd = openSync(path, 'r');
    readSync(fd, buffer, 0, length, from === 'start' ? 0 : size - length);
    return buffer.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The message the kubelet reports for a terminated container: the file's
 * content (its first 4096 bytes); with FallbackToLogsOnError, a container that
 * failed and wrote nothing gets the tail of its log (at most 80 lines and
 * 2048 bytes) instead.
 */
export function terminationMessageOf(options: {
  file: string;
  logFile: string;
  policy: string | undefined;
  exitCode: number;
}): string | undefined {
  const written = readPart(options.file, fileMaxBytes, 'start');
  if (written.trim()) return written;
  if (options.policy !== 'FallbackToLogsOnError' || options.exitCode === 0) return undefined;
  const tail = readPart(options.logFile, logTailMaxBytes, 'end').split('\n');
  if (tail.at(-1) === '') tail.pop();
  const lines = tail.slice(-logTailMaxLines).join('\n');
  return lines.trim() ? lines : undefined;
}
