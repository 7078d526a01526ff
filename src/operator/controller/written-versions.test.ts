import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WrittenVersions } from './written-versions.ts';

describe('WrittenVersions', () => {
  it('holds a pass on the version written over until the cache shows the write', () => {
    const versions = new WrittenVersions(2_000);
    versions.wrote('uid-1', '100', 10_000);
    assert.equal(versions.staleForMs('uid-1', '100', 10_005), 1_995, 'the cache still shows 100');
    assert.equal(versions.staleForMs('uid-1', '101', 10_010), 0, 'the write arrived');
    assert.equal(versions.staleForMs('uid-1', '100', 10_020), 0, 'and is forgotten once seen');
  });

  it('trusts the cache again after the grace period (a watch event lost)', () => {
    const versions = new WrittenVersions(2_000);
    versions.wrote('uid-1', '100', 10_000);
    assert.equal(versions.staleForMs('uid-1', '100', 12_001), 0);
  });

  it('other jobs, and jobs never written, are not held', () => {
    const versions = new WrittenVersions(2_000);
    versions.wrote('uid-1', '100', 10_000);
    assert.equal(versions.staleForMs('uid-2', '100', 10_001), 0);
    versions.wrote('uid-3', undefined, 10_000);
    assert.equal(versions.staleForMs('uid-3', undefined, 10_001), 0, 'no version known: nothing to compare');
  });
});
