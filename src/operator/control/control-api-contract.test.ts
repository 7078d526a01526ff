import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ports } from '../../api/constants.ts';
import {
  controlPaths,
  type NoProgressDocument,
  parseTaskManagerStatus,
  type TaskManagerStatusDocument,
} from '../../api/control-api.ts';
import { startControlServer, startMetricsServer } from '../../runtime/control/control-server.ts';
import {
  disposeTaskManagerSavepoint,
  fetchTaskManagerStatus,
  promoteTaskManager,
  stopTaskManagerWithSavepoint,
  triggerTaskManagerSavepoint,
} from './taskmanager-client.ts';

/** What the runtime serves, typed as the contract says; the operator's parser must read exactly this. */
const document: TaskManagerStatusDocument = {
  job: 'orders',
  runId: 'r1',
  ready: true,
  tasks: [
    {
      task: 0,
      state: 'running',
      transactionalId: 'weir.shop.orders.r1.s0.t0',
      partitions: [{ topic: 'in', partition: 0, offset: 42, lag: 0 }],
      lastCheckpointId: 7,
      lastCheckpoint: { id: 7, at: '2026-11-30T10:00:00.000Z', durationMs: 12, bytes: 300 },
      committedAsOf: '2026-11-30T10:00:00.000Z',
      sinceCommitMs: 800,
      consecutiveCheckpointFailures: 0,
      load: { recordsIn: 42, recordsOut: 40, busyMs: 900, backpressureMs: 10, uptimeMs: 5000 },
    },
    {
      task: 1,
      state: 'restoring',
      partitions: [],
      lastCheckpointId: 0,
      lastCheckpoint: null,
      committedAsOf: null,
      sinceCommitMs: null,
      consecutiveCheckpointFailures: 2,
    },
  ],
};

describe('the control API contract, runtime server against operator client', () => {
  // A loopback address of its own, so the fixed control port does not meet anything else on 127.0.0.1.
  const host = '127.0.0.2';
  const token = 'contract-token';
  const calls: string[] = [];
  let server: Server;
  let stalled: NoProgressDocument | undefined;

  before(async () => {
    server = await startControlServer({
      host,
      port: ports.control,
      token,
      handlers: {
        ready: () => true,
        noProgress: () => stalled,
        status: () => document,
        savepoint: async (id) => calls.push(`savepoint ${id}`),
        stop: async (savepointId) => calls.push(`stop ${savepointId}`),
        disposeSavepoint: async (id) => calls.push(`dispose ${id}`),
        promote: () => {
          calls.push('promote');
          return { promoted: true, warm: 1 };
        },
      },
    });
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('liveness: ok while the tasks make progress, 503 naming the stalled task when not', async () => {
    const live = await fetch(`http://${host}:${ports.control}/healthz`);
    assert.equal(live.status, 200);
    stalled = {
      code: 'NO_PROGRESS',
      message: 'no commit within the progress window of 30s: task 1 (lag 40, last commit 31s ago)',
      progressWindowMs: 30_000,
      stalled: [{ task: 1, lag: 40, sinceCommitMs: 31_000 }],
    };
    const dead = await fetch(`http://${host}:${ports.control}/healthz`);
    assert.equal(dead.status, 503);
    assert.deepEqual(await dead.json(), stalled);
    stalled = undefined;
  });

  it('the status document the runtime serves is the one the operator reads', async () => {
    const report = await fetchTaskManagerStatus(host, token, 5000);
    assert.deepEqual(report, parseTaskManagerStatus(JSON.parse(JSON.stringify(document))));
    assert.deepEqual(report, {
      runId: 'r1',
      tasks: [
        {
          task: 0,
          state: 'running',
          checkpointId: 7,
          consecutiveFailures: 0,
          committedAsOf: new Date('2026-11-30T10:00:00.000Z'),
          sinceCommitMs: 800,
          lag: 0,
          partitionCount: 1,
          load: { recordsIn: 42, recordsOut: 40, busyMs: 900, backpressureMs: 10, uptimeMs: 5000 },
        },
        {
          task: 1,
          state: 'restoring',
          checkpointId: 0,
          consecutiveFailures: 2,
          lag: 0,
          partitionCount: 0,
        },
      ],
    });
  });

  it('every request the operator sends reaches its handler', async () => {
    await triggerTaskManagerSavepoint(host, token, 'manual-1', 5000);
    await stopTaskManagerWithSavepoint(host, token, 'upgrade-1', 5000);
    await disposeTaskManagerSavepoint(host, token, 'periodic-1', 5000);
    await promoteTaskManager(host, token, 5000);
    assert.deepEqual(calls, ['savepoint manual-1', 'stop upgrade-1', 'dispose periodic-1', 'promote']);
  });

  it('a token the TaskManager does not hold is refused, and said so', async () => {
    await assert.rejects(fetchTaskManagerStatus(host, 'wrong', 5000), { code: 'TASKMANAGER_UNAUTHORIZED' });
  });

  it('the metrics port serves the same status document read-only, without the token, and nothing else', async () => {
    const { Registry } = await import('prom-client');
    const metrics = await startMetricsServer(host, ports.metrics, new Registry(), () => document);
    try {
      const read = await fetch(`http://${host}:${ports.metrics}${controlPaths.status}`);
      assert.equal(read.status, 200);
      assert.deepEqual(parseTaskManagerStatus(await read.json()), parseTaskManagerStatus(document));
      const act = await fetch(`http://${host}:${ports.metrics}${controlPaths.savepoints}`, {
        method: 'POST',
        body: '{"id":"x"}',
      });
      assert.equal(act.status, 404);
    } finally {
      await new Promise<void>((resolve) => metrics.close(() => resolve()));
    }
  });
});
