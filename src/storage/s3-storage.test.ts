import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { S3Storage } from './s3-storage.ts';

/**
 * For this unit test only: an S3 endpoint on 127.0.0.1 that answers the
 * first `failures` GETs with 503 SlowDown, then the object.
 */
class TestingS3Endpoint {
  failures = 0;
  gets = 0;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      if (request.method !== 'GET') {
        response.writeHead(405).end();
        return;
      }
      this.gets++;
      if (this.failures > 0) {
        this.failures--;
        response
          .writeHead(503, { 'content-type': 'application/xml' })
          .end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
        return;
      }
      response
        .writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '5' })
        .end('state');
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('S3Storage reads on the restore path', () => {
  const endpoint = new TestingS3Endpoint();
  before(() => endpoint.start());
  after(() => endpoint.stop());
  const storage = (readAttempts?: number) =>
    new S3Storage({
      url: 's3://state/job',
      endpoint: endpoint.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      ...(readAttempts ? { readAttempts } : {}),
    });

  it('tries a 503 again with the backoff, so one overloaded moment does not fail a restore', async () => {
    endpoint.failures = 2;
    endpoint.gets = 0;
    const s = storage();
    assert.equal((await s.get('t0/1.snap')).toString(), 'state');
    assert.equal(endpoint.gets, 3);
    s.close();
  });

  it('gives up after its attempts with a retriable STORAGE_UNAVAILABLE naming the object', async () => {
    endpoint.failures = 10;
    endpoint.gets = 0;
    const s = storage(3);
    await assert.rejects(s.get('t0/1.snap'), {
      code: 'STORAGE_UNAVAILABLE',
      retriable: true,
      message: /s3:\/\/state\/job\/t0\/1\.snap/,
    });
    assert.equal(endpoint.gets, 3);
    endpoint.failures = 0;
    s.close();
  });
});
