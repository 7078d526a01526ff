import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ports } from '../../../src/api/constants.ts';
import { tokenSecretKey, tokenSecretName } from '../../../src/api/names.ts';
import { jobToken } from '../../../src/operator/control/job-token.ts';
import { kubectl, portForward } from '../../support/cli.ts';
import { type Cluster, waitFor } from '../../support/cluster.ts';
import {
  committedCounts,
  committedOffsets,
  emittedCounts,
  exactlyOnceProblems,
  expectedCounts,
  keyedInput,
  runtimeStorage,
} from '../../support/committed-state.ts';
import { killContainer, needsHarnessNodes } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import type { OperatorProcess } from '../../support/operator.ts';
import { type StreamJobs, weirDevJob } from '../../support/streamjobs.ts';

/**
 * The whole path: a StreamJob whose pods run the Weir image (`weir:dev`,
 * built from the Dockerfile) with the keyed-count job, checkpointing to
 * MinIO, one TaskManager killed mid-stream and replaced by the operator.
 */
describe('StreamJob running the real TaskManager runtime', {
  skip: needsHarnessNodes('use its services and nodes'),
}, () => {
  const suite = jobSuite('rt-streamjob');
  let cluster: Cluster;
  let namespace: string;
  let jobs: StreamJobs;
  let operator: OperatorProcess;
  let input = '';
  let output = '';

  // The local names the tests use, for what jobSuite made.
  before(() => {
    ({ cluster, namespace, jobs, operator } = suite);
  });

  it('counts exactly once across a killed TaskManager pod', async () => {
    input = uniqueName('sj-in');
    output = uniqueName('sj-out');
    await createTopics({ name: input, partitions: 4 }, { name: output, partitions: 4 });
    await produce(input, keyedInput(0, 3000, 10));
    await jobs.create(
      weirDevJob('count', 'keyed-count', {
        args: { input, output },
        storageUrl: 's3://weir/e2e-streamjob',
        interval: '500ms',
        spec: {
          parallelism: 4,
          taskSlots: 2,
          restartStrategy: { type: 'fixed-delay', attempts: 5, delay: '1s' },
        },
      }),
    );
    const running = await jobs.waitFor('count', 'Running', (j) => j.status?.phase === 'Running', 120_000);
    await readCommitted(output, 4, { expected: 3000, timeoutMs: 60_000, quietMs: 200 });

    const victim = await cluster.core.readNamespacedPod({ name: 'count-tm-1', namespace });
    await produce(input, keyedInput(3000, 3000, 10));
    await killContainer(victim, 'taskmanager');
    await jobs.waitFor('count', 'a restart counted', (j) => (j.status?.restarts?.count ?? 0) >= 1, 60_000);
    await jobs.waitFor('count', 'Running again', (j) => j.status?.phase === 'Running', 120_000);
    const records = await readCommitted(output, 4, { expected: 6000, timeoutMs: 90_000, quietMs: 2000 });
    assert.equal(records.length, 6000);
    assert.deepEqual(exactlyOnceProblems(emittedCounts(records), expectedCounts(6000, 10)), []);
    await waitFor('the committed state to reach every record', 30_000, async () => {
      const state = await committedCounts(
        `weir.${namespace}.count.${running.status?.run?.id}`,
        input,
        4,
        's3://weir/e2e-streamjob',
      );
      return [...expectedCounts(6000, 10)].every(([k, n]) => state.get(k) === n);
    });
  });

  it('reports checkpoint progress in status, the CHECKPOINT column and the operator metrics', async () => {
    const since = new Date();
    // The job is idle now: an idle task counts as up to date, so progress keeps moving without input.
    const job = await jobs.waitFor(
      'count',
      `status.checkpoint to move past ${since.toISOString()}`,
      (j) => new Date(j.status?.checkpoint?.latestCompleted?.time ?? 0) > since,
      30_000,
    );
    assert.equal(job.status?.checkpoint?.consecutiveFailures, 0);
    assert.ok((job.status?.checkpoint?.latestCompleted?.id ?? 0) >= 1, 'every task has checkpointed');

    const [header, row] = (await kubectl('get', 'sj', 'count', '-n', namespace)).trim().split('\n');
    const columns = (header ?? '').split(/\s+/);
    const checkpointAge = (row ?? '').split(/\s+/)[columns.indexOf('CHECKPOINT')];
    assert.match(checkpointAge ?? '', /^\d+s$/, `CHECKPOINT column in:\n${header}\n${row}`);

    // The gauge is read from the operator's cache of the same status; it may trail the API server by a watch
    // event, never by a checkpoint, so it reaches the time status showed.
    const statusTime = Date.parse(job.status?.checkpoint?.latestCompleted?.time ?? '') / 1000;
    const gauge = new RegExp(
      `^weir_streamjob_last_checkpoint_timestamp_seconds\\{namespace="${namespace}",streamjob="count"\\} (\\S+)$`,
      'm',
    );
    await waitFor('the last-checkpoint gauge to reach the status time', 30_000, async () => {
      const sample = gauge.exec(await operator.metrics());
      return sample && Number(sample[1]) >= statusTime;
    });

    // The job's token Secret holds the token derived from the operator's key, which is how the operator
    // reads status without being allowed to read Secrets in the job's namespace.
    const key = await cluster.core.readNamespacedSecret({ name: 'weir-operator-control-key', namespace });
    const token = await cluster.core.readNamespacedSecret({ name: 'count-weir-token', namespace });
    assert.equal(
      Buffer.from(token.data?.token ?? '', 'base64').toString(),
      jobToken(Buffer.from(key.data?.key ?? '', 'base64'), job),
    );
  });

  it("serves a TaskManager's metrics and control API through kubectl port-forward", async () => {
    // kubectl port-forward connects to localhost inside the pod: the servers must listen there too.
    const metrics = await portForward(namespace, 'count-tm-0', ports.metrics);
    try {
      const body = await (await fetch(`${metrics.url}/metrics`)).text();
      for (const task of [0, 1]) {
        assert.match(
          body,
          new RegExp(
            `^weir_checkpoints_completed_total\\{task="s0-t${task}",streamjob="count"\\} [1-9]`,
            'm',
          ),
        );
      }
    } finally {
      metrics.close();
    }
    const control = await portForward(namespace, 'count-tm-0', ports.control);
    try {
      assert.equal((await fetch(`${control.url}/healthz`)).status, 200);
      const secret = await cluster.core.readNamespacedSecret({ name: tokenSecretName('count'), namespace });
      const token = Buffer.from(secret.data?.[tokenSecretKey] ?? '', 'base64').toString();
      const response = await fetch(`${control.url}/v1/status`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 200);
      const status = (await response.json()) as { ready: boolean; tasks: unknown[] };
      assert.equal(status.ready, true);
      assert.equal(status.tasks.length, 2);
    } finally {
      control.close();
    }
  });

  it('takes a savepoint on savepointTriggerNonce, and a new run restores from it through initialSavepoint', async () => {
    await jobs.patchSpec('count', { savepointTriggerNonce: 1 });
    const saved = await jobs.waitFor(
      'count',
      'a completed savepoint in status',
      (j) => (j.status?.savepoints?.length ?? 0) === 1 && !j.status?.savepointInProgress,
      90_000,
    );
    const savepoint = saved.status?.savepoints?.[0];
    assert.ok(savepoint);
    assert.equal(savepoint.reason, 'manual');
    assert.equal(saved.status?.observedSavepointTriggerNonce, 1);
    assert.equal(saved.status?.lastSavepointFailure, undefined);
    const prefix = `${namespace}/count/savepoints/${savepoint.id}/`;
    assert.equal(savepoint.path, `s3://weir/e2e-streamjob/${prefix}`);
    // Both TaskManagers (tasks 0-1 and 2-3) stored their part of the manifest.
    const storage = runtimeStorage('s3://weir/e2e-streamjob');
    try {
      const parts = (await storage.list(prefix)).filter((k) => k.includes('_manifest'));
      assert.deepEqual(parts.map((k) => k.slice(prefix.length)).sort(), [
        '_manifest-t0-t1.json',
        '_manifest-t2-t3.json',
      ]);
    } finally {
      storage.close();
    }

    // The running job does not keep depending on the savepoint: the next checkpoint rewrites its state.
    await waitFor('the run to commit only its own snapshots after the savepoint', 30_000, async () => {
      const committed = await committedOffsets(`weir.${namespace}.count.${saved.status?.run?.id}`, input, 4);
      return committed.every((c) => c.pointer?.objectKey.includes(`/runs/${saved.status?.run?.id}/`));
    });

    // Rewind to it: a new run whose tasks restore the savepoint's state and offsets, then new input.
    const previousRun = saved.status?.run?.id;
    await jobs.patchSpec('count', { initialSavepoint: savepoint.id });
    const restored = await jobs.waitFor(
      'count',
      `Running a new run from ${savepoint.id}`,
      (j) =>
        j.status?.run?.restoredFrom === savepoint.id &&
        j.status.run.id !== previousRun &&
        j.status.phase === 'Running',
      120_000,
    );
    await produce(input, keyedInput(6000, 3000, 10));
    // Counts that go on from 600 per key prove the state came back; no record twice proves the offsets did.
    const records = await readCommitted(output, 4, { expected: 9000, timeoutMs: 90_000, quietMs: 2000 });
    assert.deepEqual(exactlyOnceProblems(emittedCounts(records), expectedCounts(9000, 10)), []);
    const pods = await cluster.core.listNamespacedPod({ namespace, labelSelector: 'weir.dev/job=count' });
    for (const pod of pods.items.filter((p) => !p.metadata?.deletionTimestamp)) {
      assert.equal(pod.metadata?.labels?.['weir.dev/run'], restored.status?.run?.id);
      const env = pod.spec?.containers[0]?.env ?? [];
      assert.equal(env.find((e) => e.name === 'WEIR_RESTORE_SAVEPOINT')?.value, savepoint.id);
    }
  });
});
