import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { terminationMessageMaxBytes, terminationMessagePath } from '../api/constants.ts';

/** "CODE: message" of a coded error (its cause's code when it wraps one), on one line, within the kubelet's limit. */
export function terminationMessage(error: unknown): string {
  const coded = error as { code?: unknown; message?: unknown };
  const code = typeof coded?.code === 'string' ? coded.code : 'INTERNAL';
  const message = typeof coded?.message === 'string' ? coded.message : String(error);
  const line = `${code}: ${message}`.replace(/\s*\n\s*/g, ' ');
  const bytes = Buffer.from(line, 'utf8');
  if (bytes.length <= terminationMessageMaxBytes) return line;
  return `${bytes
    .subarray(0, terminationMessageMaxBytes - 3)
    .toString('utf8')
    .replace(/\uFFFD$/, '')}...`;
}

/**
 * Writes a termination message where the kubelet reads it (an exit's cause,
 * or a stop's result), so the operator can carry it into the job's status.
 * Only into a file that already exists (the kubelet creates it in a pod):
 * outside a pod this does nothing, and it never throws, since it runs on the
 * way out.
 */
export function writeTerminationMessage(text: string, path = terminationMessagePath): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r+');
    ftruncateSync(fd, 0);
    writeSync(fd, text, 0, 'utf8');
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
