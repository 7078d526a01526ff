import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { WorkQueue } from './work-queue.ts';

/**
 * The queue's delays run on node:test's mock timers (setTimeout and Date), so
 * every test moves time by hand and no verdict depends on how fast this machine is.
 * settle() lets the promise chains of finished reconciles run; it waits for no time.
 */
function useMockTime(t: TestContext): void {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
}
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('WorkQueue', () => {
  it('deduplicates a key that is queued but not yet running', async (t) => {
    useMockTime(t);
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
    await settle();
    assert.deepEqual(seen, ['a', 'b']);
  });

  it('never runs one key twice at once, and reruns a key added while it ran', async (t) => {
    useMockTime(t);
    let inFlight = 0;
    let maxInFlight = 0;
    let runs = 0;
    const queue = new WorkQueue(
      async () => {
        inFlight++;
        runs++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 10));
        inFlight--;
        return undefined;
      },
      { concurrency: 4, backoff: { baseMs: 1, maxMs: 10 } },
    );
    queue.start();
    queue.add('a');
    await settle();
    assert.equal(runs, 1);
    queue.add('a');
    queue.add('a');
    await settle();
    assert.equal(runs, 1, 'not started again while the first run is in flight');
    t.mock.timers.tick(10);
    await settle();
    assert.equal(runs, 2, 'one rerun for the adds during the first run');
    t.mock.timers.tick(10);
    await settle();
    assert.equal(runs, 2, 'and no more');
    assert.equal(maxInFlight, 1);
  });

  it('retries failures with capped exponential back-off, and resets after a success', async (t) => {
    useMockTime(t);
    let calls = 0;
    const delays: (number | undefined)[] = [];
    const queue = new WorkQueue(
      async () => {
        calls++;
        if (calls <= 4 || calls === 6) throw new Error('transient');
        return undefined;
      },
      { concurrency: 1, backoff: { baseMs: 10, maxMs: 40 }, onError: (_k, _e, retry) => delays.push(retry) },
    );
    queue.start();
    queue.add('a');
    await settle();
    for (const [delay, callsAfter] of [
      [10, 2],
      [20, 3],
      [40, 4],
      [40, 5],
    ] as const) {
      t.mock.timers.tick(delay - 1);
      await settle();
      assert.equal(calls, callsAfter - 1, `no retry before ${delay} ms`);
      t.mock.timers.tick(1);
      await settle();
      assert.equal(calls, callsAfter, `retried after ${delay} ms`);
    }
    assert.deepEqual(delays, [10, 20, 40, 40]);
    queue.add('a'); // fails once more: the back-off starts again from the base
    await settle();
    assert.deepEqual(delays, [10, 20, 40, 40, 10]);
    await queue.stop();
  });

  it('does not retry an error marked not retriable', async (t) => {
    useMockTime(t);
    let calls = 0;
    const delays: (number | undefined)[] = [];
    const queue = new WorkQueue(
      async () => {
        calls++;
        throw Object.assign(new Error('bad spec'), { retriable: false });
      },
      { concurrency: 1, backoff: { baseMs: 1, maxMs: 1 }, onError: (_k, _e, retry) => delays.push(retry) },
    );
    queue.start();
    queue.add('a');
    await settle();
    t.mock.timers.tick(60_000);
    await settle();
    assert.equal(calls, 1);
    assert.deepEqual(delays, [undefined]);
  });

  it('requeues after the delay a reconcile asks for, keeping the earliest', async (t) => {
    useMockTime(t);
    let calls = 0;
    const queue = new WorkQueue(
      async () => {
        calls++;
        return calls === 1 ? { requeueAfterMs: 30 } : undefined;
      },
      { concurrency: 1, backoff: { baseMs: 1, maxMs: 1 } },
    );
    queue.start();
    queue.add('a');
    queue.addAfter('a', 500);
    await settle();
    assert.equal(calls, 1);
    t.mock.timers.tick(29);
    await settle();
    assert.equal(calls, 1, 'not before the requested delay');
    t.mock.timers.tick(1);
    await settle();
    assert.equal(calls, 2, 'the earlier requeue (30 ms) replaced the later one (500 ms)');
    t.mock.timers.tick(1000);
    await settle();
    assert.equal(calls, 2, 'the 500 ms requeue did not also fire');
    await queue.stop();
  });

  it('stop waits for the reconcile in flight', async (t) => {
    useMockTime(t);
    let finished = false;
    const queue = new WorkQueue(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        finished = true;
        return undefined;
      },
      { concurrency: 1, backoff: { baseMs: 1, maxMs: 1 } },
    );
    queue.start();
    queue.add('a');
    await settle();
    let stopped = false;
    const stopping = queue.stop().then(() => {
      stopped = true;
    });
    await settle();
    assert.equal(stopped, false, 'stop has not resolved while the reconcile runs');
    t.mock.timers.tick(20);
    await stopping;
    assert.equal(finished, true);
  });
});
