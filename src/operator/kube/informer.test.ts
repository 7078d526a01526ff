import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import {
  Informer,
  type ListResult,
  type ListWatchSource,
  type WatchEventType,
  type WatchHandle,
  type WatchStatus,
} from './informer.ts';

interface OpenWatch {
  resourceVersion: string;
  onEvent: (type: WatchEventType, object: KubernetesObject | WatchStatus) => void;
  onClose: (error?: unknown) => void;
  aborted: boolean;
}

/** Scripted API server: tests set what list returns and drive the open watch by hand. */
class TestingListWatchSource implements ListWatchSource<KubernetesObject> {
  listResult: ListResult<KubernetesObject> = { items: [], resourceVersion: '1' };
  lists = 0;
  watches: OpenWatch[] = [];

  async list(shape: (object: KubernetesObject) => KubernetesObject): Promise<ListResult<KubernetesObject>> {
    this.lists++;
    const { items, resourceVersion } = structuredClone(this.listResult);
    return { items: items.map(shape), resourceVersion };
  }

  async watch(
    resourceVersion: string,
    onEvent: OpenWatch['onEvent'],
    onClose: OpenWatch['onClose'],
  ): Promise<WatchHandle> {
    const open: OpenWatch = { resourceVersion, onEvent, onClose, aborted: false };
    this.watches.push(open);
    return {
      abort: () => {
        open.aborted = true;
      },
    };
  }

  get current(): OpenWatch {
    const open = this.watches.at(-1);
    assert.ok(open, 'no watch was opened');
    return open;
  }
}

function pod(name: string, resourceVersion: string): KubernetesObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'ns', name, resourceVersion } };
}

/**
 * With the informer's timers on node:test's mock clock: moves time past the
 * longest retry back-off (4 ms here), then lets the promise chains it started
 * run. No real time passes, so the verdicts do not depend on this machine's speed.
 */
async function settle(t: TestContext): Promise<void> {
  t.mock.timers.tick(options.relistBackoff.maxMs);
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}
const options = { resyncMs: 0, relistBackoff: { initialMs: 1, maxMs: 4 } };

function recordingInformer(source: TestingListWatchSource) {
  const informer = new Informer(source, options);
  const events: string[] = [];
  informer.subscribe({
    onAdd: (o) => events.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
    onUpdate: (o) => events.push(`update ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
    onDelete: (o) => events.push(`delete ${o.metadata?.name}`),
  });
  return { informer, events };
}

describe('Informer', () => {
  it('has the listed objects in its cache as soon as start resolves', async () => {
    const source = new TestingListWatchSource();
    source.listResult = { items: [pod('a', '5'), pod('b', '6')], resourceVersion: '7' };
    const { informer, events } = recordingInformer(source);
    await informer.start();
    assert.equal(informer.hasSynced, true);
    assert.deepEqual(
      informer
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
      ['a', 'b'],
    );
    assert.deepEqual(events, ['add a@5', 'add b@6']);
    assert.equal(source.current.resourceVersion, '7', 'the watch starts at the list resourceVersion');
    informer.stop();
  });

  it('caches and delivers transformed objects, and keeps an index in step with adds, moves and deletes', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const source = new TestingListWatchSource();
    const labelled = (name: string, rv: string, job: string) => ({
      ...pod(name, rv),
      metadata: { ...pod(name, rv).metadata, labels: { job }, managedFields: [{ manager: 'm' }] },
    });
    source.listResult = { items: [labelled('a', '1', 'x'), labelled('b', '2', 'x')], resourceVersion: '2' };
    const informer = new Informer<KubernetesObject>(source, {
      ...options,
      transform: (o) => ({ ...o, metadata: { ...o.metadata, managedFields: undefined } }),
      indexBy: (o) => o.metadata?.labels?.job,
    });
    const delivered: KubernetesObject[] = [];
    informer.subscribe({ onAdd: (o) => delivered.push(o), onDelete: (o) => delivered.push(o) });
    await informer.start();
    const names = (value: string) =>
      informer
        .indexed(value)
        .map((o) => o.metadata?.name)
        .sort();
    assert.deepEqual(names('x'), ['a', 'b']);
    source.current.onEvent('MODIFIED', labelled('b', '3', 'y'));
    assert.deepEqual(names('x'), ['a'], 'an object whose key changed leaves its old entry');
    assert.deepEqual(names('y'), ['b']);
    source.current.onEvent('DELETED', labelled('a', '4', 'x'));
    source.current.onEvent('ADDED', labelled('c', '5', 'y'));
    assert.deepEqual(names('x'), []);
    assert.deepEqual(names('y'), ['b', 'c']);
    assert.ok(
      [...delivered, ...informer.list()].every((o) => o.metadata?.managedFields === undefined),
      'handlers and the cache see only transformed objects',
    );
    informer.stop();
  });

  it('applies watch events in order and tracks the resourceVersion', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const source = new TestingListWatchSource();
    const { informer, events } = recordingInformer(source);
    await informer.start();
    source.current.onEvent('ADDED', pod('a', '2'));
    source.current.onEvent('MODIFIED', pod('a', '3'));
    source.current.onEvent('BOOKMARK', { metadata: { resourceVersion: '9' } } as KubernetesObject);
    source.current.onEvent('DELETED', pod('a', '10'));
    assert.deepEqual(events, ['add a@2', 'update a@3', 'delete a']);
    assert.equal(informer.get('ns/a'), undefined);
    source.current.onClose();
    await settle(t);
    assert.equal(source.current.resourceVersion, '10', 'a clean close resumes from the last seen version');
    assert.equal(source.lists, 1, 'a clean close does not relist');
    informer.stop();
  });

  it('relists on 410 Gone and reports deletions that happened while the watch was down', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const source = new TestingListWatchSource();
    source.listResult = { items: [pod('a', '1'), pod('b', '1')], resourceVersion: '1' };
    const errors: unknown[] = [];
    const informer = new Informer(source, { ...options, onError: (e) => errors.push(e) });
    const events: string[] = [];
    informer.subscribe({
      onDelete: (o) => events.push(`delete ${o.metadata?.name}`),
      onUpdate: (o) => events.push(`update ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
      onAdd: (o) => events.push(`add ${o.metadata?.name}`),
    });
    await informer.start();
    events.length = 0;
    source.listResult = { items: [pod('a', '4'), pod('c', '5')], resourceVersion: '20' };
    const firstWatch = source.current;
    firstWatch.onEvent('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' });
    await settle(t);
    assert.equal(firstWatch.aborted, true);
    assert.equal(source.lists, 2);
    assert.deepEqual(events.sort(), ['add c', 'delete b', 'update a@4']);
    assert.equal(source.current.resourceVersion, '20');
    assert.equal(errors.length, 1);
    informer.stop();
  });

  it('retries a failed watch with backoff and ignores callbacks of the aborted watch', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const source = new TestingListWatchSource();
    const { informer, events } = recordingInformer(source);
    await informer.start();
    const stale = source.current;
    stale.onClose(new Error('connection reset'));
    await settle(t);
    assert.equal(source.watches.length, 2);
    stale.onEvent('ADDED', pod('ghost', '3'));
    assert.deepEqual(events, [], 'events from a replaced watch are dropped');
    source.current.onEvent('ADDED', pod('real', '4'));
    assert.deepEqual(events, ['add real@4']);
    informer.stop();
  });

  it('re-delivers every cached object on resync, once per resync period', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const source = new TestingListWatchSource();
    source.listResult = { items: [pod('a', '1'), pod('b', '1')], resourceVersion: '1' };
    const informer = new Informer(source, { ...options, resyncMs: 10 });
    const updates: string[] = [];
    informer.subscribe({ onUpdate: (o) => updates.push(o.metadata?.name ?? '') });
    await informer.start();
    t.mock.timers.tick(9);
    assert.deepEqual(updates, [], 'nothing before the first period ends');
    t.mock.timers.tick(1);
    assert.deepEqual(updates.sort(), ['a', 'b']);
    t.mock.timers.tick(10);
    assert.equal(updates.length, 4);
    informer.stop();
    t.mock.timers.tick(50);
    assert.equal(updates.length, 4, 'no resync after stop');
  });

  it('keeps delivering to other handlers when one handler throws', async () => {
    const source = new TestingListWatchSource();
    const errors: unknown[] = [];
    const informer = new Informer(source, { ...options, onError: (e) => errors.push(e) });
    const seen: string[] = [];
    informer.subscribe({
      onAdd: () => {
        throw new Error('handler bug');
      },
    });
    informer.subscribe({ onAdd: (o) => seen.push(o.metadata?.name ?? '') });
    await informer.start();
    source.current.onEvent('ADDED', pod('a', '2'));
    assert.deepEqual(seen, ['a']);
    assert.equal((errors[0] as Error).message, 'handler bug');
    informer.stop();
  });
});
