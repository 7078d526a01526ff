import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IpPool } from './ip-pool.ts';

describe('IpPool', () => {
  it('allocates distinct addresses inside the CIDR, skipping .0 and .255', () => {
    const pool = new IpPool('10.201.0.0/16');
    const seen = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const ip = pool.allocate();
      assert.match(ip, /^10\.201\.\d+\.\d+$/);
      assert.ok(!ip.endsWith('.0') && !ip.endsWith('.255'), ip);
      assert.ok(!seen.has(ip), `duplicate ${ip}`);
      seen.add(ip);
    }
    assert.equal(pool.allocated, 600);
  });

  it('does not hand a released address out again immediately', () => {
    const pool = new IpPool('10.201.0.0/16');
    const first = pool.allocate();
    pool.release(first);
    assert.notEqual(pool.allocate(), first);
  });

  it('rejects a CIDR it cannot serve, naming it', () => {
    assert.throws(() => new IpPool('10.201.0.0/24'), /10\.201\.0\.0\/24/);
  });
});
