import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  now: () => Date;
}

function isCode(error: unknown, code: number): boolean {
  return (error as { code?: number }).code === code;
}

/** A Lease record as this replica last saw it, and when (by its own clock) it last saw it change. */
export interface ObservedLease {
  record: string;
  observedAtMs: number;
}

/** The fields a holder changes when it renews or hands over; the API server's clock stays out of it. */
function recordOf(lease: V1Lease): string {
  const spec = lease.spec;
  return JSON.stringify([
    spec?.holderIdentity ?? '',
    spec?.leaseDurationSeconds ?? 0,
    String(spec?.acquireTime ?? ''),
    String(spec?.renewTime ?? ''),
    spec?.leaseTransitions ?? 0,
  ]);
}

/**
 * Notes the Lease as read now: the observation time moves only when the
 * record changed. Expiry is then judged on this replica's clock alone, as
 * client-go does, so a clock that runs ahead or behind the holder's cannot
 * make a renewed lease look expired.
 */
export function observeLease(
  previous: ObservedLease | undefined,
  lease: V1Lease,
  nowMs: number,
): ObservedLease {
  const record = recordOf(lease);
  return previous?.record === record ? previous : { record, observedAtMs: nowMs };
}

/** Whether a lease held by someone else may be taken over: free, or unchanged for a whole lease duration. */
export function leaseExpired(lease: V1Lease, observed: ObservedLease, nowMs: number): boolean {
  if (!lease.spec?.holderIdentity) return true;
  const seconds = lease.spec.leaseDurationSeconds ?? 0;
  return observed.observedAtMs + seconds * 1000 < nowMs;
}

/** Bounds an API call: a request that hangs must not hold leadership past the renew deadline. */
function within<T>(ms: number, what: string, call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms}ms`)), ms);
  });
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Lease-based leader election (coordination.k8s.io/v1), as client-go does it:
 * acquire when the lease is free or expired, renew every retry period, and
 * give up leadership when renewals fail for longer than the renew deadline.
 */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly options: LeaderElectionOptions;
  private readonly log: Logger;
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private observed: ObservedLease | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(kubeConfig: KubeConfig, options: LeaderElectionOptions, log: Logger) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
    this.options = options;
    this.log = log.child({ lease: `${options.namespace}/${options.name}`, identity: options.identity });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Runs until stopped; calls onStarted on acquiring and onStopped on losing leadership. */
  run(callbacks: { onStarted: () => void; onStopped: () => void }): void {
    const loop = async () => {
      if (this.stopped) return;
      try {
        const held = await this.tryAcquireOrRenew();
        if (held) {
          this.lastRenew = this.nowMs();
          if (!this.leading) {
            this.leading = true;
            this.log.info('became leader');
            callbacks.onStarted();
          }
        } else if (this.leading) {
          this.lose(callbacks, 'lease taken by another holder');
        }
      } catch (error) {
        this.log.warn({ err: error }, 'lease update failed');
        if (this.leading && this.nowMs() - this.lastRenew > this.options.renewDeadlineMs) {
          this.lose(callbacks, 'could not renew within the renew deadline');
        }
      }
      if (!this.stopped) this.timer = setTimeout(loop, this.options.retryPeriodMs);
    };
    void loop();
  }

  /** Stops renewing and, if leading, releases the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await within(
        this.callTimeoutMs,
        'reading the lease',
        this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace }),
      );
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      lease.spec = { ...lease.spec, holderIdentity: undefined, renewTime: undefined, acquireTime: undefined };
      await within(
        this.callTimeoutMs,
        'releasing the lease',
        this.api.replaceNamespacedLease({
          name: this.options.name,
          namespace: this.options.namespace,
          body: lease,
        }),
      );
      this.log.info('released leadership');
    } catch (error) {
      this.log.warn({ err: error }, 'could not release the lease; it will expire');
    }
  }

  private nowMs(): number {
    return this.options.now().getTime();
  }

  /** Each call gets less than the renew deadline, so a hung request is a failed renewal, not a stuck one. */
  private get callTimeoutMs(): number {
    return Math.max(1, Math.floor(this.options.renewDeadlineMs / 2));
  }

  private lose(callbacks: { onStopped: () => void }, reason: string): void {
    this.leading = false;
    this.log.error({ reason }, 'lost leadership');
    callbacks.onStopped();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { name, namespace, identity, leaseDurationMs } = this.options;
    const now = this.options.now();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      renewTime: new V1MicroTime(now),
    };
    const timeoutMs = this.callTimeoutMs;
    let lease: V1Lease;
    try {
      lease = await within(timeoutMs, 'reading the lease', this.api.readNamespacedLease({ name, namespace }));
    } catch (error) {
      if (!isCode(error, 404)) throw error;
      try {
        await within(
          timeoutMs,
          'creating the lease',
          this.api.createNamespacedLease({
            namespace,
            body: {
              metadata: { name, namespace },
              spec: { ...spec, acquireTime: new V1MicroTime(now), leaseTransitions: 0 },
            },
          }),
        );
        return true;
      } catch (createError) {
        if (isCode(createError, 409)) return false;
        throw createError;
      }
    }
    this.observed = observeLease(this.observed, lease, now.getTime());
    const mine = lease.spec?.holderIdentity === identity;
    if (!mine && !leaseExpired(lease, this.observed, now.getTime())) return false;
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1);
    lease.spec = {
      ...spec,
      acquireTime:
        mine && lease.spec?.acquireTime ? new V1MicroTime(lease.spec.acquireTime) : new V1MicroTime(now),
      leaseTransitions: transitions,
    };
    try {
      // The resourceVersion in the body makes this a compare-and-swap: two candidates cannot both win.
      await within(
        timeoutMs,
        'updating the lease',
        this.api.replaceNamespacedLease({ name, namespace, body: lease }),
      );
      return true;
    } catch (error) {
      if (isCode(error, 409)) return false;
      throw error;
    }
  }
}
