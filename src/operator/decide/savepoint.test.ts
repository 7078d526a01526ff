import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Phase, StreamJobStatus } from '../../api/streamjob.ts';
import {
  applySavepointOutcome,
  awaitedSavepointId,
  decideSavepoint,
  periodicSavepointSince,
  type SavepointInput,
  savepointIdAt,
} from './savepoint.ts';

const t0 = new Date('2026-11-22T04:15:00.123Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const targets = [
  { pod: 'wc-tm-0', podIP: '10.245.0.2' },
  { pod: 'wc-tm-1', podIP: '10.245.16.3' },
];
const input = (fields: Partial<SavepointInput> = {}): SavepointInput => ({
  nonce: 1,
  phase: 'Running',
  targets,
  now: t0,
  timeoutMs: 180_000,
  locate: (id) => `s3://weir/p/ns/wc/savepoints/${id}/`,
  ...fields,
});
const inProgress = (startedAt: Date): StreamJobStatus => ({
  observedSavepointTriggerNonce: 1,
  savepointInProgress: {
    id: 'manual-20261122t041500z',
    reason: 'manual',
    startedAt: startedAt.toISOString(),
  },
});

describe('savepointIdAt', () => {
  it('is a valid, sortable savepoint id', () => {
    assert.equal(savepointIdAt('manual', t0), 'manual-20261122t041500z');
    assert.match(savepointIdAt('manual', t0), /^[a-z0-9][a-z0-9-]{0,62}$/);
    assert.ok(savepointIdAt('manual', at(1)) > savepointIdAt('manual', t0));
  });
});

describe('decideSavepoint', () => {
  const cases: {
    name: string;
    status: StreamJobStatus;
    input: SavepointInput;
    trigger?: string;
    events: string[];
    observed: number;
    inProgress: boolean;
  }[] = [
    {
      name: 'first sight adopts the nonce without a savepoint',
      status: {},
      input: input({ nonce: 5 }),
      events: [],
      observed: 5,
      inProgress: false,
    },
    {
      name: 'an unchanged nonce does nothing',
      status: { observedSavepointTriggerNonce: 1 },
      input: input(),
      events: [],
      observed: 1,
      inProgress: false,
    },
    {
      name: 'a new nonce on a Running job records the intent and asks every pod',
      status: { observedSavepointTriggerNonce: 0 },
      input: input(),
      trigger: 'manual-20261122t041500z',
      events: ['Normal SavepointRequested'],
      observed: 1,
      inProgress: true,
    },
    ...(['Deploying', 'Restarting'] as Phase[]).map((phase) => ({
      name: `a new nonce while ${phase} waits, nonce not yet observed`,
      status: { observedSavepointTriggerNonce: 0 },
      input: input({ phase, targets: [] }),
      events: [],
      observed: 0,
      inProgress: false,
    })),
    {
      name: 'a new nonce while Running but a pod not Ready waits',
      status: { observedSavepointTriggerNonce: 0 },
      input: input({ targets: [] }),
      events: [],
      observed: 0,
      inProgress: false,
    },
    ...(['Suspended', 'Failed'] as Phase[]).map((phase) => ({
      name: `a new nonce while ${phase} is observed and skipped with a warning`,
      status: { observedSavepointTriggerNonce: 0 },
      input: input({ phase, targets: [] }),
      events: ['Warning SavepointSkipped'],
      observed: 1,
      inProgress: false,
    })),
    {
      name: 'one in progress (an operator restart) is asked for again with the same id',
      status: inProgress(t0),
      input: input({ now: at(30) }),
      trigger: 'manual-20261122t041500z',
      events: [],
      observed: 1,
      inProgress: true,
    },
    {
      name: 'one in progress while pods restart waits',
      status: inProgress(t0),
      input: input({ now: at(30), phase: 'Restarting', targets: [] }),
      events: [],
      observed: 1,
      inProgress: true,
    },
    {
      name: 'one in progress past its timeout fails',
      status: inProgress(t0),
      input: input({ now: at(181), phase: 'Restarting', targets: [] }),
      events: ['Warning SavepointFailed'],
      observed: 1,
      inProgress: false,
    },
    {
      name: 'one in progress when the job is suspended fails',
      status: inProgress(t0),
      input: input({ now: at(5), phase: 'Suspended', targets: [] }),
      events: ['Warning SavepointFailed'],
      observed: 1,
      inProgress: false,
    },
    {
      name: 'the TaskManagers’ answer for the savepoint in progress completes it, without asking again',
      status: inProgress(t0),
      input: input({ now: at(3), outcome: { id: 'manual-20261122t041500z', ok: true } }),
      events: ['Normal SavepointCompleted'],
      observed: 1,
      inProgress: false,
    },
    {
      name: 'a failed answer is recorded as the last failure',
      status: inProgress(t0),
      input: input({
        now: at(3),
        outcome: { id: 'manual-20261122t041500z', ok: false, message: 'HTTP 503' },
      }),
      events: ['Warning SavepointFailed'],
      observed: 1,
      inProgress: false,
    },
    {
      name: 'an answer for another savepoint is ignored and the one in progress is asked for',
      status: inProgress(t0),
      input: input({ now: at(3), outcome: { id: 'manual-older', ok: true } }),
      trigger: 'manual-20261122t041500z',
      events: [],
      observed: 1,
      inProgress: true,
    },
    {
      name: 'a new nonce while one is in progress waits for it',
      status: inProgress(t0),
      input: input({ nonce: 2, now: at(5), targets: [] }),
      events: [],
      observed: 1,
      inProgress: true,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const status = structuredClone(c.status);
      const decision = decideSavepoint(status, c.input);
      assert.equal(decision.action?.id, c.trigger);
      if (decision.action) assert.deepEqual(decision.action.targets, c.input.targets);
      assert.deepEqual(
        decision.events.map((e) => `${e.type} ${e.reason}`),
        c.events,
      );
      assert.equal(status.observedSavepointTriggerNonce, c.observed);
      assert.equal(status.savepointInProgress !== undefined, c.inProgress);
    });
  }
});

describe('applySavepointOutcome', () => {
  const path = 's3://weir/p/ns/wc/savepoints/manual-20261122t041500z/';

  it('a success joins the history, newest last (decideSavepointHistory bounds it)', () => {
    const old = Array.from({ length: 10 }, (_, i) => ({
      id: `manual-${i}`,
      path: `p${i}`,
      time: t0.toISOString(),
      reason: 'manual' as const,
    }));
    const status: StreamJobStatus = { ...inProgress(t0), savepoints: old };
    const events = applySavepointOutcome(status, { id: 'manual-20261122t041500z', ok: true }, path, at(4));
    assert.deepEqual(
      events.map((e) => e.reason),
      ['SavepointCompleted'],
    );
    assert.equal(status.savepointInProgress, undefined);
    assert.equal(status.savepoints?.length, 11);
    assert.deepEqual(status.savepoints?.at(-1), {
      id: 'manual-20261122t041500z',
      path,
      time: at(4).toISOString(),
      reason: 'manual',
    });
    assert.equal(status.savepoints?.[0]?.id, 'manual-0');
  });

  it('a failure is recorded with its message and does not join the history', () => {
    const status = inProgress(t0);
    const events = applySavepointOutcome(
      status,
      { id: 'manual-20261122t041500z', ok: false, message: 'wc-tm-1: HTTP 503' },
      path,
      at(4),
    );
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.reason}`),
      ['Warning SavepointFailed'],
    );
    assert.deepEqual(status.lastSavepointFailure, {
      id: 'manual-20261122t041500z',
      time: at(4).toISOString(),
      message: 'wc-tm-1: HTTP 503',
    });
    assert.equal(status.savepoints, undefined);
  });

  it('an outcome for another savepoint changes nothing', () => {
    const status = inProgress(t0);
    assert.deepEqual(applySavepointOutcome(status, { id: 'manual-other', ok: true }, path, at(4)), []);
    assert.deepEqual(status, inProgress(t0));
  });
});

describe('awaitedSavepointId', () => {
  const started = '2026-03-01T12:00:00.000Z';
  const upgrade = (step: 'Savepointing' | 'Deploying') => ({
    step,
    mode: 'savepoint' as const,
    fromGeneration: 1,
    toGeneration: 2,
    savepointId: 'upgrade-1',
    startedAt: started,
    stepStartedAt: started,
  });
  const cases: [string, StreamJobStatus, string | undefined][] = [
    ['nothing', {}, undefined],
    [
      'a manual savepoint',
      { savepointInProgress: { id: 'manual-1', reason: 'manual', startedAt: started } },
      'manual-1',
    ],
    ['an upgrade stopping the job', { upgrade: upgrade('Savepointing') }, 'upgrade-1'],
    ['an upgrade past its savepoint', { upgrade: upgrade('Deploying') }, undefined],
  ];
  for (const [what, status, id] of cases) it(what, () => assert.equal(awaitedSavepointId(status), id));
});

describe('periodic savepoints', () => {
  const every10s = { periodicIntervalMs: 10_000, periodicSince: t0 };
  const cases: {
    name: string;
    input: Partial<SavepointInput>;
    status?: StreamJobStatus;
    started?: string;
    requeueAfterMs?: number;
  }[] = [
    { name: 'off without an interval', input: { now: at(3600) } },
    {
      name: 'not yet due: requeued for when it is',
      input: { ...every10s, now: at(4) },
      requeueAfterMs: 6000,
    },
    {
      name: 'due while Running: starts one',
      input: { ...every10s, now: at(10) },
      started: 'periodic-20261122t041510z',
    },
    { name: 'due but not Running: waits', input: { ...every10s, now: at(11), phase: 'Upgrading' } },
    { name: 'due but a task is not Ready: waits', input: { ...every10s, now: at(11), targets: [] } },
    {
      name: 'a savepoint in progress: no second one',
      input: { ...every10s, now: at(30) },
      status: inProgress(at(25)),
    },
    {
      name: 'a changed nonce takes a manual one instead',
      input: { ...every10s, now: at(30), nonce: 2 },
      status: { observedSavepointTriggerNonce: 1 },
      started: 'manual-20261122t041530z',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const status: StreamJobStatus = structuredClone(c.status ?? { observedSavepointTriggerNonce: 1 });
      const before = status.savepointInProgress?.id;
      const decision = decideSavepoint(status, input(c.input));
      const started = status.savepointInProgress?.id !== before ? status.savepointInProgress?.id : undefined;
      assert.equal(started, c.started);
      if (c.started) assert.equal(decision.action?.id, c.started);
      else assert.equal(decision.action?.id, before);
      assert.equal(decision.requeueAfterMs, c.requeueAfterMs);
    });
  }

  it('runs from the newest savepoint, failed savepoint or deployment', () => {
    const iso = (s: number) => at(s).toISOString();
    assert.equal(periodicSavepointSince({}), undefined);
    assert.deepEqual(
      periodicSavepointSince({
        deployment: { spec: {}, generation: 1, time: iso(5) },
        savepoints: [
          { id: 'a', path: 'p', time: iso(20), reason: 'periodic' },
          { id: 'b', path: 'p', time: iso(30), reason: 'manual' },
        ],
        lastSavepointFailure: { id: 'c', time: iso(25), message: 'm' },
      }),
      at(30),
    );
    assert.deepEqual(
      periodicSavepointSince({
        deployment: { spec: {}, generation: 1, time: iso(40) },
        lastSavepointFailure: { id: 'c', time: iso(25), message: 'm' },
      }),
      at(40),
    );
  });
});

describe('savepoint ids', () => {
  it('two asked for within one second get ids of their own', () => {
    const status: StreamJobStatus = { observedSavepointTriggerNonce: 0 };
    const first = decideSavepoint(status, input({ nonce: 1 }));
    const firstId = first.action?.kind === 'triggerSavepoint' ? first.action.id : '';
    decideSavepoint(status, input({ nonce: 1, outcome: { id: firstId, ok: true } }));
    const second = decideSavepoint(status, input({ nonce: 2 }));
    const secondId = second.action?.kind === 'triggerSavepoint' ? second.action.id : '';
    assert.equal(firstId, 'manual-20261122t041500z');
    assert.equal(secondId, 'manual-20261122t041500z-2');
    assert.equal(savepointIdAt('manual', t0, new Set([firstId, secondId])), 'manual-20261122t041500z-3');
  });
});
