import { pendingKafkaCalls } from '../kafka/errors.ts';

/** How long a failing TaskManager waits for its Kafka calls to answer before it ends by SIGKILL. */
const drainMs = 500;

/**
 * Ends a TaskManager's process with `code`. Node waits at exit for native
 * calls still running in its thread pool: a transaction commit or abort
 * waiting on a broker the TaskManager cannot reach held a failing TaskManager
 * for the call's whole timeout (measured: 30 s, the pod's grace period, after
 * a stop for want of progress), and with it the replacement pod of the same
 * name. So a failing TaskManager whose calls do not drain within half a second
 * kills itself instead; its cause is already in its termination message and
 * its log, and exit code 137 is what the kubelet then reports.
 */
export async function exitTaskManager(code: number, warn: (line: string) => void): Promise<never> {
  if (code !== 0) {
    const deadline = Date.now() + drainMs;
    while (pendingKafkaCalls() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (pendingKafkaCalls() > 0) {
      warn(`${pendingKafkaCalls()} Kafka call(s) still wait for the broker; ending at once with SIGKILL`);
      process.kill(process.pid, 'SIGKILL');
    }
  }
  process.exit(code);
}
