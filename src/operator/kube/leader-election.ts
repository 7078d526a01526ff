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

/** Whether a lease held by someone else may be taken over. */
export function leaseExpired(lease: V1Lease, now: Date): boolean {
  const renew = lease.spec?.renewTime ?? lease.spec?.acquireTime;
  const seconds = lease.spec?.leaseDurationSeconds ?? 0;
  if (!lease.spec?.holderIdentity || !renew) return true;
  return new Date(renew).getTime() + seconds * 1000 < now.getTime();
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
          this.lastRenew = Date.now();
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
        if (this.leading && Date.now() - this.lastRenew > this.options.renewDeadlineMs) {
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
      const lease = await this.api.readNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
      });
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      lease.spec = { ...lease.spec, holderIdentity: undefined, renewTime: undefined, acquireTime: undefined };
      await this.api.replaceNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
        body: lease,
      });
      this.log.info('released leadership');
    } catch (error) {
      this.log.warn({ err: error }, 'could not release the lease; it will expire');
    }
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
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isCode(error, 404)) throw error;
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: { ...spec, acquireTime: new V1MicroTime(now), leaseTransitions: 0 },
          },
        });
        return true;
      } catch (createError) {
        if (isCode(createError, 409)) return false;
        throw createError;
      }
    }
    const mine = lease.spec?.holderIdentity === identity;
    if (!mine && !leaseExpired(lease, now)) return false;
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1);
    lease.spec = {
      ...spec,
      acquireTime:
        mine && lease.spec?.acquireTime ? new V1MicroTime(lease.spec.acquireTime) : new V1MicroTime(now),
      leaseTransitions: transitions,
    };
    try {
      // The resourceVersion in the body makes this a compare-and-swap: two candidates cannot both win.
      await this.api.replaceNamespacedLease({ name, namespace, body: lease });
      return true;
    } catch (error) {
      if (isCode(error, 409)) return false;
      throw error;
    }
  }
}
