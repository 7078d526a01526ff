import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  prepareTerminationFile,
  terminationMessageOf,
  terminationMessageTarget,
} from './termination-message.ts';

describe('termination messages, as the kubelet reports them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-term-'));
  const file = join(dir, 'termination-log');
  const logFile = join(dir, '0.log');
  const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n');
  writeFileSync(logFile, `${lines}\n`);

  it('the written file wins', () => {
    prepareTerminationFile(file);
    writeFileSync(file, 'KAFKA_UNREACHABLE: no broker answered');
    const message = terminationMessageOf({ file, logFile, policy: 'FallbackToLogsOnError', exitCode: 1 });
    assert.equal(message, 'KAFKA_UNREACHABLE: no broker answered');
  });

  const cases: { name: string; policy?: string; exitCode: number; expected: string | undefined }[] = [
    { name: 'nothing written, File policy: no message', policy: 'File', exitCode: 1, expected: undefined },
    {
      name: 'nothing written, a clean exit: no message',
      policy: 'FallbackToLogsOnError',
      exitCode: 0,
      expected: undefined,
    },
    {
      name: 'nothing written, a failure with FallbackToLogsOnError: the last 80 lines of the log',
      policy: 'FallbackToLogsOnError',
      exitCode: 2,
      expected: Array.from({ length: 80 }, (_, i) => `line ${i + 20}`).join('\n'),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      prepareTerminationFile(file);
      assert.equal(
        terminationMessageOf({ file, logFile, policy: c.policy, exitCode: c.exitCode }),
        c.expected,
      );
    });
  }

  it('a long log is cut to its last 2048 bytes', () => {
    const big = join(dir, 'big.log');
    writeFileSync(big, `${'x'.repeat(5000)}\nlast\n`);
    prepareTerminationFile(file);
    const message = terminationMessageOf({
      file,
      logFile: big,
      policy: 'FallbackToLogsOnError',
      exitCode: 1,
    });
    assert.ok(message !== undefined && Buffer.byteLength(message) <= 2048);
    assert.match(message ?? '', /\nlast$/);
  });

  it('the default path is Kubernetes’', () => {
    assert.equal(terminationMessageTarget({ name: 'c' }), '/dev/termination-log');
    assert.equal(terminationMessageTarget({ name: 'c', terminationMessagePath: '/tmp/why' }), '/tmp/why');
  });
});
