import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RuntimeError } from '../errors.ts';
import { decodeCommitMetadata, encodeCommitMetadata, type PartitionPointer } from './commit-metadata.ts';

const pointer: PartitionPointer = {
  checkpointId: 42,
  objectKey: 'prod/orders/runs/k3x9/state/s0/t2/42-9f3a.snap',
  start: 12,
  length: 4096,
  sha256: 'ab'.repeat(32),
};

describe('offset commit metadata', () => {
  it('round-trips a pointer', () => {
    assert.deepEqual(decodeCommitMetadata('orders/2', encodeCommitMetadata(pointer)), pointer);
  });

  it('round-trips a pointer with the changelog offset it covers, as version 2', () => {
    const logged = { ...pointer, changelogFrom: 1234 };
    const text = encodeCommitMetadata(logged);
    assert.equal((JSON.parse(text) as { v: number }).v, 2);
    assert.deepEqual(decodeCommitMetadata('orders/2', text), logged);
    assert.equal((JSON.parse(encodeCommitMetadata(pointer)) as { v: number }).v, 1, 'no changelog: still 1');
  });

  it('reads metadata a Weir before the changelog wrote (stored literal)', () => {
    const stored =
      '{"v":1,"c":42,"o":"prod/orders/runs/k3x9/state/s0/t2/42-9f3a.snap","s":12,"l":4096,"h":"' +
      'ab'.repeat(32) +
      '"}';
    assert.deepEqual(decodeCommitMetadata('orders/2', stored), pointer);
  });

  it('refuses to encode metadata the broker would reject', () => {
    assert.throws(() => encodeCommitMetadata({ ...pointer, objectKey: 'x'.repeat(4000) }), /over 4000/);
  });

  const invalid: [string, string | undefined, RegExp][] = [
    ['missing', undefined, /no metadata/],
    ['empty', '', /no metadata/],
    ['not JSON', 'consumer-x', /not Weir's/],
    ['another version', JSON.stringify({ v: 9 }), /format version 9/],
    [
      'a version 2 pointer without its changelog offset',
      JSON.stringify({ v: 2, c: 1, o: 'k', s: 0, l: 1, h: 'ab'.repeat(32) }),
      /no changelog offset/,
    ],
    ['a pointer without checksum', JSON.stringify({ v: 1, c: 1, o: 'k', s: 0, l: 1 }), /incomplete/],
    [
      'a negative start',
      JSON.stringify({ v: 1, c: 1, o: 'k', s: -1, l: 1, h: 'ab'.repeat(32) }),
      /incomplete/,
    ],
  ];
  for (const [what, metadata, problem] of invalid) {
    it(`rejects ${what} metadata, naming the partition`, () => {
      assert.throws(
        () => decodeCommitMetadata('orders/2', metadata),
        (error: unknown) =>
          error instanceof RuntimeError &&
          error.code === 'COMMIT_METADATA_INVALID' &&
          !error.retriable &&
          /orders\/2/.test(error.message) &&
          problem.test(error.message),
      );
    });
  }
});
