import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';

const here = new URL('.', import.meta.url).pathname;

/** Runs exitTaskManager(code) in a child, with a Kafka call that never answers when `hung`. */
function exitOf(
  code: number,
  hung: boolean,
): Promise<{ code: number | null; signal: string | null; out: string }> {
  const script = `
    import { settle } from '${here}../kafka/errors.ts';
    import { exitTaskManager } from '${here}exit.ts';
    if (${hung}) void settle('commit transaction', () => {});
    // Keeps the event loop busy, as a native call in the thread pool would.
    setInterval(() => {}, 1000);
    await exitTaskManager(${code}, (line) => process.stdout.write(line + '\\n'));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise((resolve) => child.on('exit', (c, signal) => resolve({ code: c, signal, out })));
}

describe('exitTaskManager', () => {
  it('exits with the code when no Kafka call is pending', async () => {
    assert.deepEqual(await exitOf(1, false), { code: 1, signal: null, out: '' });
    assert.deepEqual(await exitOf(0, false), { code: 0, signal: null, out: '' });
  });

  it('a failing TaskManager with a call still waiting on the broker ends by SIGKILL, saying why', async () => {
    const ended = await exitOf(1, true);
    assert.equal(ended.signal, 'SIGKILL');
    assert.match(ended.out, /1 Kafka call\(s\) still wait for the broker; ending at once with SIGKILL/);
  });

  it('a clean stop never kills itself', async () => {
    assert.deepEqual(await exitOf(0, true), { code: 0, signal: null, out: '' });
  });
});
