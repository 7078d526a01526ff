import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allOrNone } from './all-or-none.ts';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Tracks whether a promise settled; read it after flushPending. */
function tracked(promise: Promise<unknown>): { settled: boolean } {
  const state = { settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}
const flushPending = () => new Promise((resolve) => setImmediate(resolve));

describe('allOrNone: the connections a task opens at once', () => {
  it('returns every value in order', async () => {
    const closed: string[] = [];
    const close = async (v: string) => void closed.push(v);
    assert.deepEqual(
      await allOrNone<[string, string]>([Promise.resolve('a'), Promise.resolve('b')], [close, close]),
      ['a', 'b'],
    );
    assert.deepEqual(closed, []);
  });

  it('fails with the first one as soon as it fails, not when the slow others settle; they are closed when they open', async () => {
    const slow = deferred<string>();
    const closed: string[] = [];
    const close = async (v: string) => void closed.push(v);
    const all = allOrNone<[string, string]>(
      [Promise.reject(new Error('login refused')), slow.promise],
      [close, close],
    );
    // The slow one never settles before this: were it waited for, this would hang.
    await assert.rejects(all, /login refused/);
    slow.resolve('producer');
    await flushPending();
    assert.deepEqual(closed, ['producer']);
  });

  it('waits for the earlier ones before a later failure, so the cause is the same as in sequence', async () => {
    const first = deferred<string>();
    const closed: string[] = [];
    const close = async (v: string) => void closed.push(v);
    const all = allOrNone<[string, string]>(
      [first.promise, Promise.reject(new Error('second'))],
      [close, close],
    );
    const decided = tracked(all);
    await flushPending();
    assert.equal(decided.settled, false, 'not decided while the first is pending');
    first.reject(new Error('first'));
    await assert.rejects(all, /^Error: first$/);

    const opened = deferred<string>();
    const later = allOrNone<[string, string]>(
      [opened.promise, Promise.reject(new Error('second'))],
      [close, close],
    );
    opened.resolve('admin');
    await assert.rejects(later, /^Error: second$/);
    assert.deepEqual(closed, ['admin'], 'what opened before the failure is closed before it is reported');
  });
});
