import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamJob } from '../../api/streamjob.ts';
import { testingSpec } from '../../operator/decide/testing-spec.ts';
import { runningState, snapshotState, suspendedState, waitFor } from './actions.ts';
import { age, rollbackStatus, statusTable, summarize } from './render.ts';

const now = new Date('2026-12-07T02:00:00Z');
const job = (status: StreamJob['status'], generation = 3, spec: Record<string, unknown> = {}): StreamJob => ({
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'StreamJob',
  metadata: { name: 'orders', namespace: 'shop', generation },
  spec: testingSpec({ parallelism: 4, ...spec }),
  ...(status ? { status } : {}),
});
const savepoint = (id: string, reason: 'manual' | 'suspend' | 'upgrade') => ({
  id,
  reason,
  path: `s3://b/shop/orders/savepoints/${id}/`,
  time: '2026-12-07T01:59:00Z',
});

describe('kubectl weir: status', () => {
  it('ages as kubectl prints them', () => {
    assert.deepEqual(
      [0, 119, 120, 7199, 7200, 48 * 3600].map((s) => age(new Date(now.getTime() - s * 1000), now)),
      ['0s', '119s', '2m', '119m', '2h', '2d'],
    );
    assert.equal(age(undefined, now), '-');
  });

  it('one row per job: phase, parallelism, ready, checkpoint age, lag, restarts, last failure', () => {
    const running = job({
      phase: 'Running',
      tasks: { ready: 4, total: 4 },
      checkpoint: {
        latestCompleted: { id: 9, time: '2026-12-07T01:59:55Z' },
        consecutiveFailures: 0,
        lagRecords: 120,
      },
      restarts: {
        count: 2,
        consecutive: 0,
        lastFailure: {
          time: '2026-12-07T01:00:00Z',
          pod: 'orders-tm-1',
          reason: 'ProcessExited',
          message: 'pod orders-tm-1 failed: exit code 1: KAFKA_UNREACHABLE: no broker answered',
        },
      },
    });
    const fresh = { ...job(undefined), metadata: { name: 'new', namespace: 'other', generation: 1 } };
    const text = statusTable([summarize(running, now), summarize(fresh, now)], true);
    const [header, first, second] = text.split('\n');
    assert.match(
      header ?? '',
      /^NAMESPACE\s+NAME\s+PHASE\s+PARALLELISM\s+READY\s+CHECKPOINT\s+LAG\s+RESTARTS\s+LAST FAILURE$/,
    );
    assert.match(
      first ?? '',
      /^shop\s+orders\s+Running\s+4\s+4\/4\s+5s\s+120\s+2\s+pod orders-tm-1 failed: exit code 1: KAFKA_UNREACHABLE/,
    );
    assert.match(second ?? '', /^other\s+new\s+Pending\s+4\s+0\/4\s+-\s+-\s+0\s+-$/);
  });
});

describe('kubectl weir: rollback-status', () => {
  const cases: [string, StreamJob, RegExp][] = [
    [
      'deployed and stable',
      job({ deployment: { generation: 3 } as never, lastStableSpec: { generation: 3, time: 't' } as never }),
      /generation 3 is deployed and stable/,
    ],
    [
      'deployed, not yet stable',
      job({ deployment: { generation: 3 } as never, lastStableSpec: { generation: 2, time: 't' } as never }),
      /generation 3 is deployed, not yet stable/,
    ],
    [
      'in progress',
      job({
        upgrade: { step: 'Savepointing', fromGeneration: 2, toGeneration: 3, mode: 'savepoint' } as never,
      }),
      /upgrade in progress: generation 2 → 3, savepoint, step Savepointing/,
    ],
    [
      'rolled back',
      job({
        lastStableSpec: { generation: 2, time: 't' } as never,
        upgrade: {
          step: 'RolledBack',
          fromGeneration: 2,
          toGeneration: 3,
          message: 'the new version did not become stable',
        } as never,
      }),
      /rolled back: generation 2 → 3; generation 2 runs again\n {2}the new version did not become stable/,
    ],
    [
      'aborted',
      job({ upgrade: { step: 'Aborted', fromGeneration: 2, toGeneration: 3 } as never }),
      /upgrade aborted: generation 2 → 3/,
    ],
  ];
  for (const [name, j, expected] of cases) it(name, () => assert.match(rollbackStatus(j), expected));
});

describe('kubectl weir: what --wait waits for', () => {
  const before = job({
    phase: 'Running',
    savepoints: [savepoint('old', 'manual')],
    observedSavepointTriggerNonce: 0,
  });

  it('a suspend: the generation observed, Suspended, its savepoint recorded', () => {
    assert.equal(suspendedState(job({ phase: 'Suspended', observedGeneration: 2 }), 3).done, false);
    assert.equal(
      suspendedState(
        job({
          phase: 'Suspended',
          observedGeneration: 3,
          savepointInProgress: { id: 's', reason: 'suspend', startedAt: 't' },
        }),
        3,
      ).done,
      false,
    );
    assert.equal(
      suspendedState(
        job({ phase: 'Suspended', observedGeneration: 3, upgrade: { step: 'Savepointing' } as never }),
        3,
      ).done,
      false,
      'the phase reads Suspended while the TaskManagers still stop with the savepoint',
    );
    assert.deepEqual(
      suspendedState(
        job({ phase: 'Suspended', observedGeneration: 3, savepoints: [savepoint('s', 'suspend')] }),
        3,
      ),
      {
        done: true,
        result: 'suspended; resume restores savepoint s',
      },
    );
  });

  it('a resume or restart: Running at the generation (and nonce), every task ready; Failed ends the wait', () => {
    const running = {
      phase: 'Running' as const,
      observedGeneration: 3,
      tasks: { ready: 4, total: 4 },
      run: { id: 'r2' },
    };
    assert.equal(runningState(job({ ...running, tasks: { ready: 3, total: 4 } }), 3).done, false);
    assert.equal(runningState(job({ ...running, observedRestartNonce: 0 }), 3, 1).done, false);
    assert.deepEqual(runningState(job({ ...running, observedRestartNonce: 1 }), 3, 1), {
      done: true,
      result: 'running: 4/4 tasks ready, run r2',
    });
    assert.deepEqual(runningState(job({ phase: 'Failed', observedGeneration: 3 }), 3), {
      done: true,
      failed: true,
      result: 'failed: ',
    });
  });

  it('waits on an injected clock, shows each change of progress once, and times out naming what it waited for', async () => {
    let clock = 0;
    const seen: string[] = [];
    const states = ['a', 'a', 'b'];
    await assert.rejects(
      waitFor(
        async () => before,
        'savepoint orders',
        () => ({ done: false, progress: states.shift() ?? 'c' }),
        {
          timeoutMs: 4000,
          now: () => clock,
          sleep: async (ms) => {
            clock += ms;
          },
          onProgress: (p) => seen.push(p),
        },
      ),
      { code: 'TIMEOUT', message: 'savepoint orders: not done after 4s (c)' },
    );
    assert.deepEqual(seen, ['a', 'b', 'c']);
  });
});

describe('kubectl weir: savepoint through a StreamJobSnapshot', () => {
  const snapshot = (status: Record<string, unknown> | undefined) => ({
    apiVersion: 'weir.dev/v1alpha1' as const,
    kind: 'StreamJobSnapshot' as const,
    metadata: { name: 'orders-snapshot-x7k2p', namespace: 'shop' },
    spec: { jobName: 'orders', disposeOnDelete: true, backoffLimit: 1 },
    ...(status ? { status } : {}),
  });

  it('shows each state while it waits, and ends on Completed or Failed with the path or the cause', () => {
    assert.deepEqual(snapshotState(snapshot(undefined)), {
      done: false,
      progress: 'created; waiting for the operator',
    });
    assert.deepEqual(
      snapshotState(
        snapshot({
          state: 'Pending',
          message: 'waiting for StreamJob orders to be Running (it is Restarting)',
        }),
      ),
      {
        done: false,
        progress: 'waiting for StreamJob orders to be Running (it is Restarting)',
      },
    );
    assert.deepEqual(snapshotState(snapshot({ state: 'InProgress', savepointId: 'manual-1' })), {
      done: false,
      progress: 'taking savepoint manual-1',
    });
    assert.deepEqual(
      snapshotState(snapshot({ state: 'Completed', savepointId: 'manual-1', path: 's3://b/p/' })),
      {
        done: true,
        result: 'savepoint manual-1 completed: s3://b/p/ (streamjobsnapshot orders-snapshot-x7k2p)',
      },
    );
    assert.deepEqual(snapshotState(snapshot({ state: 'Failed', error: 'StreamJob orders is Suspended' })), {
      done: true,
      failed: true,
      result: 'streamjobsnapshot orders-snapshot-x7k2p failed: StreamJob orders is Suspended',
    });
  });
});
