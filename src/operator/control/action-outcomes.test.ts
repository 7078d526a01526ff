import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionOutcomes, type JobRef } from './action-outcomes.ts';

const job: JobRef = { metadata: { uid: 'u1', name: 'wc', namespace: 'ns' } };

/** A request the test answers when it likes. */
function pending<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('ActionOutcomes', () => {
  it('asks for a savepoint once per id, and keeps its outcome until the status no longer awaits it', async () => {
    const woken: string[] = [];
    const outcomes = new ActionOutcomes((j) => woken.push(j.metadata.uid ?? ''));
    const answer = pending<{ id: string; ok: true }>();
    let asked = 0;
    const request = () => {
      asked++;
      return answer.promise;
    };
    outcomes.requestSavepoint(job, 'sp-1', request);
    outcomes.requestSavepoint(job, 'sp-1', request);
    assert.equal(asked, 1);
    assert.deepEqual(outcomes.observe('u1'), {});
    answer.resolve({ id: 'sp-1', ok: true });
    await answer.promise;
    await Promise.resolve();
    assert.deepEqual(woken, ['u1']);
    assert.deepEqual(outcomes.observe('u1').savepointOutcome, { id: 'sp-1', ok: true });
    outcomes.settleSavepoint('u1', 'sp-1');
    assert.ok(outcomes.observe('u1').savepointOutcome, 'still awaited: kept');
    outcomes.settleSavepoint('u1', undefined);
    assert.equal(outcomes.observe('u1').savepointOutcome, undefined);
  });

  it('hands a disposal outcome to one pass, and holds a second request while one is unobserved', async () => {
    const outcomes = new ActionOutcomes(() => undefined);
    let asked = 0;
    const request = async () => {
      asked++;
      return { disposed: ['a'] };
    };
    outcomes.requestDisposal(job, request);
    await Promise.resolve();
    await Promise.resolve();
    outcomes.requestDisposal(job, request);
    assert.equal(asked, 1);
    assert.deepEqual(outcomes.observe('u1').disposalOutcome, { disposed: ['a'] });
    assert.equal(outcomes.observe('u1').disposalOutcome, undefined);
    outcomes.requestDisposal(job, request);
    assert.equal(asked, 2);
  });

  it('drops the outcome of a job forgotten while its request ran', async () => {
    const woken: string[] = [];
    const outcomes = new ActionOutcomes((j) => woken.push(j.metadata.uid ?? ''));
    const answer = pending<{ id: string; ok: true }>();
    outcomes.requestSavepoint(job, 'sp-1', () => answer.promise);
    outcomes.forget('u1');
    answer.resolve({ id: 'sp-1', ok: true });
    await answer.promise;
    await Promise.resolve();
    assert.deepEqual(woken, []);
    assert.deepEqual(outcomes.observe('u1'), {});
  });

  it('keeps a refused pod until it is created', () => {
    const outcomes = new ActionOutcomes(() => undefined);
    outcomes.podRejected('u1', 'wc-tm-0', 'quota');
    assert.deepEqual(outcomes.observe('u1').podRejections, [{ pod: 'wc-tm-0', message: 'quota' }]);
    outcomes.podCreated('u1', 'wc-tm-0');
    assert.equal(outcomes.observe('u1').podRejections, undefined);
  });
});
