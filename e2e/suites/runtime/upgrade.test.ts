import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { StreamJob } from '../../../src/api/streamjob.ts';
import { KafkaAdmin } from '../../../src/kafka/admin.ts';
import { readManifest } from '../../../src/runtime/checkpoint/savepoint-manifest.ts';
import { type Cluster, waitFor } from '../../support/cluster.ts';
import {
  countSumProblems,
  exactlyOnceProblems,
  keyedInput,
  multisetDiff,
  runtimeStorage,
} from '../../support/committed-state.ts';
import { needsPodCluster } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import {
  createTopics,
  flowInput,
  kafkaBootstrap,
  produce,
  readCommitted,
  uniqueName,
} from '../../support/kafka-topics.ts';
import { type OperatorProcess, startNamespaceOperator } from '../../support/operator.ts';
import { type StreamJobs, weirDevJob } from '../../support/streamjobs.ts';
import { emittedWordCounts, expectedWordCounts, totalCount, wordLines } from '../../support/word-input.ts';

const keys = 10;
const partitions = 4;

/**
 * Input that keeps flowing while a test changes the job: batches of `size`
 * records, `pauseMs` apart, until the test finishes it (bounded: 400
 * batches), continuing the numbering of keyedInput so the expected counts and
 * sums follow.
 */
function flow(topic: string, from: number, size: number, pauseMs: number) {
  const input = flowInput(topic, (n) => keyedInput(from + n * size, size, keys), {
    pauseMs,
    maxBatches: 400,
  });
  return {
    /** Ends the flow (a few batches later); resolves to how many records exist in all. */
    async finish(): Promise<number> {
      return from + (await input.finish()) * size;
    },
  };
}

/**
 * Upgrades of a job running the real runtime in `weir:dev` pods, with input
 * flowing throughout: output is checked per key for count and sum, so a record
 * lost, duplicated or applied twice to state across the upgrade shows.
 */
describe('StreamJob upgrades with the real runtime', {
  skip: needsPodCluster('use its services and nodes'),
}, () => {
  const suite = jobSuite('rt-upgrade');
  let cluster: Cluster;
  let namespace: string;
  let jobs: StreamJobs;
  let operator: OperatorProcess;
  const storageUrl = 's3://weir/e2e-upgrade';

  // The local names the tests use, for what jobSuite made.
  before(() => {
    ({ cluster, namespace, jobs, operator } = suite);
  });

  /** Reads the job's committed output once `produced` records are in; every key's count and sum exactly once. */
  async function assertCountSumExactlyOnce(output: string, produced: number) {
    const records = await readCommitted(output, partitions, {
      expected: produced,
      timeoutMs: 120_000,
      quietMs: 2000,
    });
    assert.deepEqual(countSumProblems(records, produced, keys), []);
    return records;
  }

  /** Waits for an upgrade to end: nothing in status.upgrade, and `generation` recorded as the last stable spec. */
  function upgradeCompleted(name: string, generation: number, what: string): Promise<StreamJob> {
    return jobs.waitFor(
      name,
      what,
      (j) => j.status?.upgrade === undefined && j.status?.lastStableSpec?.generation === generation,
      180_000,
    );
  }

  /** A job of `job` (src/jobs) in weir:dev pods: 2 tasks on 2 pods, checkpoints every 500 ms, 2 restarts. */
  function createJob(
    name: string,
    job: string,
    args: Record<string, unknown>,
    spec: Record<string, unknown> = {},
  ) {
    return jobs.create(
      weirDevJob(name, job, {
        args,
        storageUrl,
        interval: '500ms',
        spec: {
          parallelism: 2,
          taskSlots: 1,
          restartStrategy: { type: 'fixed-delay', attempts: 2, delay: '1s' },
          ...spec,
        },
      }),
    );
  }

  function firstStable(name: string, timeoutMs: number): Promise<StreamJob> {
    return jobs.waitFor(
      name,
      'the first deployment to be stable',
      (j) => j.status?.lastStableSpec?.generation === 1,
      timeoutMs,
    );
  }

  async function countSumJob(name: string, spec: Record<string, unknown> = {}) {
    const input = uniqueName(`${name}-in`);
    const output = uniqueName(`${name}-out`);
    await createTopics({ name: input, partitions }, { name: output, partitions });
    await produce(input, keyedInput(0, 1000, keys));
    await createJob(name, 'keyed-count-sum', { input, output, version: 'v1' }, spec);
    await readCommitted(output, partitions, { expected: 1000, timeoutMs: 90_000, quietMs: 200 });
    const stable = await firstStable(name, 90_000);
    return { input, output, stable };
  }

  async function eventsOf(job: StreamJob): Promise<string[]> {
    const list = await cluster.core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.uid=${job.metadata.uid}`,
    });
    // In creation order: timestamps have whole seconds and names are random, but the operator creates events
    // one after another, and each creation takes a later etcd revision (resourceVersion).
    return list.items
      .sort((a, b) => Number(a.metadata?.resourceVersion) - Number(b.metadata?.resourceVersion))
      .map((e) => e.reason ?? '');
  }

  it('savepoint upgrade of args with input flowing: a new run restored from exactly the complete savepoint, count and sum exactly once', async () => {
    const { input, output, stable } = await countSumJob('sp');
    const oldRun = stable.status?.run?.id;
    const input$ = flow(input, 1000, 30, 100);
    await jobs.patchSpec('sp', { args: { input, output, version: 'v2' } });

    const upgraded = await upgradeCompleted('sp', 2, 'the upgrade to complete (generation 2 stable)');
    const produced = await input$.finish();
    const savepoint = upgraded.status?.savepoints?.find((s) => s.reason === 'upgrade');
    assert.ok(
      savepoint,
      `an upgrade savepoint in status.savepoints: ${JSON.stringify(upgraded.status?.savepoints)}`,
    );
    assert.notEqual(upgraded.status?.run?.id, oldRun, 'a new run');
    assert.equal(upgraded.status?.run?.restoredFrom, savepoint.id, 'restored from exactly that savepoint');

    // Complete in S3: every task of the old run wrote its part, and the new pods were created after it.
    const manifest = await readManifest(runtimeStorage(storageUrl), namespace, 'sp', savepoint.id);
    assert.equal(manifest.runId, oldRun);
    assert.equal(manifest.partitions.length, partitions);
    const pods = await cluster.core.listNamespacedPod({ namespace, labelSelector: 'weir.dev/job=sp' });
    for (const pod of pods.items) {
      assert.equal(pod.metadata?.labels?.['weir.dev/run'], upgraded.status?.run?.id);
      const created = new Date(pod.metadata?.creationTimestamp ?? 0).getTime();
      // creationTimestamp has whole seconds; the manifest's time has milliseconds.
      assert.ok(
        created >= Math.floor(new Date(manifest.createdAt).getTime() / 1000) * 1000,
        `${pod.metadata?.name} created after the savepoint`,
      );
    }
    const reasons = await eventsOf(upgraded);
    const order = ['UpgradeStarted', 'UpgradeSavepointCompleted', 'UpgradeCompleted'].map((r) =>
      reasons.indexOf(r),
    );
    assert.ok(
      order.every((i, n) => i >= 0 && (n === 0 || i > (order[n - 1] ?? -1))),
      `events in order: ${reasons.join(', ')}`,
    );

    const records = await assertCountSumExactlyOnce(output, produced);
    // Every key switched version once, from v1 to v2, and never back.
    const versions = new Map<string, string[]>();
    for (const r of records) {
      const { key, version } = JSON.parse(r.value ?? '{}') as { key: string; version: string };
      const seen = versions.get(key) ?? [];
      if (seen.at(-1) !== version) versions.set(key, [...seen, version]);
    }
    for (const [key, seq] of versions) assert.deepEqual(seq, ['v1', 'v2'], key);
  });

  it('savepoint upgrade of a two-stage word count with lines flowing: every word counted exactly once across it, the old run’s repartition topic deleted', async () => {
    const input = uniqueName('wc-in');
    const output = uniqueName('wc-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    await produce(input, wordLines(0, 500));
    await createJob('wc', 'word-count', { input, output });
    const stable = await firstStable('wc', 120_000);
    const oldRun = stable.status?.run?.id ?? '';
    const flowing = flowInput(input, (n) => wordLines(500 + n * 20, 20), { pauseMs: 100, maxBatches: 400 });
    await jobs.patchSpec('wc', { args: { input, output, release: '2' } });
    const upgraded = await upgradeCompleted('wc', 2, 'the upgrade to complete (generation 2 stable)');
    const lines = 500 + (await flowing.finish()) * 20;
    const savepoint = upgraded.status?.savepoints?.find((s) => s.reason === 'upgrade');
    assert.ok(savepoint, `an upgrade savepoint, not a fallback: ${(await eventsOf(upgraded)).join(', ')}`);
    const manifest = await readManifest(runtimeStorage(storageUrl), namespace, 'wc', savepoint.id);
    assert.equal(
      manifest.partitions.length,
      2 * partitions,
      'the source partitions and the repartition topic’s',
    );
    const expected = expectedWordCounts(lines);
    const records = await readCommitted(output, partitions, {
      expected: totalCount(expected),
      timeoutMs: 120_000,
      quietMs: 2000,
    });
    assert.deepEqual(exactlyOnceProblems(emittedWordCounts(records), expected), []);
    const admin = new KafkaAdmin(kafkaBootstrap());
    try {
      const topics = await admin.listTopics();
      assert.ok(
        !topics.includes(`weir.${namespace}.wc.${oldRun}.by-word`),
        'the old run’s repartition topic is gone',
      );
      assert.ok(topics.includes(`weir.${namespace}.wc.${upgraded.status?.run?.id}.by-word`));
    } finally {
      admin.disconnect();
    }
  });

  it('an upgrade to an entry that does not load is rolled back, exactly once, and a following good change upgrades', async () => {
    const { input, output } = await countSumJob('rb', {
      upgrade: { stableTimeout: '40s' },
      restartStrategy: { type: 'fixed-delay', attempts: 1, delay: '1s' },
    });
    const input$ = flow(input, 1000, 20, 200);
    await jobs.patchSpec('rb', { entry: '/opt/weir/dist/jobs/no-such-job.js' });
    const rolledBack = await jobs.waitFor(
      'rb',
      'the broken version to be rolled back',
      (j) => j.status?.upgrade?.step === 'RolledBack' && j.status?.phase === 'Running',
      180_000,
    );
    assert.equal(rolledBack.status?.deployment?.generation, 1);
    assert.equal(
      rolledBack.spec.entry,
      '/opt/weir/dist/jobs/no-such-job.js',
      'the user spec is not rewritten',
    );
    const degraded = rolledBack.status?.conditions?.find((c) => c.type === 'Degraded');
    assert.equal(degraded?.reason, 'RolledBack');
    assert.ok((await eventsOf(rolledBack)).includes('RolledBack'));

    await jobs.patchSpec('rb', {
      entry: '/opt/weir/dist/jobs/keyed-count-sum.js',
      args: { input, output, version: 'v3' },
    });
    await upgradeCompleted('rb', 3, 'the good change to upgrade (generation 3 stable)');
    const produced = await input$.finish();
    await assertCountSumExactlyOnce(output, produced);
  });

  it('last-state and stateless upgrades: the same run continues its counts; stateless starts them over', async () => {
    const { input, output, stable } = await countSumJob('modes', { upgradeMode: 'last-state' });
    const run = stable.status?.run?.id;
    await jobs.patchSpec('modes', { args: { input, output, version: 'v2' } });
    const lastState = await upgradeCompleted('modes', 2, 'the last-state upgrade to complete');
    assert.equal(lastState.status?.run?.id, run, 'last-state continues the run');
    await produce(input, keyedInput(1000, 500, keys));
    await assertCountSumExactlyOnce(output, 1500);

    // stateless: a new run with no state; it reads the topic from the start (no committed offsets), so every
    // key's count starts over at 1.
    await jobs.patchSpec('modes', { upgradeMode: 'stateless', args: { input, output, version: 'v3' } });
    const fresh = await upgradeCompleted('modes', 3, 'the stateless upgrade to complete');
    assert.notEqual(fresh.status?.run?.id, run);
    await waitFor('v3 output for every key', 120_000, async () => {
      const all = await readCommitted(output, partitions, {
        expected: 1500,
        timeoutMs: 10_000,
        quietMs: 500,
      });
      const v3 = all.filter((r) => (JSON.parse(r.value ?? '{}') as { version: string }).version === 'v3');
      return v3.length === 1500 ? v3 : undefined;
    });
    const all = await readCommitted(output, partitions, { expected: 3000, timeoutMs: 30_000, quietMs: 1000 });
    const v3 = all.filter((r) => (JSON.parse(r.value ?? '{}') as { version: string }).version === 'v3');
    assert.deepEqual(
      countSumProblems(v3, 1500, keys),
      [],
      'the stateless run counted the whole input once, from zero',
    );
  });

  const restartOperator = async (signal: NodeJS.Signals) => {
    await operator.stop(signal);
    // The suite's after hook stops whichever operator runs last.
    operator = suite.operator = await startNamespaceOperator(namespace, { WEIR_LOG_LEVEL: 'debug' });
  };

  it('suspend stops with a savepoint and leaves no pod; an operator restart changes nothing; resume continues exactly once', async () => {
    const { input, output } = await countSumJob('sus');
    await jobs.patchSpec('sus', { state: 'suspended' });
    const suspended = await jobs.waitFor(
      'sus',
      'Suspended with a savepoint',
      (j) =>
        j.status?.phase === 'Suspended' &&
        j.status?.upgrade === undefined &&
        (j.status?.savepoints ?? []).some((s) => s.reason === 'suspend'),
      120_000,
    );
    const savepoint = suspended.status?.savepoints?.find((s) => s.reason === 'suspend');
    assert.ok(savepoint);
    assert.equal(suspended.status?.run?.restoredFrom, savepoint.id, 'the resume will restore from it');
    await readManifest(runtimeStorage(storageUrl), namespace, 'sus', savepoint.id);
    await waitFor('no pod', 60_000, async () => {
      const pods = await cluster.core.listNamespacedPod({ namespace, labelSelector: 'weir.dev/job=sus' });
      return pods.items.length === 0;
    });

    await restartOperator('SIGTERM');
    await operator.waitForLog(
      'the new operator to reconcile the suspended job',
      (l) => l.msg === 'reconciled' && l.job === `${namespace}/sus` && l.failed === false,
    );
    const after = await jobs.get('sus');
    assert.equal(after.status?.phase, 'Suspended');
    assert.deepEqual(after.status?.savepoints, suspended.status?.savepoints);
    const pods = await cluster.core.listNamespacedPod({ namespace, labelSelector: 'weir.dev/job=sus' });
    assert.equal(pods.items.length, 0);

    await produce(input, keyedInput(1000, 500, keys));
    await jobs.patchSpec('sus', { state: 'running' });
    await jobs.waitFor('sus', 'Running again', (j) => j.status?.phase === 'Running', 120_000);
    await assertCountSumExactlyOnce(output, 1500);
  });

  it('an operator SIGKILLed during the upgrade steps finishes the same upgrade once, from the recorded savepoint', async (t) => {
    const { input, output } = await countSumJob('opkill');
    const input$ = flow(input, 1000, 10, 100);
    await jobs.patchSpec('opkill', { args: { input, output, version: 'v2' } });
    const killedIn: string[] = [];
    for (const step of ['Savepointing', 'Deploying']) {
      const seen = await jobs.waitFor(
        'opkill',
        `the upgrade at ${step} or later`,
        (j) => j.status?.upgrade !== undefined && (step === 'Savepointing' || j.status.upgrade.step === step),
        120_000,
      );
      killedIn.push(seen.status?.upgrade?.step ?? '');
      await restartOperator('SIGKILL');
    }
    t.diagnostic(`operator killed with status.upgrade.step ${killedIn.join(', then ')}`);
    assert.ok(killedIn.includes('Deploying'), `killed during Deploying: ${killedIn.join(', ')}`);
    const done = await upgradeCompleted('opkill', 2, 'the upgrade to complete');
    const upgradeSavepoints = (done.status?.savepoints ?? []).filter((s) => s.reason === 'upgrade');
    assert.equal(upgradeSavepoints.length, 1, JSON.stringify(done.status?.savepoints));
    assert.equal(done.status?.run?.restoredFrom, upgradeSavepoints[0]?.id);
    const produced = await input$.finish();
    await assertCountSumExactlyOnce(output, produced);
  });

  it('rescale 2 → 1 → 3 with input flowing: last-state in the same run, count and sum continue for every key', async () => {
    const { input, stable } = await countSumJob('scale');
    const run = stable.status?.run?.id;
    const input$ = flow(input, 1000, 10, 100);
    for (const [parallelism, generation] of [
      [1, 2],
      [3, 3],
    ] as const) {
      await jobs.patchSpec('scale', { parallelism });
      const done = await upgradeCompleted('scale', generation, `parallelism ${parallelism} stable`);
      assert.equal(done.status?.run?.id, run, 'a rescale continues the run');
      assert.equal(done.status?.tasks?.ready, parallelism);
      const pods = await cluster.core.listNamespacedPod({ namespace, labelSelector: 'weir.dev/job=scale' });
      assert.equal(pods.items.filter((p) => !p.metadata?.deletionTimestamp).length, parallelism);
    }
    const produced = await input$.finish();
    const output = stable.spec.args?.output as string;
    await assertCountSumExactlyOnce(output, produced);
  });
  it('savepoint upgrade of a join after a keyBy (clicks by user re-keyed by ad × impressions by ad) with both sides flowing: every pair exactly once', async () => {
    const topics = {
      clicks: uniqueName('jn-clicks'),
      impressions: uniqueName('jn-imps'),
      output: uniqueName('jn-out'),
      late: uniqueName('jn-late'),
    };
    await createTopics(
      { name: topics.clicks, partitions },
      { name: topics.impressions, partitions: 3 },
      { name: topics.output, partitions },
      { name: topics.late, partitions },
    );
    // Batch n of each side: event times in [n s, n s + 1 s) after a day ago, ads a0–a4; impressions in any partition.
    const origin = Math.floor((Date.now() - 86_400_000) / 1_000) * 1_000;
    type Event = { id: string; ad: string; time: number };
    const click = (n: number, i: number): Event => ({
      id: `c${n}-${i}`,
      ad: `a${(n * 3 + i) % 5}`,
      time: origin + n * 1_000 + ((i * 97) % 1_000),
    });
    const impression = (n: number, i: number): Event => ({
      id: `i${n}-${i}`,
      ad: `a${(n + i * 2) % 5}`,
      time: origin + n * 1_000 + ((i * 131) % 1_000),
    });
    const perBatch = 8;
    const clicksOf = (n: number) =>
      Array.from({ length: perBatch }, (_, i) => ({
        key: `u${(n * 7 + i) % 8}`,
        value: JSON.stringify(click(n, i)),
      }));
    const impressionsOf = (n: number) =>
      Array.from({ length: perBatch }, (_, i) => {
        const e = impression(n, i);
        return { key: e.ad, value: JSON.stringify(e), partition: (n + i) % 3 };
      });
    const args = { ...topics, by: 'ad', withinMs: 10_000, graceMs: 5_000, idleMs: 600_000 };
    await createJob('jn', 'click-attribution', args);
    await firstStable('jn', 120_000);
    const clicks$ = flowInput(topics.clicks, clicksOf, { pauseMs: 100, maxBatches: 400 });
    const impressions$ = flowInput(topics.impressions, impressionsOf, { pauseMs: 100, maxBatches: 400 });
    await readCommitted(topics.output, partitions, { expected: 20, timeoutMs: 90_000, quietMs: 0 });
    await jobs.patchSpec('jn', { args: { ...args, release: '2' } });
    const upgraded = await upgradeCompleted('jn', 2, 'the upgrade to complete (generation 2 stable)');
    assert.ok(
      upgraded.status?.savepoints?.some((sp) => sp.reason === 'upgrade'),
      `an upgrade savepoint, not a fallback: ${(await eventsOf(upgraded)).join(', ')}`,
    );
    const [clickBatches, impressionBatches] = await Promise.all([clicks$.finish(), impressions$.finish()]);
    // Far ahead on every partition of both sides: the watermark passes every window before it.
    const end = origin + 1_000 * 1_000;
    const flush = (id: string) => JSON.stringify({ id, ad: 'flush', time: end });
    await produce(
      topics.clicks,
      Array.from({ length: partitions }, (_, p) => ({
        key: 'flush',
        value: flush(`flush-c${p}`),
        partition: p,
      })),
    );
    await produce(
      topics.impressions,
      [0, 1, 2].map((p) => ({ key: 'flush', value: flush(`flush-i${p}`), partition: p })),
    );
    const clicks = Array.from({ length: clickBatches }, (_, n) =>
      Array.from({ length: perBatch }, (_, i) => click(n, i)),
    ).flat();
    const impressions = Array.from({ length: impressionBatches }, (_, n) =>
      Array.from({ length: perBatch }, (_, i) => impression(n, i)),
    ).flat();
    const expected = clicks.flatMap((c) =>
      impressions
        .filter((i) => i.ad === c.ad && i.time >= c.time - 10_000 && i.time <= c.time)
        .map((i) => `${c.id}×${i.id}`),
    );
    const records = await readCommitted(topics.output, partitions, {
      expected: expected.length,
      timeoutMs: 180_000,
      quietMs: 3_000,
    });
    const emitted = records.flatMap((r) => {
      const a = JSON.parse(r.value ?? '{}') as { click: string; impression: string };
      return a.click.startsWith('flush') ? [] : [`${a.click}×${a.impression}`];
    });
    assert.ok(expected.length > 200, `the inputs call for ${expected.length} pairs`);
    assert.deepEqual(multisetDiff(emitted, expected), { missing: [], extra: [] }, 'every pair exactly once');
    const late = await readCommitted(topics.late, partitions, {
      expected: 0,
      timeoutMs: 2_000,
      quietMs: 500,
    });
    assert.equal(late.length, 0, 'no input was late');
  });
});
