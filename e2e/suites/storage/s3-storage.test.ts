import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { StorageUnavailableError } from '../../../src/storage/checkpoint-storage.ts';
import { S3Storage, type S3StorageOptions } from '../../../src/storage/s3-storage.ts';
import { requireEnv, waitFor } from '../../support/cluster.ts';
import { harnessS3Credentials, harnessTlsS3, runtimeStorage } from '../../support/committed-state.ts';
import { describeStorageConformance } from '../../support/storage-conformance.ts';

describeStorageConformance(
  'S3 on the harness MinIO',
  () => runtimeStorage(`s3://${requireEnv('WEIR_S3_BUCKET')}/e2e-storage`),
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

/** Storage on the harness's TLS MinIO, trusting the harness CA unless `options` say otherwise. */
function tlsStorage(options: Partial<S3StorageOptions> = {}): S3Storage {
  return runtimeStorage(`s3://${requireEnv('WEIR_S3_BUCKET')}/e2e-storage-tls`, {
    ...harnessTlsS3(),
    ...options,
  });
}

describeStorageConformance(
  'S3 over TLS, trusting the harness CA',
  () => tlsStorage(),
  `run-${randomBytes(3).toString('hex')}`,
);

describe('S3Storage failures that name their cause', () => {
  const cases: [string, () => S3Storage, string][] = [
    ['an endpoint whose CA is not trusted', () => tlsStorage({ tlsCa: undefined }), 'S3_TLS_FAILED'],
    [
      'an https endpoint that speaks plain HTTP',
      () => tlsStorage({ endpoint: requireEnv('WEIR_S3_ENDPOINT').replace('http:', 'https:') }),
      'S3_TLS_FAILED',
    ],
    [
      'a wrong secret key',
      () =>
        tlsStorage({
          credentials: { ...harnessS3Credentials(), secretAccessKey: 'not-the-secret' },
        }),
      'S3_ACCESS_DENIED',
    ],
    [
      'a bucket that does not exist',
      () => tlsStorage({ url: 's3://no-such-bucket-weir/x' }),
      'S3_BUCKET_MISSING',
    ],
  ];
  for (const [what, make, code] of cases) {
    it(`${what}: ${code}, not retriable, at the start-up check and on a write`, async () => {
      const storage = make();
      for (const attempt of [() => storage.check(), () => storage.put('ns/job/probe', Buffer.from('x'))]) {
        await assert.rejects(attempt, (error: Error & { code?: string; retriable?: boolean }) => {
          assert.equal(error.code, code, error.message);
          assert.equal(error.retriable, false);
          assert.match(error.message, /s3:\/\//, 'names the location');
          return true;
        });
      }
      storage.close();
    });
  }
});

describe('S3Storage multipart uploads', () => {
  const partSize = 5 * 1024 * 1024;
  const bucket = requireEnv('WEIR_S3_BUCKET');
  const run = `run-${randomBytes(3).toString('hex')}`;

  it('stores an object larger than a part in parts and reads it back whole and by range', async () => {
    const storage = tlsStorage({ partSizeBytes: partSize });
    const bytes = randomBytes(2 * partSize + 12345);
    const stored: number[] = [];
    await storage.put(`${run}/big.snap`, bytes, { onProgress: (n) => stored.push(n) });
    assert.ok(stored.length >= 3, `progress per part (${stored.join(', ')})`);
    assert.ok((await storage.get(`${run}/big.snap`)).equals(bytes));
    const range = { start: partSize - 10, length: 20 };
    assert.ok(
      (await storage.get(`${run}/big.snap`, range)).equals(bytes.subarray(range.start, range.start + 20)),
    );
    storage.close();
  });

  it("stores an object given as uneven parts (a background snapshot's chunks) byte for byte", async () => {
    const storage = tlsStorage({ partSizeBytes: partSize });
    const parts = [
      randomBytes(7),
      randomBytes(partSize + 3),
      randomBytes(1 << 20),
      randomBytes(partSize - 1),
    ];
    await storage.put(`${run}/parts.snap`, parts);
    assert.ok((await storage.get(`${run}/parts.snap`)).equals(Buffer.concat(parts)));
    storage.close();
  });

  it('an upload aborted after its first part leaves neither an object nor parts behind', async () => {
    const storage = tlsStorage({ partSizeBytes: partSize });
    const key = `${run}/aborted.snap`;
    const abort = new AbortController();
    // Twelve parts, four in flight: aborting when the first is stored leaves most of them unsent.
    const put = storage.put(key, randomBytes(12 * partSize), {
      signal: abort.signal,
      onProgress: () => abort.abort(),
    });
    await assert.rejects(put, (error: Error & { code?: string }) => {
      assert.match(error.message, /^put \(aborted\) s3:\/\//);
      return true;
    });
    await assert.rejects(storage.get(key), { code: 'SNAPSHOT_MISSING' });
    const { endpoint, tlsCa } = harnessTlsS3();
    const s3 = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: harnessS3Credentials(),
      requestHandler: { httpsAgent: { ca: tlsCa } },
    });
    const pending = async () =>
      (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `e2e-storage-tls/${key}` })))
        .Uploads ?? [];
    // The parts in flight finish, then the multipart upload is aborted on the server.
    await waitFor(
      'the multipart upload to be aborted on the server',
      30_000,
      async () => (await pending()).length === 0,
    );
    s3.destroy();
    storage.close();
  });
});
