import type { StreamJobSnapshot } from '../../api/snapshot.ts';
import { type StreamJob, upgradeStepsUnderWay } from '../../api/streamjob.ts';
import { CodedError } from '../../errors.ts';

/** Where a wait stands: still going (with what to show), or over (with the result to print, or a failure). */
export type WaitState = { done: false; progress: string } | { done: true; result: string; failed?: boolean };

/**
 * Suspended, and the stop behind it over: the phase reads Suspended while the
 * TaskManagers still stop with their savepoint (status.upgrade), so that must
 * have ended and the savepoint (if any) be recorded.
 */
export function suspendedState(job: StreamJob, generation: number): WaitState {
  const status = job.status;
  const stopping =
    upgradeStepsUnderWay.has(status?.upgrade?.step ?? '') || status?.savepointInProgress !== undefined;
  if ((status?.observedGeneration ?? 0) >= generation && status?.phase === 'Suspended' && !stopping) {
    const savepoint = [...(status.savepoints ?? [])].reverse().find((s) => s.reason === 'suspend');
    return {
      done: true,
      result: `suspended${savepoint ? `; resume restores savepoint ${savepoint.id}` : ''}`,
    };
  }
  return {
    done: false,
    progress: `phase ${status?.phase ?? 'Pending'}${stopping ? ', stopping with its savepoint' : ''}`,
  };
}

/** Running again at the given generation, every task ready. */
export function runningState(job: StreamJob, generation: number, restartNonce?: number): WaitState {
  const status = job.status;
  const observed =
    (status?.observedGeneration ?? 0) >= generation &&
    (restartNonce === undefined || (status?.observedRestartNonce ?? -1) >= restartNonce);
  const ready = status?.tasks?.ready ?? 0;
  const total = status?.tasks?.total ?? job.spec.parallelism;
  if (observed && status?.phase === 'Running' && ready === total)
    return { done: true, result: `running: ${ready}/${total} tasks ready, run ${status.run?.id ?? '-'}` };
  if (observed && status?.phase === 'Failed')
    return {
      done: true,
      failed: true,
      result: `failed: ${status.conditions?.find((c) => c.type === 'Ready')?.message ?? ''}`,
    };
  return { done: false, progress: `phase ${status?.phase ?? 'Pending'}, ${ready}/${total} tasks ready` };
}

export interface WaitOptions {
  timeoutMs: number;
  pollMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called when the progress text changes. */
  onProgress?: (progress: string) => void;
}

/** How a StreamJobSnapshot the plugin created stands. */
export function snapshotState(snapshot: StreamJobSnapshot): WaitState {
  const status = snapshot.status ?? {};
  const name = snapshot.metadata.name ?? '';
  if (status.state === 'Completed')
    return {
      done: true,
      result: `savepoint ${status.savepointId} completed: ${status.path} (streamjobsnapshot ${name})`,
    };
  if (status.state === 'Failed')
    return {
      done: true,
      failed: true,
      result: `streamjobsnapshot ${name} failed: ${status.error ?? 'no reason given'}`,
    };
  if (status.state === 'InProgress')
    return { done: false, progress: `taking savepoint ${status.savepointId}` };
  if (status.state === 'Pending')
    return {
      done: false,
      progress: status.message ?? `pending${status.failures ? ` (attempt ${status.failures + 1})` : ''}`,
    };
  return { done: false, progress: 'created; waiting for the operator' };
}

/** Reads an object until `state` says it is done, or the timeout passes (a coded error naming what was awaited). */
export async function waitFor<T>(
  read: () => Promise<T>,
  what: string,
  state: (current: T) => WaitState,
  options: WaitOptions,
): Promise<{ result: string; failed: boolean }> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const deadline = now() + options.timeoutMs;
  let shown = '';
  for (;;) {
    const s = state(await read());
    if (s.done) return { result: s.result, failed: s.failed ?? false };
    if (s.progress !== shown) {
      shown = s.progress;
      options.onProgress?.(s.progress);
    }
    if (now() >= deadline)
      throw new CodedError(
        'TIMEOUT',
        `${what}: not done after ${Math.round(options.timeoutMs / 1000)}s (${shown})`,
        true,
      );
    await sleep(options.pollMs ?? 1000);
  }
}
