import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestSlots } from './request-slots.ts';

/** A request the test finishes by hand. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('RequestSlots', () => {
  it('runs at most the limit at once, the rest in arrival order, and frees a slot when a request fails', async () => {
    const slots = new RequestSlots(2);
    const requests = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = requests.map((r, i) =>
      slots.run(async () => {
        started.push(i);
        await r.promise;
        return i;
      }),
    );
    await turn();
    assert.deepEqual(started, [0, 1]);
    assert.equal(slots.queued, 2);
    requests[1]?.reject(new Error('refused'));
    await assert.rejects(runs[1] as Promise<number>, /refused/);
    await turn();
    assert.deepEqual(started, [0, 1, 2], 'the failed request handed its slot to the first waiting one');
    requests[0]?.resolve();
    requests[2]?.resolve();
    await turn();
    assert.deepEqual(started, [0, 1, 2, 3]);
    requests[3]?.resolve();
    assert.deepEqual(await Promise.all([runs[0], runs[2], runs[3]]), [0, 2, 3]);
    assert.equal(slots.inFlight, 0);
    assert.equal(slots.queued, 0);
  });

  it('refuses a limit that is not a positive integer', () => {
    assert.throws(() => new RequestSlots(0), /positive integer, got 0/);
  });
});
