import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { terminationMessageMaxBytes } from '../api/constants.ts';
import { RuntimeError } from './errors.ts';
import { terminationMessage, writeTerminationMessage } from './termination-message.ts';

describe('termination message', () => {
  it('is the code and message of a coded error, on one line', () => {
    const error = new RuntimeError(
      'JOB_MODULE_LOAD_FAILED',
      'cannot load job module /app/x.ts:\nnot found',
      false,
    );
    assert.equal(
      terminationMessage(error),
      'JOB_MODULE_LOAD_FAILED: cannot load job module /app/x.ts: not found',
    );
    assert.equal(terminationMessage(new Error('boom')), 'INTERNAL: boom');
    assert.equal(terminationMessage('text'), 'INTERNAL: text');
  });

  it('stays within the bytes the kubelet keeps', () => {
    const long = terminationMessage(new RuntimeError('X', 'é'.repeat(5000), false));
    assert.ok(Buffer.byteLength(long) <= terminationMessageMaxBytes);
    assert.match(long, /^X: é+\.\.\.$/);
  });

  it('is written into an existing file, replacing what was there, and nowhere else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-term-'));
    const path = join(dir, 'termination-log');
    writeFileSync(path, 'an older, longer message from an earlier run');
    assert.equal(
      writeTerminationMessage(
        terminationMessage(new RuntimeError('KAFKA_UNREACHABLE', 'no broker', true)),
        path,
      ),
      true,
    );
    assert.equal(readFileSync(path, 'utf8'), 'KAFKA_UNREACHABLE: no broker');
    assert.equal(writeTerminationMessage(terminationMessage(new Error('x')), join(dir, 'missing')), false);
  });
});
