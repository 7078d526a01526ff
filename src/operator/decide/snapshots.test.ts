import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { snapshotFinalizer } from '../../api/snapshot.ts';
import type { Phase, StreamJob, StreamJobStatus } from '../../api/streamjob.ts';
import { initialSavepointOf, resolveInitialSnapshot, waitForInitialSnapshot } from './initial-snapshot.ts';
import { decideSavepoint } from './savepoint.ts';
import { decideJobSnapshots } from './snapshot-pass.ts';
import {
  decideOrphanSnapshots,
  decideSnapshots,
  type ObservedSnapshot,
  releaseDeletedSnapshots,
  requestedSnapshot,
  type SnapshotAction,
} from './snapshots.ts';
import { testingSpec } from './testing-spec.ts';

const job = { name: 'orders', uid: 'uid-1' };
const t0 = new Date('2026-12-07T05:00:00Z');
const path = (id: string) => `s3://weir/jobs/default/orders/savepoints/${id}/`;

function snapshot(name: string, fields: Partial<ObservedSnapshot> = {}): ObservedSnapshot {
  return {
    name,
    uid: `u-${name}`,
    generation: 1,
    finalizers: [snapshotFinalizer],
    disposeOnDelete: true,
    backoffLimit: 1,
    deleting: false,
    createdAt: t0,
    status: {},
    ...fields,
  };
}

const entry = (id: string, fields: Partial<NonNullable<StreamJobStatus['savepoints']>[number]> = {}) => ({
  id,
  path: path(id),
  time: t0.toISOString(),
  reason: 'periodic' as const,
  ...fields,
});

function decideAll(
  status: StreamJobStatus,
  snapshots: ObservedSnapshot[],
  phase: Phase = 'Running',
  held = new Map<string, string>(),
) {
  return decideSnapshots(status, {
    job,
    phase,
    snapshots,
    takenNames: new Set(snapshots.map((s) => s.name)),
    held,
  });
}

const kinds = (actions: SnapshotAction[]) =>
  actions.map((a) => `${a.kind}:${'name' in a ? a.name : a.snapshot.name}`);

describe('requestedSnapshot: the user request decideSavepoint takes next', () => {
  const cases: { name: string; snapshots: ObservedSnapshot[]; status?: StreamJobStatus; want?: string }[] = [
    { name: 'none', snapshots: [], want: undefined },
    {
      name: 'the oldest waiting one',
      snapshots: [
        snapshot('b', { createdAt: new Date(t0.getTime() + 1000) }),
        snapshot('a', { createdAt: new Date(t0.getTime() + 2000) }),
      ],
      want: 'b',
    },
    { name: 'not a record of an existing savepoint', snapshots: [snapshot('r', { savepointId: 'p-1' })] },
    { name: 'not a deleted one', snapshots: [snapshot('d', { deleting: true })] },
    {
      name: 'not one in progress',
      snapshots: [snapshot('s')],
      status: {
        savepointInProgress: { id: 'manual-1', reason: 'manual', startedAt: t0.toISOString(), snapshot: 's' },
      },
    },
    {
      name: 'not one already in the history',
      snapshots: [snapshot('s')],
      status: { savepoints: [entry('manual-1', { snapshot: 's', reason: 'manual' })] },
    },
    {
      name: 'one whose failed attempt leaves a retry',
      snapshots: [snapshot('s', { backoffLimit: 1 })],
      status: {
        lastSavepointFailure: { id: 'manual-1', time: t0.toISOString(), message: 'x', snapshot: 's' },
      },
      want: 's',
    },
    {
      name: 'not one whose attempts are spent',
      snapshots: [snapshot('s', { backoffLimit: 0 })],
      status: {
        lastSavepointFailure: { id: 'manual-1', time: t0.toISOString(), message: 'x', snapshot: 's' },
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(requestedSnapshot(c.status ?? {}, c.snapshots), c.want));
  }
});

describe('a requested snapshot through decideSavepoint', () => {
  const targets = [{ pod: 'orders-tm-0', podIP: '10.0.0.1' }];
  const base = {
    nonce: 0,
    phase: 'Running' as const,
    targets,
    now: t0,
    timeoutMs: 60_000,
    locate: path,
  };

  it('starts a manual savepoint that names the snapshot, and records it under that name', () => {
    const status: StreamJobStatus = { observedSavepointTriggerNonce: 0 };
    const started = decideSavepoint(status, { ...base, requested: 'before-migration' });
    assert.equal(started.action?.kind, 'triggerSavepoint');
    assert.equal(status.savepointInProgress?.snapshot, 'before-migration');
    const id = status.savepointInProgress?.id ?? '';
    decideSavepoint(status, { ...base, outcome: { id, ok: true } });
    assert.deepEqual(status.savepoints?.at(-1), {
      id,
      path: path(id),
      time: t0.toISOString(),
      reason: 'manual',
      snapshot: 'before-migration',
    });
  });

  it('a savepointTriggerNonce change still goes first', () => {
    const status: StreamJobStatus = { observedSavepointTriggerNonce: 0 };
    decideSavepoint(status, { ...base, nonce: 1, requested: 's' });
    assert.equal(status.savepointInProgress?.snapshot, undefined);
  });

  it('waits while the job does not run every task', () => {
    const status: StreamJobStatus = { observedSavepointTriggerNonce: 0 };
    assert.equal(decideSavepoint(status, { ...base, targets: [], requested: 's' }).action, undefined);
    assert.equal(decideSavepoint(status, { ...base, phase: 'Restarting', requested: 's' }).action, undefined);
  });
});

describe('decideSnapshots: the resources, read off the job status', () => {
  it("records each of Weir's own savepoints as <job>-<id>, Completed; not a user's, not over an existing name", () => {
    const status: StreamJobStatus = {
      savepoints: [
        entry('periodic-1'),
        entry('manual-2', { snapshot: 'mine' }),
        entry('upgrade-3', { reason: 'upgrade' }),
      ],
    };
    const { actions } = decideAll(status, [snapshot('orders-upgrade-3', { savepointId: 'upgrade-3' })]);
    const created = actions.filter((a) => a.kind === 'createSnapshot');
    assert.deepEqual(kinds(created), ['createSnapshot:orders-periodic-1']);
    assert.deepEqual(created[0]?.kind === 'createSnapshot' && created[0].status, {
      state: 'Completed',
      savepointId: 'periodic-1',
      path: path('periodic-1'),
      reason: 'periodic',
      completionTime: t0.toISOString(),
      jobUid: 'uid-1',
      observedGeneration: 1,
    });
  });

  it('a request goes Pending → InProgress → Completed, one Event each step after Pending', () => {
    const s = snapshot('before-migration');
    const pending = decideAll({}, [s]);
    const patch = (d: { actions: SnapshotAction[] }) =>
      d.actions.find((a) => a.kind === 'patchSnapshotStatus')?.status;
    assert.equal(patch(pending)?.state, 'Pending');
    assert.match(patch(pending)?.message ?? '', /waiting for every task of orders/);

    const progress = {
      id: 'manual-1',
      reason: 'manual' as const,
      startedAt: t0.toISOString(),
      snapshot: s.name,
    };
    const running = decideAll({ savepointInProgress: progress }, [{ ...s, status: patch(pending) ?? {} }]);
    assert.equal(patch(running)?.state, 'InProgress');
    assert.deepEqual(
      running.events.map((e) => e.reason),
      ['SnapshotInProgress'],
    );

    const done = decideAll({ savepoints: [entry('manual-1', { snapshot: s.name, reason: 'manual' })] }, [
      { ...s, status: patch(running) ?? {} },
    ]);
    assert.equal(patch(done)?.state, 'Completed');
    assert.equal(patch(done)?.path, path('manual-1'));
    assert.equal(patch(done)?.triggerTime, t0.toISOString());
    assert.deepEqual(
      done.events.map((e) => e.reason),
      ['SnapshotCompleted'],
    );
    // Level-based: the same status again changes nothing.
    assert.deepEqual(
      decideAll({ savepoints: [entry('manual-1', { snapshot: s.name, reason: 'manual' })] }, [
        { ...s, status: patch(done) ?? {} },
      ]).actions,
      [],
    );
  });

  it('a failed attempt is tried again within backoffLimit, then the snapshot is Failed with the cause', () => {
    const s = snapshot('s', { backoffLimit: 1, status: { state: 'InProgress', savepointId: 'manual-1' } });
    const failure = (id: string) => ({
      id,
      time: t0.toISOString(),
      message: 'task 1 timed out',
      snapshot: 's',
    });
    const first = decideAll({ lastSavepointFailure: failure('manual-1') }, [s]);
    const retry = first.actions.find((a) => a.kind === 'patchSnapshotStatus');
    assert.equal(retry?.kind === 'patchSnapshotStatus' && retry.status.state, 'Pending');
    assert.equal(retry?.kind === 'patchSnapshotStatus' && retry.status.failures, 1);
    assert.deepEqual(
      first.events.map((e) => e.reason),
      ['SnapshotRetrying'],
    );

    const after = {
      ...s,
      status: {
        ...(retry?.kind === 'patchSnapshotStatus' ? retry.status : {}),
        state: 'InProgress' as const,
      },
    };
    const second = decideAll({ lastSavepointFailure: failure('manual-2') }, [after]);
    const failed = second.actions.find((a) => a.kind === 'patchSnapshotStatus');
    assert.equal(failed?.kind === 'patchSnapshotStatus' && failed.status.state, 'Failed');
    assert.equal(failed?.kind === 'patchSnapshotStatus' && failed.status.error, 'task 1 timed out');
    assert.deepEqual(
      second.events.map((e) => e.reason),
      ['SnapshotFailed'],
    );
  });

  it('a request to a suspended job fails, naming the job and its phase', () => {
    const { actions } = decideAll({}, [snapshot('s')], 'Suspended');
    const patch = actions.find((a) => a.kind === 'patchSnapshotStatus');
    assert.equal(
      patch?.kind === 'patchSnapshotStatus' && patch.status.error,
      'StreamJob orders is Suspended: no task runs to take a savepoint of',
    );
  });

  it('a record whose savepoint the history limits dropped goes once its objects are deleted from S3', () => {
    const record = snapshot('orders-periodic-1', {
      savepointId: 'periodic-1',
      status: {
        state: 'Completed',
        savepointId: 'periodic-1',
        path: path('periodic-1'),
        jobUid: 'uid-1',
        observedGeneration: 1,
      },
    });
    const queued = decideAll({ savepointsToDispose: [{ id: 'periodic-1', path: path('periodic-1') }] }, [
      record,
    ]);
    assert.deepEqual(kinds(queued.actions), ['patchSnapshotStatus:orders-periodic-1']);
    assert.deepEqual(kinds(decideAll({}, [record]).actions), ['deleteSnapshot:orders-periodic-1']);
    // Deleted, and nothing left to do for it: the finalizer goes.
    assert.deepEqual(kinds(decideAll({}, [{ ...record, deleting: true }]).actions), [
      'removeSnapshotFinalizer:orders-periodic-1',
    ]);
  });

  it('adds the finalizer to a snapshot a user created', () => {
    assert.deepEqual(kinds(decideAll({}, [snapshot('s', { finalizers: [] })]).actions), [
      'patchSnapshotStatus:s',
      'addSnapshotFinalizer:s',
    ]);
  });
});

describe('deleting a snapshot', () => {
  const mine = snapshot('mine', {
    deleting: true,
    status: {
      state: 'Completed',
      savepointId: 'manual-1',
      path: path('manual-1'),
      jobUid: 'uid-1',
      observedGeneration: 1,
    },
  });
  // The history's other savepoint has its record: only the deleted snapshot is decided about.
  const record = snapshot('orders-periodic-0', {
    savepointId: 'periodic-0',
    status: {
      state: 'Completed',
      savepointId: 'periodic-0',
      path: path('periodic-0'),
      reason: 'periodic',
      completionTime: t0.toISOString(),
      jobUid: 'uid-1',
      observedGeneration: 1,
    },
  });
  const history = () => ({ savepoints: [entry('periodic-0'), entry('manual-1', { snapshot: 'mine' })] });

  it('waits while something refers to its savepoint, and says what', () => {
    const status: StreamJobStatus = history();
    const held = releaseDeletedSnapshots(status, [mine], () => [
      'StreamJob b names it in spec.initialSnapshot',
    ]);
    assert.equal(held.get('mine'), 'deletion waits: StreamJob b names it in spec.initialSnapshot');
    assert.equal(status.savepoints?.length, 2);
    const { actions } = decideAll(status, [mine, record], 'Running', held);
    assert.deepEqual(kinds(actions), ['patchSnapshotStatus:mine']);
  });

  it("disposeOnDelete: the savepoint leaves the history for the job's disposal queue, and the finalizer goes", () => {
    const status: StreamJobStatus = history();
    releaseDeletedSnapshots(status, [mine], () => []);
    assert.deepEqual(
      status.savepoints?.map((e) => e.id),
      ['periodic-0'],
    );
    assert.deepEqual(status.savepointsToDispose, [{ id: 'manual-1', path: path('manual-1') }]);
    // The objects wait in the job's status for a running TaskManager; the resource does not wait with them.
    assert.deepEqual(kinds(decideAll(status, [mine, record], 'Suspended').actions), [
      'patchSnapshotStatus:mine',
      'removeSnapshotFinalizer:mine',
    ]);
  });

  it('disposeOnDelete false: the savepoint leaves the history, its objects stay, the finalizer goes at once', () => {
    const status: StreamJobStatus = history();
    const keep = { ...mine, disposeOnDelete: false };
    releaseDeletedSnapshots(status, [keep], () => []);
    assert.equal(status.savepointsToDispose, undefined);
    assert.deepEqual(kinds(decideAll(status, [keep, record]).actions), ['removeSnapshotFinalizer:mine']);
  });

  it('a request deleted before it ran goes at once; one in progress waits for its savepoint', () => {
    assert.deepEqual(kinds(decideAll({}, [snapshot('s', { deleting: true })]).actions), [
      'patchSnapshotStatus:s',
      'removeSnapshotFinalizer:s',
    ]);
    const progress = {
      id: 'manual-1',
      reason: 'manual' as const,
      startedAt: t0.toISOString(),
      snapshot: 's',
    };
    const busy = decideAll({ savepointInProgress: progress }, [snapshot('s', { deleting: true })]);
    assert.ok(!kinds(busy.actions).includes('removeSnapshotFinalizer:s'));
  });
});

describe('the snapshot steps of a decide pass', () => {
  const streamJob = (status: StreamJobStatus, initialSnapshot?: string): StreamJob => ({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'StreamJob',
    metadata: { name: 'orders', namespace: 'default', uid: 'uid-1' },
    spec: testingSpec(initialSnapshot ? { initialSnapshot } : {}),
    status,
  });

  it("the history limits keep a user's snapshot and one another job names; the current run's savepoint is in use", () => {
    const status: StreamJobStatus = {
      savepoints: [entry('manual-1', { snapshot: 'mine' }), entry('periodic-2'), entry('periodic-3')],
      run: { id: 'r', restoredFrom: 'periodic-3' },
    };
    const pass = decideJobSnapshots(streamJob(status), status, {
      pods: [],
      nodes: new Map(),
      released: new Set(),
      snapshots: [snapshot('mine')],
      snapshotReferences: new Map([[path('periodic-2').replace(/\/$/, ''), ['billing']]]),
    });
    assert.deepEqual([...pass.release()].sort(), ['manual-1', 'periodic-2']);
  });

  it("a former job's snapshots of the same name are orphans: a deleted one is let go, objects kept", () => {
    const former = snapshot('orders-periodic-0', {
      deleting: true,
      savepointId: 'periodic-0',
      status: { state: 'Completed', jobUid: 'uid-0', path: path('periodic-0') },
    });
    const status: StreamJobStatus = {};
    const pass = decideJobSnapshots(streamJob(status), status, {
      pods: [],
      nodes: new Map(),
      released: new Set(),
      snapshots: [former],
    });
    pass.release();
    const decision = pass.reconcile('Running');
    assert.deepEqual(kinds(decision.actions), ['removeSnapshotFinalizer:orders-periodic-0']);
    assert.match(decision.events[0]?.message ?? '', /earlier StreamJob orders.*stay at s3:\/\//);
  });
});

describe('decideOrphanSnapshots: snapshots of a job that does not exist', () => {
  it('a request fails naming the job; a record is left as it is', () => {
    const decision = decideOrphanSnapshots(
      [snapshot('s'), snapshot('r', { savepointId: 'p', status: { state: 'Completed', path: path('p') } })],
      'StreamJob default/orders does not exist',
    );
    assert.deepEqual(kinds(decision.actions), ['patchSnapshotStatus:s']);
    const patch = decision.actions[0];
    assert.equal(
      patch?.kind === 'patchSnapshotStatus' && patch.status.error,
      'StreamJob default/orders does not exist',
    );
  });
});

describe('spec.initialSnapshot', () => {
  const completed = (jobName: string, jobUid: string) => ({
    ...snapshot('before-migration', {
      status: { state: 'Completed' as const, savepointId: 'manual-1', path: path('manual-1'), jobUid },
    }),
    jobName,
  });

  it("resolves to the id of the job's own snapshot, and to the path of another job's", () => {
    assert.deepEqual(resolveInitialSnapshot('before-migration', completed('orders', 'uid-1'), job), {
      ref: 'manual-1',
    });
    assert.deepEqual(resolveInitialSnapshot('before-migration', completed('orders', 'uid-0'), job), {
      ref: path('manual-1'),
    });
    assert.deepEqual(resolveInitialSnapshot('before-migration', completed('billing', 'uid-9'), job), {
      ref: path('manual-1'),
    });
  });

  it('waits, saying for what, while the snapshot is missing or not Completed', () => {
    assert.deepEqual(resolveInitialSnapshot('x', undefined, job), {
      wait: 'StreamJobSnapshot x (spec.initialSnapshot) does not exist in this namespace',
    });
    const pending = { ...snapshot('x', { status: { state: 'InProgress' } }), jobName: 'orders' };
    assert.match(
      (resolveInitialSnapshot('x', pending, job) as { wait: string }).wait,
      /is InProgress; the job starts from it once it is Completed/,
    );
  });

  it('holds a job that never ran, with no pods and a Ready condition naming the snapshot; a running job goes on', () => {
    const fresh: StreamJob = {
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'StreamJob',
      metadata: { name: 'orders', generation: 2 },
      spec: testingSpec({ initialSnapshot: 'x' }),
    };
    const wait = { wait: 'StreamJobSnapshot x (spec.initialSnapshot) is Pending' };
    const held = waitForInitialSnapshot(fresh, wait, t0);
    const ready = held?.status.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'InitialSnapshotNotReady');
    assert.equal(ready?.observedGeneration, 2);
    assert.deepEqual(
      held?.events.map((e) => e.reason),
      ['InitialSnapshotNotReady'],
    );
    // The same wait again: no second Event.
    assert.deepEqual(waitForInitialSnapshot({ ...fresh, status: held?.status ?? {} }, wait, t0)?.events, []);
    const running = { ...fresh, status: { run: { id: 'r' } } };
    assert.equal(waitForInitialSnapshot(running, wait, t0), undefined);
    assert.equal(initialSavepointOf(running, wait), undefined);
    assert.equal(initialSavepointOf(running, { ref: 'manual-1' }), 'manual-1');
  });
});
