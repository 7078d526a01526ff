import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { requireEnv } from '../../support/cluster.ts';

describe('local harness: MinIO', () => {
  let s3: S3Client;
  let bucket: string;
  const prefix = `smoke-${randomBytes(4).toString('hex')}/`;

  before(() => {
    bucket = requireEnv('WEIR_S3_BUCKET');
    s3 = new S3Client({
      endpoint: requireEnv('WEIR_S3_ENDPOINT'),
      region: process.env.WEIR_S3_REGION ?? 'us-east-1',
      forcePathStyle: true,
      credentials: {
        accessKeyId: requireEnv('WEIR_S3_ACCESS_KEY'),
        secretAccessKey: requireEnv('WEIR_S3_SECRET_KEY'),
      },
    });
  });
  after(() => s3.destroy());

  it('puts, gets, lists and deletes objects', async () => {
    const body = randomBytes(256 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}a.bin`, Body: body }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}b.txt`, Body: 'second' }));

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}a.bin` }));
    assert.ok(
      Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(body),
      'object round-trips byte for byte',
    );
    const ranged = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: `${prefix}a.bin`, Range: 'bytes=100-199' }),
    );
    assert.ok(Buffer.from((await ranged.Body?.transformToByteArray()) ?? []).equals(body.subarray(100, 200)));

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    assert.deepEqual(
      listed.Contents?.map((o) => [o.Key, o.Size]),
      [
        [`${prefix}a.bin`, body.length],
        [`${prefix}b.txt`, 6],
      ],
    );

    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}a.bin` }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}b.txt` }));
    const empty = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    assert.equal(empty.KeyCount, 0);
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}a.bin` })), {
      name: 'NoSuchKey',
    });
  });
});
