import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Lease } from '@kubernetes/client-node';
import { leaseExpired, type ObservedLease, observeLease } from './leader-election.ts';

const second = 1000;
/** A Lease held by `holder`, renewed at `renewTime` by the holder's clock, for 15 s. */
const lease = (holder: string | undefined, renewTime: string): V1Lease => ({
  spec: {
    ...(holder ? { holderIdentity: holder } : {}),
    leaseDurationSeconds: 15,
    renewTime: renewTime as unknown as Date,
    acquireTime: '2026-11-30T10:00:00.000000Z' as unknown as Date,
    leaseTransitions: 1,
  },
});

/** Reads a sequence of leases at local times, as the elector's loop does; returns whether each looked expired. */
function judge(reads: [V1Lease, number][]): boolean[] {
  let observed: ObservedLease | undefined;
  return reads.map(([l, nowMs]) => {
    observed = observeLease(observed, l, nowMs);
    return leaseExpired(l, observed, nowMs);
  });
}

describe('lease expiry by this replica’s clock', () => {
  it('a holder that keeps renewing is never expired, however far ahead this clock runs', () => {
    // This replica's clock is an hour ahead of the holder's: renewTime always looks an hour old.
    const ahead = 3600 * second;
    const reads: [V1Lease, number][] = Array.from({ length: 10 }, (_, i) => [
      lease('a', `2026-11-30T10:00:${String(i * 2).padStart(2, '0')}.000000Z`),
      ahead + i * 2 * second,
    ]);
    assert.deepEqual(judge(reads), Array(10).fill(false));
  });

  it('a holder that stopped renewing expires a lease duration after this replica last saw a change', () => {
    const stale = lease('a', '2026-11-30T10:00:00.000000Z');
    assert.deepEqual(
      judge([
        [stale, 0],
        [stale, 10 * second],
        [stale, 15 * second],
        [stale, 15 * second + 1],
      ]),
      [false, false, false, true],
    );
  });

  it('a lease whose renewTime is years old is not taken at first sight: the holder may be alive with a slow clock', () => {
    assert.deepEqual(judge([[lease('a', '2001-01-01T00:00:00.000000Z'), 10 ** 12]]), [false]);
  });

  it('a frozen clock never expires a held lease', () => {
    const stale = lease('a', '2026-11-30T10:00:00.000000Z');
    assert.deepEqual(
      judge(Array.from({ length: 5 }, () => [stale, 42] as [V1Lease, number])),
      Array(5).fill(false),
    );
  });

  it('a renewal seen late restarts the wait', () => {
    assert.deepEqual(
      judge([
        [lease('a', '2026-11-30T10:00:00.000000Z'), 0],
        [lease('a', '2026-11-30T10:00:00.000000Z'), 14 * second],
        [lease('a', '2026-11-30T10:00:02.000000Z'), 16 * second],
        [lease('a', '2026-11-30T10:00:02.000000Z'), 30 * second],
        [lease('a', '2026-11-30T10:00:02.000000Z'), 31 * second + 1],
      ]),
      [false, false, false, false, true],
    );
  });

  it('a released lease (no holder) is free at once', () => {
    assert.deepEqual(judge([[lease(undefined, '2026-11-30T10:00:00.000000Z'), 0]]), [true]);
  });
});
