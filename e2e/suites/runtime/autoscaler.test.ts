import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamJob } from '../../../src/api/streamjob.ts';
import { waitFor } from '../../support/cluster.ts';
import { committedCountSumProblems, keyedInput } from '../../support/committed-state.ts';
import { needsPodCluster } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, flowInput, uniqueName } from '../../support/kafka-topics.ts';
import { autoscaledCountSumJob } from '../../support/streamjobs.ts';

const keys = 48;
const partitions = 12;
/** CPU per record in the job (a busy loop): one task does at most 500 records a second. */
const workMicros = 2000;
/** Records per batch, a batch every 250 ms: 800 rec/s, about 1.6× one task's capacity and 2.3× its target. */
const batch = 200;

/**
 * The autoscaler on the harness, with a load generator: a load step above
 * one task's capacity makes it scale up (the last-state rescale, exactly
 * once), the load's end makes it scale down after scaleDownDelay, and in
 * mode recommend it only says what it would do. The figures (time to catch
 * up, decisions under a noisy load, skew) are bench/autoscaler's.
 */
describe('autoscaler: scaling on lag and busy time', {
  skip: needsPodCluster('run the jobs it scales'),
}, () => {
  const suite = jobSuite('rt-autoscaler');

  async function eventsOf(job: StreamJob): Promise<{ reason: string; message: string }[]> {
    const list = await suite.cluster.core.listNamespacedEvent({
      namespace: suite.namespace,
      fieldSelector: `involvedObject.uid=${job.metadata.uid}`,
    });
    return list.items
      .sort((a, b) => Number(a.metadata?.resourceVersion) - Number(b.metadata?.resourceVersion))
      .map((e) => ({ reason: e.reason ?? '', message: e.message ?? '' }));
  }

  async function loadedJob(name: string, mode: 'apply' | 'recommend') {
    const input = uniqueName(`${name}-in`);
    const output = uniqueName(`${name}-out`);
    await createTopics({ name: input, partitions }, { name: output, partitions });
    const created = await suite.jobs.create(
      autoscaledCountSumJob(name, {
        input,
        output,
        workMicros,
        storageUrl: 's3://weir/e2e-autoscaler',
        autoscaler: {
          mode,
          targetUtilization: 0.7,
          maxParallelism: 4,
          metricsWindow: '16s',
          stabilization: '10s',
          scaleDownDelay: '20s',
          catchUpDuration: '2m',
        },
      }),
    );
    await suite.jobs.waitFor(name, 'Running', (j) => j.status?.phase === 'Running', 120_000);
    // Bounded: at most 480 batches (two minutes).
    const flow = flowInput(input, (n) => keyedInput(n * batch, batch, keys), {
      pauseMs: 250,
      maxBatches: 480,
      tail: 0,
    });
    return { input, output, created, flow };
  }

  it('scales up to the parallelism that holds the load, then down once it ends, exactly once', async () => {
    const { output, created, flow } = await loadedJob('up', 'apply');
    const scaled = await suite.jobs.waitFor(
      'up',
      'scaled up by the autoscaler and Running',
      (j) => (j.status?.autoscaler?.parallelism ?? 1) > 1 && j.status?.phase === 'Running',
      150_000,
    );
    // The decision, in words, in its Event: the busiest task's busy share, its rate, the backlog's growth.
    const up = (await eventsOf(scaled)).find((e) => e.reason === 'AutoscalerScaleUp');
    assert.match(
      up?.message ?? '',
      /^rescaling 1 → \d tasks per stage: stage 0 busiest task s0-t0 \d+% busy at \d+ rec\/s.*; 1 → \d tasks/,
    );
    const stage = scaled.status?.autoscaler?.measurements?.stages?.[0];
    assert.ok((stage?.recordsPerBusySecond ?? 0) > 0, JSON.stringify(stage));
    // The job runs at the autoscaler's parallelism; spec.parallelism is the user's, and stays.
    assert.equal(scaled.spec.parallelism, 1);
    assert.equal(scaled.status?.tasks?.total, scaled.status?.autoscaler?.parallelism);
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    // Under load, never a scale-down.
    const underLoad = await eventsOf(scaled);
    assert.deepEqual(
      underLoad.filter((e) => e.reason === 'AutoscalerScaleDown').map((e) => e.message),
      [],
      'no scale-down while the load is on',
    );
    const batches = await flow.finish();
    const produced = batches * batch;

    // The load is over: after scaleDownDelay, one scale-down, to the smallest parallelism.
    const down = await suite.jobs.waitFor(
      'up',
      'scaled down to 1',
      (j) => j.status?.autoscaler?.parallelism === 1 && j.status?.phase === 'Running',
      180_000,
    );
    const events = await eventsOf(down);
    const ups = events.filter((e) => e.reason === 'AutoscalerScaleUp');
    const downs = events.filter((e) => e.reason === 'AutoscalerScaleDown');
    // How many decisions a load takes is a figure for bench/autoscaler.ts; here, what they do.
    assert.ok(ups.length >= 1, 'a scale-up');
    assert.ok(downs.length >= 1, events.map((e) => `${e.reason}: ${e.message}`).join('\n'));
    // To one task, with stage 0's measurement as the reason. Which words it takes depends on where the load's
    // end falls in the measuring window (idle; a backlog one task reads within catchUpDuration; or what the
    // window's latest quarter still brings in): all the policy's (docs/operating.md), so only the outcome is held.
    assert.match(
      downs.at(-1)?.message ?? '',
      /^rescaling \d+ → 1 tasks per stage: stage 0 (idle|busiest task s0-t\d+ )/,
    );
    assert.deepEqual(await committedCountSumProblems(output, partitions, produced, keys), []);
    assert.ok(created.metadata.uid);
    process.stdout.write(
      `autoscaler e2e: ${ups.length} scale-up(s): ${ups.map((e) => e.message).join(' | ')}\n`,
    );
  });

  it('mode recommend: the recommendation and its reason in status, and nothing changes', async () => {
    const { flow } = await loadedJob('rec', 'recommend');
    const recommended = await suite.jobs.waitFor(
      'rec',
      'a recommendation above 1',
      (j) => (j.status?.autoscaler?.recommendation?.parallelism ?? 1) > 1,
      120_000,
    );
    await flow.finish();
    assert.equal(recommended.status?.autoscaler?.parallelism, undefined);
    assert.equal(recommended.status?.tasks?.total, 1, 'still one task');
    const events = await eventsOf(recommended);
    assert.ok(
      events.some(
        (e) => e.reason === 'AutoscalerRecommendation' && /mode recommend, nothing changes/.test(e.message),
      ),
    );
    assert.ok(!events.some((e) => e.reason.startsWith('AutoscalerScale')));

    // While it applies, the user's parallelism is refused, naming why.
    await suite.jobs.patchSpec('rec', { autoscaler: { mode: 'apply' } });
    await assert.rejects(suite.jobs.patchSpec('rec', { parallelism: 3 }), (error: Error) =>
      /parallelism cannot change while autoscaler.enabled is true in mode apply/.test(String(error.message)),
    );
    await waitFor('the patch to settle', 5_000, async () => true);
  });
});
