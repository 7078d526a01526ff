import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamJobStatus } from '../../api/streamjob.ts';
import { disposalQueueLimit } from '../../api/streamjob-schema.ts';
import {
  type DisposalOutcome,
  decideSavepointHistory,
  type HistoryInput,
  retainSavepoints,
  savepointsInUse,
} from './savepoint-history.ts';

const t0 = new Date('2026-11-30T10:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
/** Savepoint "sN" completed at second N, oldest first. */
const history = (...seconds: number[]) =>
  seconds.map((n) => ({
    id: `s${n}`,
    path: `s3://weir/ns/job/savepoints/s${n}/`,
    time: at(n).toISOString(),
    reason: 'periodic' as const,
  }));
const ids = (entries: readonly { id: string }[] | undefined) => (entries ?? []).map((e) => e.id);
const tm0 = { pod: 'job-tm-0', podIP: '10.0.0.1' };

describe('retainSavepoints', () => {
  const cases: {
    name: string;
    seconds: number[];
    maxCount: number;
    maxAgeS?: number;
    nowS?: number;
    protect?: string[];
    kept: string[];
  }[] = [
    { name: 'within the count: all kept', seconds: [1, 2, 3], maxCount: 3, kept: ['s1', 's2', 's3'] },
    {
      name: 'over the count: the oldest go',
      seconds: [1, 2, 3, 4, 5],
      maxCount: 3,
      kept: ['s3', 's4', 's5'],
    },
    { name: 'a count of one keeps the newest', seconds: [1, 2], maxCount: 1, kept: ['s2'] },
    {
      name: 'a protected old one stays beyond the count',
      seconds: [1, 2, 3, 4],
      maxCount: 2,
      protect: ['s1'],
      kept: ['s1', 's3', 's4'],
    },
    {
      name: 'older than maxAge: dropped',
      seconds: [1, 50, 90],
      maxCount: 10,
      maxAgeS: 60,
      nowS: 100,
      kept: ['s50', 's90'],
    },
    {
      name: 'the newest stays however old',
      seconds: [1, 2],
      maxCount: 10,
      maxAgeS: 60,
      nowS: 1000,
      kept: ['s2'],
    },
    {
      name: 'a protected one stays however old',
      seconds: [1, 2, 3],
      maxCount: 10,
      maxAgeS: 60,
      nowS: 1000,
      protect: ['s2'],
      kept: ['s2', 's3'],
    },
    { name: 'empty', seconds: [], maxCount: 3, kept: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const all = history(...c.seconds);
      const { kept, dropped } = retainSavepoints(all, {
        maxCount: c.maxCount,
        maxAgeMs: c.maxAgeS === undefined ? undefined : c.maxAgeS * 1000,
        now: at(c.nowS ?? 0),
        protectedIds: new Set(c.protect ?? []),
      });
      assert.deepEqual(ids(kept), c.kept);
      assert.deepEqual(
        ids(dropped),
        ids(all).filter((id) => !c.kept.includes(id)),
      );
    });
  }
});

describe('decideSavepointHistory', () => {
  const input = (fields: Partial<HistoryInput> = {}): HistoryInput => ({
    maxCount: 2,
    maxAgeMs: undefined,
    now: at(100),
    protectedIds: new Set(),
    disposer: tm0,
    outcome: undefined,
    retryAfterMs: 60_000,
    ...fields,
  });
  const queued = (...seconds: number[]) => history(...seconds).map(({ id, path }) => ({ id, path }));

  const cases: {
    name: string;
    status: StreamJobStatus;
    input?: Partial<HistoryInput>;
    history: string[];
    queue: string[];
    dispose?: string[];
    events?: string[];
    requeueAfterMs?: number;
  }[] = [
    {
      name: 'nothing over the policy: nothing to do',
      status: { savepoints: history(1, 2) },
      history: ['s1', 's2'],
      queue: [],
    },
    {
      name: 'dropped ones are queued in status and a running TaskManager is asked to delete them',
      status: { savepoints: history(1, 2, 3, 4) },
      history: ['s3', 's4'],
      queue: ['s1', 's2'],
      dispose: ['s1', 's2'],
    },
    {
      name: 'no TaskManager runs: the queue waits in status',
      status: { savepoints: history(1, 2, 3) },
      input: { disposer: undefined },
      history: ['s2', 's3'],
      queue: ['s1'],
    },
    {
      name: 'deleted ones leave the queue, with an event',
      status: { savepoints: history(3, 4), savepointsToDispose: queued(1, 2) },
      input: { outcome: { disposed: ['s1', 's2'] } },
      history: ['s3', 's4'],
      queue: [],
      events: ['SavepointDisposed'],
    },
    {
      name: 'a failure is recorded and tried again after retryAfter',
      status: { savepoints: history(3, 4), savepointsToDispose: queued(1, 2) },
      input: { outcome: { disposed: ['s1'], failure: 'tm-0: HTTP 503' } satisfies DisposalOutcome },
      history: ['s3', 's4'],
      queue: ['s2'],
      events: ['SavepointDisposed', 'SavepointDisposalFailed'],
      requeueAfterMs: 60_000,
    },
    {
      name: 'after retryAfter the queue is asked for again',
      status: {
        savepointsToDispose: queued(2),
        lastSavepointDisposalFailure: { time: at(40).toISOString(), message: 'm' },
      },
      history: [],
      queue: ['s2'],
      dispose: ['s2'],
    },
    {
      name: 'a savepoint already queued is not queued twice',
      status: { savepoints: history(1, 2, 3), savepointsToDispose: queued(1) },
      history: ['s2', 's3'],
      queue: ['s1'],
      dispose: ['s1'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const status = structuredClone(c.status);
      const decision = decideSavepointHistory(status, input(c.input));
      assert.deepEqual(ids(status.savepoints), c.history);
      assert.deepEqual(ids(status.savepointsToDispose), c.queue);
      assert.deepEqual(decision.action?.ids, c.dispose);
      if (c.dispose) assert.deepEqual(decision.action?.target, tm0);
      assert.deepEqual(
        decision.events.map((e) => e.reason),
        c.events ?? [],
      );
      assert.equal(decision.requeueAfterMs, c.requeueAfterMs);
    });
  }

  it('a queue over its limit leaves the oldest in S3, with a Warning naming them', () => {
    const seconds = Array.from({ length: disposalQueueLimit + 2 }, (_, i) => i + 1);
    const status: StreamJobStatus = { savepointsToDispose: queued(...seconds) };
    const decision = decideSavepointHistory(status, input({ disposer: undefined }));
    assert.equal(status.savepointsToDispose?.length, disposalQueueLimit);
    assert.equal(status.savepointsToDispose?.[0]?.id, 's3');
    const warning = decision.events.find((e) => e.reason === 'SavepointNotDisposed');
    assert.match(
      warning?.message ?? '',
      /s3:\/\/weir\/ns\/job\/savepoints\/s1\/, s3:\/\/weir\/ns\/job\/savepoints\/s2\//,
    );
  });
});

describe('savepointsInUse', () => {
  it('the upgrade savepoint, the run restore and spec.initialSavepoint', () => {
    const inUse = savepointsInUse(
      {
        upgrade: {
          step: 'Deploying',
          mode: 'savepoint',
          fromGeneration: 1,
          toGeneration: 2,
          savepointId: 'u',
        },
        run: { id: 'r', restoredFrom: 'suspend-1' },
      } as StreamJobStatus,
      'manual-1',
    );
    assert.deepEqual([...inUse].sort(), ['manual-1', 'suspend-1', 'u']);
    assert.deepEqual([...savepointsInUse({}, undefined)], []);
  });
});
