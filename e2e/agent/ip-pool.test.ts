import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IpPool } from './ip-pool.ts';

describe('IpPool', () => {
  it('allocates distinct addresses inside the CIDR, skipping .0 and .255', () => {
    const pool = new IpPool('10.245.16.0/20');
    const seen = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const ip = pool.allocate();
      const [a, b, c] = ip.split('.').map(Number);
      assert.ok(
        a === 10 && b === 245 && c !== undefined && c >= 16 && c < 32,
        `${ip} is outside 10.245.16.0/20`,
      );
      assert.ok(!ip.endsWith('.0') && !ip.endsWith('.255'), ip);
      assert.ok(!seen.has(ip), `duplicate ${ip}`);
      seen.add(ip);
    }
    assert.equal(pool.allocated, 600);
  });

  it('does not hand a released address out again immediately', () => {
    const pool = new IpPool('10.245.0.0/20');
    const first = pool.allocate();
    pool.release(first);
    assert.notEqual(pool.allocate(), first);
  });

  it('reports exhaustion, then recovers when an address is released', () => {
    const pool = new IpPool('10.245.0.0/24');
    const all = Array.from({ length: 253 }, () => pool.allocate());
    assert.throws(() => pool.allocate(), /exhausted/);
    pool.release(all[10] ?? '');
    assert.equal(pool.allocate(), all[10]);
  });

  it('rejects a CIDR it cannot serve, naming it', () => {
    assert.throws(() => new IpPool('10.245.0.0/25'), /10\.245\.0\.0\/25/);
    assert.throws(() => new IpPool('10.245.1.0/20'), /host bits set/);
  });
});
