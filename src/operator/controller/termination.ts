import { bounded } from '../decide/bounded.ts';

export { failureMessageMaxChars } from '../decide/bounded.ts';

const signalNames: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  6: 'SIGABRT',
  9: 'SIGKILL',
  11: 'SIGSEGV',
  15: 'SIGTERM',
};

export interface Terminated {
  exitCode: number;
  reason?: string;
  message?: string;
}

/**
 * Why a TaskManager container ended, as one sentence a person reads in
 * `kubectl describe`: the exit code, the signal behind it, the kubelet's
 * reason (OOMKilled), and the cause: the coded line the TaskManager wrote, or,
 * when it wrote none (killed by a signal) and the kubelet fell back to the
 * log's tail, the last log line's message. Never the log itself: that stays
 * with `kubectl logs`. Bounded to failureMessageMaxChars.
 */
export function describeTerminated(terminated: Terminated): string {
  const { exitCode, reason } = terminated;
  const notes: string[] = [];
  const signal = exitCode > 128 && exitCode < 160 ? exitCode - 128 : undefined;
  if (signal !== undefined) notes.push(signalNames[signal] ?? `signal ${signal}`);
  if (reason && reason !== 'Error' && reason !== 'Completed') notes.push(reason);
  const head = `exit code ${exitCode}${notes.length ? ` (${notes.join(', ')})` : ''}`;
  const cause = causeOf(terminated.message);
  return bounded(cause ? `${head}: ${cause}` : head);
}

/** The termination message's cause: a coded line as written, or the last pino line's message. */
function causeOf(message: string | undefined): string | undefined {
  const lines = (message ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length === 0) return undefined;
  if (!lines.some((l) => l.startsWith('{'))) return lines.join(' ');
  // The kubelet's fallback to the log's tail: its first line is usually cut, so the last readable one counts.
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] as string;
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: unknown; code?: unknown };
      if (typeof entry.msg !== 'string') continue;
      const code = typeof entry.code === 'string' ? `${entry.code}: ` : '';
      return `last log line: ${code}${entry.msg}`;
    } catch {
      // A line cut by the kubelet's tail limit.
    }
  }
  return undefined;
}
