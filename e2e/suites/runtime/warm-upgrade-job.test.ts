import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countSumProblems, keyedInput } from '../../support/committed-state.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, flowInput, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

const partitions = 4;
const keys = 16;
const name = 'wuj';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A StreamJob with spec.upgrade.warmup on the harness (issue 32): a two-stage
 * keyed count and sum, parallelism 2, input flowing throughout. A savepoint
 * upgrade starts the new version's pods beside the old ones, which stop with
 * the savepoint once the new ones are warm; the new ones continue on their
 * warm state. A second upgrade is taken back while it warms (the spec
 * reverted; its pods cannot be scheduled, so it cannot end on its own): its pods go, the running
 * version is untouched. Every key's
 * count, sum and order come out exactly once.
 */
describe('StreamJob: warm upgrades', () => {
  const suite = jobSuite('rt-warm-upgrade');

  it('upgrades on warm state, and an upgrade taken back while warming changes nothing, losing and duplicating nothing', async () => {
    const { cluster, namespace, jobs } = suite;
    const input = uniqueName('wuj-in');
    const output = uniqueName('wuj-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    await jobs.create(
      weirDevJob(name, 'keyed-count-sum', {
        args: { input, output, stages: 2 },
        storageUrl: 's3://weir/e2e-warm-upgrade',
        interval: '1s',
        spec: {
          parallelism: 2,
          taskSlots: 1,
          upgrade: { warmup: true, warmupTimeout: '3m' },
          restartStrategy: { type: 'fixed-delay', attempts: 100, delay: '1s' },
        },
      }),
    );
    const batch = 20;
    const flow = flowInput(input, (n) => keyedInput(n * batch, batch, keys), {
      pauseMs: 100,
      maxBatches: 3_000,
    });
    const podNames = async () =>
      (await cluster.core.listNamespacedPod({ namespace, labelSelector: `weir.dev/job=${name}` })).items
        .filter((p) => !p.metadata?.deletionTimestamp)
        .map((p) => p.metadata?.name ?? '')
        .sort();
    await jobs.waitFor(name, 'Running', (j) => j.status?.phase === 'Running', 180_000);

    // 1. A warm upgrade: Warming (both versions' pods), then Savepointing, Deploying, done.
    await jobs.patchSpec(name, { args: { input, output, stages: 2, version: 'v2' } });
    const steps = new Set<string>();
    const messages: string[] = [];
    let sawBoth = false;
    for (let i = 0; i < 1_200; i++) {
      const job = await jobs.get(name);
      const upgrade = job.status?.upgrade;
      if (upgrade?.step) steps.add(upgrade.step);
      if (upgrade?.message && !messages.includes(upgrade.message)) messages.push(upgrade.message);
      if (upgrade?.step === 'Warming') {
        const names = await podNames();
        sawBoth ||= ['wuj-tm-0', 'wuj-tm-1', 'wuj-tm-0-1', 'wuj-tm-1-1'].every((n) => names.includes(n));
      }
      if (job.status?.phase === 'Running' && !upgrade && (job.status.deployment?.generation ?? 0) >= 2) break;
      await sleep(200);
    }
    // Polled every 200 ms, a short step (a small savepoint) can pass unseen: the steps seen come in the table's
    // order, Warming (seconds: the new pods start) among them, and the events below show every transition.
    const order = ['Warming', 'Savepointing', 'Deploying'];
    const seen = [...steps];
    assert.ok(seen.includes('Warming'), `Warming seen (${seen.join(', ')}; ${messages.join(' | ')})`);
    assert.deepEqual(
      seen,
      order.filter((step) => steps.has(step)),
      'in the order of the state machine',
    );
    assert.ok(sawBoth, 'the old and the new version’s pods ran side by side while it warmed');
    const completed = (
      await cluster.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })
    ).items.find((e) => e.reason === 'UpgradeCompleted');
    assert.match(
      completed?.message ?? '',
      /: 2 task\(s\) on their warm state$/,
      'the stateful tasks (stage 1) restored on their warm state',
    );
    const upgraded = await jobs.get(name);
    assert.deepEqual(upgraded.status?.standby?.activeSlots, [1, 1]);
    assert.deepEqual(await podNames(), ['wuj-tm-0-1', 'wuj-tm-1-1']);

    // 2. Taken back while warming: the new pods go, the running version stays as it is. The new version's pods
    // ask for a node label no node has, so they stay Pending and the warm-up cannot end before it is taken back
    // (with pods that start, it raced the revert: on a loaded machine the warm-up won, and the upgrade ran).
    const nowhere = { 'weir.dev/e2e-no-such-node': 'true' };
    await jobs.patchSpec(name, {
      args: { input, output, stages: 2, version: 'v3' },
      taskManager: { nodeSelector: nowhere },
    });
    await jobs.waitFor(name, 'Warming', (j) => j.status?.upgrade?.step === 'Warming', 60_000);
    for (let i = 0; i < 300 && !(await podNames()).includes('wuj-tm-0'); i++) await sleep(100);
    assert.ok((await podNames()).includes('wuj-tm-0'), 'the new version’s pods were made while it warmed');
    // Taken back as a user takes back a field: the node selector removed. The job had no taskManager; the
    // patch above made one, and the API server filled in its defaults, which stay. A taskManager of only
    // defaults is the same pods as none, so this is the running version again, not a change.
    await jobs.patchSpec(name, {
      args: { input, output, stages: 2, version: 'v2' },
      taskManager: { nodeSelector: null },
    });
    const back = await jobs.waitFor(name, 'the warm-up abandoned', (j) => !j.status?.upgrade, 60_000);
    assert.equal(back.status?.run?.id, upgraded.status?.run?.id, 'the same run goes on');
    for (let i = 0; i < 600 && (await podNames()).length > 2; i++) await sleep(100);
    assert.deepEqual(await podNames(), ['wuj-tm-0-1', 'wuj-tm-1-1']);
    await jobs.waitFor(name, 'Running', (j) => j.status?.phase === 'Running', 60_000);
    // Read again once the pods settled: a revert the operator took for a change (the defaults left behind)
    // would have started an upgrade of its own just after the abandonment (a new run), which the read above
    // can miss.
    const settled = await jobs.get(name);
    assert.equal(settled.status?.run?.id, upgraded.status?.run?.id, 'the revert started no upgrade');
    assert.equal(settled.status?.upgrade, undefined);

    const produced = (await flow.finish()) * batch;
    const records = await readCommitted(output, partitions, {
      expected: produced,
      timeoutMs: 180_000,
      quietMs: 3_000,
    });
    assert.deepEqual(countSumProblems(records, produced, keys), []);
    assert.equal(records.length, produced, 'one output per input record');
    const events = await cluster.core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.name=${name}`,
    });
    const reasons = events.items.map((e) => e.reason);
    for (const reason of [
      'WarmupCompleted',
      'UpgradeSavepointCompleted',
      'UpgradeCompleted',
      'UpgradeAbandoned',
    ]) {
      assert.ok(reasons.includes(reason), `a ${reason} event (${reasons.join(', ')})`);
    }
    assert.ok(!reasons.includes('WarmRestoreFellBack'), 'no task fell back to the savepoint sections');
  });
});
