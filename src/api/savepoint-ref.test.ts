import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { savepointPrefix } from './names.ts';
import { parseSavepointRef, savepointRefPattern } from './savepoint-ref.ts';

describe('parseSavepointRef', () => {
  const cases: { value: string; ref?: ReturnType<typeof parseSavepointRef> }[] = [
    { value: 'manual-20261130t100000z', ref: { kind: 'id', id: 'manual-20261130t100000z' } },
    {
      value: 's3://weir/e2e/prod/wordcount/savepoints/deletion-20261130t100000z/',
      ref: {
        kind: 'url',
        storageUrl: 's3://weir/e2e',
        namespace: 'prod',
        job: 'wordcount',
        id: 'deletion-20261130t100000z',
      },
    },
    {
      value: 's3://my.bucket/a/b/c/team-a/orders/savepoints/s1',
      ref: { kind: 'url', storageUrl: 's3://my.bucket/a/b/c', namespace: 'team-a', job: 'orders', id: 's1' },
    },
    {
      value: 's3://weir/ns/job/savepoints/s1/',
      ref: { kind: 'url', storageUrl: 's3://weir', namespace: 'ns', job: 'job', id: 's1' },
    },
    { value: 'Manual' },
    { value: 's3://weir/ns/job/checkpoints/s1/' },
    { value: 's3://weir/savepoints/s1/' },
    { value: 'http://weir/ns/job/savepoints/s1/' },
    { value: '' },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.value)}: ${c.ref ? c.ref.kind : 'refused'}`, () => {
      if (c.ref) assert.deepEqual(parseSavepointRef(c.value), c.ref);
      else assert.throws(() => parseSavepointRef(c.value), /neither a savepoint id .* nor s3:\/\//);
      // The API server's pattern accepts exactly what the runtime parses.
      assert.equal(new RegExp(savepointRefPattern).test(c.value), c.ref !== undefined);
    });
  }

  it('reads back the path status.savepoints shows', () => {
    const path = `s3://weir/p/${savepointPrefix('ns', 'job', 'periodic-20261130t100000z')}`;
    assert.deepEqual(parseSavepointRef(path), {
      kind: 'url',
      storageUrl: 's3://weir/p',
      namespace: 'ns',
      job: 'job',
      id: 'periodic-20261130t100000z',
    });
  });
});
