import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finalSavepointFinalizer } from '../../../src/api/constants.ts';
import { parseSavepointRef } from '../../../src/api/savepoint-ref.ts';
import type { StreamJob } from '../../../src/api/streamjob.ts';
import { httpStatus } from '../../../src/operator/errors.ts';
import { readManifest } from '../../../src/runtime/checkpoint/savepoint-manifest.ts';
import { waitFor } from '../../support/cluster.ts';
import { committedCountSumProblems, keyedInput, runtimeStorage } from '../../support/committed-state.ts';
import { needsPodCluster } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

const keys = 10;
const partitions = 4;

/**
 * Savepoints the operator takes and disposes of on its own: periodic ones with
 * a bounded history (what leaves status leaves S3), and a final one when a job
 * is deleted, which another job then restores by its s3:// path.
 */
describe('StreamJob savepoint history, periodic and final savepoints', {
  skip: needsPodCluster('use its services and nodes'),
}, () => {
  const suite = jobSuite('rt-savepoints');
  const storageUrl = 's3://weir/e2e-savepoints';

  async function topics(name: string) {
    const input = uniqueName(`${name}-in`);
    const output = uniqueName(`${name}-out`);
    await createTopics({ name: input, partitions }, { name: output, partitions });
    return { input, output };
  }

  function countSumJob(name: string, args: Record<string, unknown>, spec: Record<string, unknown>) {
    return suite.jobs.create(
      weirDevJob(name, 'keyed-count-sum', {
        args,
        storageUrl,
        interval: '500ms',
        spec: { parallelism: 2, taskSlots: 1, ...spec },
      }),
    );
  }

  async function eventsOf(uid: string | undefined) {
    const list = await suite.cluster.core.listNamespacedEvent({
      namespace: suite.namespace,
      fieldSelector: `involvedObject.uid=${uid}`,
    });
    return list.items.sort(
      (a, b) => Number(a.metadata?.resourceVersion) - Number(b.metadata?.resourceVersion),
    );
  }

  /** The savepoint ids with at least one object in S3 under the job's savepoints folder. */
  async function savepointsInS3(job: string): Promise<string[]> {
    const keys = await runtimeStorage(storageUrl).list(`${suite.namespace}/${job}/savepoints/`);
    return [...new Set(keys.map((k) => k.split('/')[3] ?? ''))].sort();
  }

  it('periodic savepoints with a history of 3: three in status, the same three in S3, the dropped ones deleted', async () => {
    const { input, output } = await topics('pd');
    await produce(input, keyedInput(0, 1000, keys));
    await countSumJob(
      'pd',
      { input, output, version: 'v1' },
      { savepoints: { interval: '2s', historyMaxCount: 3 } },
    );
    let produced = 1000;
    // Input keeps coming while savepoints are taken and dropped (bounded: 40 batches).
    const dropped = await waitFor(
      'a periodic savepoint dropped from the history and deleted',
      150_000,
      async () => {
        if (produced < 1000 + 40 * 25) {
          await produce(input, keyedInput(produced, 25, keys));
          produced += 25;
        }
        const job = await suite.jobs.get('pd');
        const reasons = (await eventsOf(job.metadata.uid)).map((e) => e.reason);
        return reasons.includes('SavepointDisposed') ? job : undefined;
      },
    );
    assert.ok((dropped.status?.savepoints?.length ?? 0) <= 3, JSON.stringify(dropped.status?.savepoints));

    // Periodic savepoints off; once nothing is in flight and nothing waits for deletion, status and S3 agree.
    await suite.jobs.patchSpec('pd', { savepoints: { interval: null } });
    const settled = await suite.jobs.waitFor(
      'pd',
      'no savepoint in progress and none waiting for deletion',
      (j) =>
        j.status?.savepointInProgress === undefined &&
        j.status?.savepointsToDispose === undefined &&
        j.status?.observedGeneration === j.metadata.generation,
      90_000,
    );
    const history = settled.status?.savepoints ?? [];
    assert.equal(history.length, 3, JSON.stringify(history));
    assert.ok(history.every((s) => s.reason === 'periodic'));
    assert.deepEqual(await savepointsInS3('pd'), history.map((s) => s.id).sort());
    for (const s of history) {
      const manifest = await readManifest(runtimeStorage(storageUrl), suite.namespace, 'pd', s.id);
      assert.equal(manifest.partitions.length, partitions, `${s.id} is complete`);
    }
    assert.deepEqual(await committedCountSumProblems(output, partitions, produced, keys), []);
  });

  it('deleting a job with savepoints.onDeletion stops it with a final savepoint; another job restores it by its s3:// path, exactly once', async () => {
    const { input, output } = await topics('fin');
    await produce(input, keyedInput(0, 1000, keys));
    await countSumJob('fin', { input, output, version: 'v1' }, { savepoints: { onDeletion: true } });
    const running = await suite.jobs.waitFor(
      'fin',
      'Running with the final-savepoint finalizer',
      (j) => j.status?.phase === 'Running' && (j.metadata.finalizers ?? []).includes(finalSavepointFinalizer),
      90_000,
    );
    await readCommitted(output, partitions, { expected: 1000, timeoutMs: 90_000, quietMs: 200 });
    await produce(input, keyedInput(1000, 500, keys));

    await suite.jobs.delete('fin');
    await waitFor('the StreamJob to be gone', 120_000, async () => {
      try {
        await suite.jobs.get('fin');
        return undefined;
      } catch (error) {
        return httpStatus(error) === 404 ? true : undefined;
      }
    });
    const events = await eventsOf(running.metadata.uid);
    const completed = events.find((e) => e.reason === 'FinalSavepointCompleted');
    assert.ok(completed, `a FinalSavepointCompleted event: ${events.map((e) => e.reason).join(', ')}`);
    assert.deepEqual(
      events.filter((e) => e.type === 'Warning').map((e) => `${e.reason}: ${e.message}`),
      [],
      'no warning: the job was released once, after its final savepoint',
    );
    const path = /complete: (s3:\/\/\S+\/);/.exec(completed.message ?? '')?.[1];
    assert.ok(path, completed.message);
    const ref = parseSavepointRef(path);
    assert.equal(ref.kind, 'url');
    const manifest = await readManifest(runtimeStorage(storageUrl), suite.namespace, 'fin', ref.id);
    assert.equal(manifest.runId, running.status?.run?.id);
    assert.equal(manifest.partitions.length, partitions);

    // Another job, named otherwise, starts from that savepoint and continues every key's count and sum.
    await produce(input, keyedInput(1500, 500, keys));
    const restored: StreamJob = await countSumJob(
      'fin-next',
      { input, output, version: 'v2' },
      { initialSavepoint: path },
    );
    const next = await suite.jobs.waitFor(
      'fin-next',
      'Running, restored from the final savepoint',
      (j) => j.status?.phase === 'Running' && j.status?.run?.restoredFrom === path,
      120_000,
    );
    assert.equal(next.metadata.uid, restored.metadata.uid);
    await produce(input, keyedInput(2000, 500, keys));
    assert.deepEqual(await committedCountSumProblems(output, partitions, 2500, keys), []);
  });
});
