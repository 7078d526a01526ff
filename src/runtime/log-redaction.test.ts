import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { logRedaction } from './main.ts';

describe('TaskManager log redaction', () => {
  it('censors credentials wherever a log line holds them', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = pino({ redact: logRedaction }, sink);
    log.info(
      {
        config: {
          kafkaSecurity: { 'sasl.password': 'kafka-pass' },
          storage: { secretAccessKey: 's3-secret' },
        },
        control: { token: 'job-token' },
        request: { headers: { authorization: 'Bearer job-token' } },
        settings: { 'sasl.password': 'kafka-pass', 'ssl.key.pem': '-----BEGIN PRIVATE KEY-----' },
        partition: 3,
      },
      'started',
    );
    const line = lines.join('');
    for (const secret of ['kafka-pass', 's3-secret', 'job-token', 'PRIVATE KEY']) {
      assert.ok(!line.includes(secret), `${secret} was logged: ${line}`);
    }
    assert.equal((JSON.parse(line) as { partition: number }).partition, 3, 'everything else is kept');
  });
});
