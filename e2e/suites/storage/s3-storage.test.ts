import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { StorageUnavailableError } from '../../../src/storage/checkpoint-storage.ts';
import { S3Storage } from '../../../src/storage/s3-storage.ts';
import { requireEnv } from '../../support/cluster.ts';
import { describeStorageConformance } from '../../support/storage-conformance.ts';

describeStorageConformance(
  'S3 on the harness MinIO',
  () =>
    new S3Storage({
      url: `s3://${requireEnv('WEIR_S3_BUCKET')}/e2e-storage`,
      endpoint: requireEnv('WEIR_S3_ENDPOINT'),
      region: 'us-east-1',
      credentials: {
        accessKeyId: requireEnv('WEIR_S3_ACCESS_KEY'),
        secretAccessKey: requireEnv('WEIR_S3_SECRET_KEY'),
      },
    }),
  `run-${randomBytes(3).toString('hex')}`,
);

describe('S3Storage when the store does not answer', () => {
  it('fails with a retriable error that names the object', async () => {
    // Nothing listens on port 1 of the loopback: the connection is refused at once.
    const storage = new S3Storage({
      url: 's3://weir/unreachable',
      endpoint: 'http://127.0.0.1:1',
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    await assert.rejects(storage.put('ns/job/a.snap', Buffer.from('x')), (error: unknown) => {
      assert.ok(error instanceof StorageUnavailableError);
      assert.equal(error.retriable, true);
      assert.equal(error.code, 'STORAGE_UNAVAILABLE');
      assert.match(error.message, /s3:\/\/weir\/unreachable\/ns\/job\/a\.snap/);
      return true;
    });
    storage.close();
  });
});
