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
 * its log, and exit code 137 is what the kubelet then reports. That needs an
 * init as the container's PID 1 (the image's tini): a PID 1 cannot kill
 * itself, and such a TaskManager lingered until its liveness probe failed and
 * the grace period ran out (measured: 33 s from start to a restart for a wrong
 * Kafka password, where 10 s of it was the refused call).
 */
export async function exitTaskManager(code: number, warn: (line: string) => void): Promise<never> {
  if (code !== 0) {
    const deadline = Date.now() + drainMs;
    while (pendingKafkaCalls() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (pendingKafkaCalls() > 0 && process.pid === 1) {
      // The kernel drops the signals a namespace's PID 1 sends itself, SIGKILL included.
      warn(
        `${pendingKafkaCalls()} Kafka call(s) still wait for the broker, and this TaskManager is PID 1 ` +
          'without an init, so it cannot end at once: its exit waits for them. Run it under an init ' +
          "(the Weir image's entrypoint is tini)",
      );
    } else if (pendingKafkaCalls() > 0) {
      warn(`${pendingKafkaCalls()} Kafka call(s) still wait for the broker; ending at once with SIGKILL`);
      process.kill(process.pid, 'SIGKILL');
    }
  }
  process.exit(code);
}
