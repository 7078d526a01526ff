import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { ports } from '../../api/constants.ts';
import type { StreamJob } from '../../api/streamjob.ts';
import { endWatches, startControlServer } from '../../runtime/control/control-server.ts';
import type { ObservedPod } from '../decide/observation.ts';
import { testingSpec } from '../decide/testing-spec.ts';
import { jobToken } from './job-token.ts';
import { TaskManagerWatch } from './taskmanager-watch.ts';

// A loopback address of its own: the control port is fixed (8081), and the contract test holds 127.0.0.2.
const host = '127.0.0.3';
const key = Buffer.alloc(32, 7);
const job: StreamJob = {
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'StreamJob',
  metadata: { name: 'wc', namespace: 'ns', uid: 'job-uid' },
  spec: testingSpec({ standby: { replicas: 1 } }),
};
const pod: ObservedPod = {
  name: 'wc-tm-0',
  uid: 'pod-uid',
  index: 0,
  restartEpoch: 0,
  specHash: 'h',
  runId: 'r',
  phase: 'Running',
  ready: true,
  deleting: false,
  podIP: host,
};

function serve(): Promise<Server> {
  return startControlServer({
    host,
    port: ports.control,
    token: jobToken(key, job),
    handlers: {
      ready: () => true,
      noProgress: () => undefined,
      status: () => ({ job: 'wc', runId: 'r', ready: true, tasks: [] }),
      savepoint: async () => undefined,
      stop: async () => undefined,
      disposeSavepoint: async () => undefined,
      promote: () => ({ promoted: false, warm: 0 }),
    },
  });
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    endWatches(server);
    server.close(() => resolve());
    server.closeAllConnections();
  });

describe('TaskManagerWatch: the operator sees a TaskManager process end', () => {
  it('reports the pod gone once its control port refuses connections after serving the watch', async () => {
    const server = await serve();
    let told: () => void = () => undefined;
    const gone = new Promise<void>((resolve) => {
      told = resolve;
    });
    const watch = new TaskManagerWatch({ key, onGone: () => told(), log: pino({ level: 'silent' }) });
    try {
      assert.deepEqual([...watch.sync(job, [pod])], []);
      // Served: the watch is open. The process "dies": its responses end and nothing listens on the port.
      await new Promise((r) => setTimeout(r, 200));
      await close(server);
      await gone;
      assert.deepEqual([...watch.sync(job, [pod])], ['pod-uid']);
      assert.deepEqual([...watch.sync(job, [])], [], 'a pod no longer watched is forgotten');
    } finally {
      watch.closeAll();
    }
  });

  it('a watch cut while the port still answers is opened again, and nothing is reported', async () => {
    const server = await serve();
    let goneCalls = 0;
    const watch = new TaskManagerWatch({ key, onGone: () => goneCalls++, log: pino({ level: 'silent' }) });
    try {
      watch.sync(job, [pod]);
      await new Promise((r) => setTimeout(r, 200));
      endWatches(server); // the connection ends, the server still listens (a proxy or a network blip)
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(goneCalls, 0);
      assert.deepEqual([...watch.sync(job, [pod])], []);
    } finally {
      watch.closeAll();
      await close(server);
    }
  });

  it('a pod that never served (its process still starting) is not reported gone', async () => {
    let goneCalls = 0;
    const watch = new TaskManagerWatch({ key, onGone: () => goneCalls++, log: pino({ level: 'silent' }) });
    try {
      watch.sync(job, [pod]);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(goneCalls, 0);
    } finally {
      watch.closeAll();
    }
  });
});
