import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkQueue } from './work-queue.ts';

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WorkQueue', () => {
  it('deduplicates a key that is queued but not yet running', async () => {
    const seen: string[] = [];
    const queue = new WorkQueue(
      async (key) => {
        seen.push(key);
        return undefined;
      },
      { concurrency: 1, backoff: { baseMs: 1, maxMs: 10 } },
    );
    queue.add('a');
    queue.add('a');
    queue.add('b');
    queue.add('a');
    queue.start();
    await tick();
    assert.deepEqual(seen, ['a', 'b']);
  });

  it('never runs one key twice at once, and reruns a key added while it ran', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let runs = 0;
    const queue = new WorkQueue(
      async () => {
        inFlight++;
        runs++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await tick(10);
        inFlight--;
        return undefined;
      },
      { concurrency: 4, backoff: { baseMs: 1, maxMs: 10 } },
    );
    queue.start();
    queue.add('a');
    await tick(2);
    queue.add('a');
    queue.add('a');
    await tick(40);
    assert.equal(maxInFlight, 1);
    assert.equal(runs, 2, 'one run, then exactly one rerun for the adds during it');
  });

  it('retries failures with capped exponential back-off, and resets after a success', async () => {
    const times: number[] = [];
    let calls = 0;
    const delays: (number | undefined)[] = [];
    const queue = new WorkQueue(
      async () => {
        times.push(Date.now());
        calls++;
        if (calls <= 4) throw new Error('transient');
        return undefined;
      },
      { concurrency: 1, backoff: { baseMs: 10, maxMs: 40 }, onError: (_k, _e, retry) => delays.push(retry) },
    );
    queue.start();
    queue.add('a');
    await tick(200);
    assert.equal(calls, 5);
    assert.deepEqual(delays, [10, 20, 40, 40]);
  });

  it('does not retry an error marked not retriable', async () => {
    let calls = 0;
    const queue = new WorkQueue(
      async () => {
        calls++;
        throw Object.assign(new Error('bad spec'), { retriable: false });
      },
      { concurrency: 1, backoff: { baseMs: 1, maxMs: 1 } },
    );
    queue.start();
    queue.add('a');
    await tick(30);
    assert.equal(calls, 1);
  });

  it('requeues after the delay a reconcile asks for, keeping the earliest', async () => {
    const calls: number[] = [];
    const start = Date.now();
    const queue = new WorkQueue(
      async () => {
        calls.push(Date.now() - start);
        return calls.length === 1 ? { requeueAfterMs: 30 } : undefined;
      },
      { concurrency: 1, backoff: { baseMs: 1, maxMs: 1 } },
    );
    queue.start();
    queue.add('a');
    queue.addAfter('a', 500);
    await tick(80);
    assert.equal(calls.length, 2);
    assert.ok((calls[1] ?? 0) >= 25, `requeued at ${calls[1]}ms`);
    await queue.stop();
  });

  it('stop waits for the reconcile in flight', async () => {
    let finished = false;
    const queue = new WorkQueue(
      async () => {
        await tick(20);
        finished = true;
        return undefined;
      },
      { concurrency: 1, backoff: { baseMs: 1, maxMs: 1 } },
    );
    queue.start();
    queue.add('a');
    await tick(2);
    await queue.stop();
    assert.equal(finished, true);
  });
});
