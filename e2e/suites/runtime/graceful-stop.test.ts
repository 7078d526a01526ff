import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { repositoryRoot } from '../../support/cli.ts';
import { countSumProblems, keyedInput } from '../../support/committed-state.ts';
import { needsPodCluster } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, flowInput, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { weirDevJob } from '../../support/streamjobs.ts';
import { type TaskManagerProcess, TaskManagers } from '../../support/taskmanager-process.ts';

const partitions = 4;
const keys = 40;
const token = 'graceful-stop-token';

/**
 * Issue 29, item 1: a graceful stop (SIGTERM: pod deletion, drain, rescale,
 * last-state upgrade) while a savepoint aligns between two stages. Each round
 * asks only the first TaskManager for a savepoint, so the barrier of its
 * upstream task reaches every downstream task and the other upstream task's
 * never does: the downstream tasks hold the first one's later records, and the
 * stop lands while they do, every round, not by chance.
 */
describe('TaskManager runtime: graceful stops of a two-stage job while a savepoint aligns', () => {
  const taskManagers = new TaskManagers();
  after(() => taskManagers.killAll());

  it('keeps every key’s count, sum and order through 8 stops during alignment and rescales 2 → 3 → 2, input flowing', async () => {
    const input = uniqueName('gs-in');
    const output = uniqueName('gs-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    const job = uniqueName('gs');
    const args = { WEIR_ARGS: JSON.stringify({ input, output, stages: 2 }) };
    const entry = { WEIR_ENTRY: `${repositoryRoot}/src/jobs/keyed-count-sum.ts` };
    const start = (parallelism: number, task: number): TaskManagerProcess =>
      taskManagers.start(
        {
          job,
          runId: 'r1',
          input,
          output,
          parallelism,
          tasks: [task],
          interval: '300ms',
          timeout: '5s',
          token,
        },
        { ...entry, ...args },
      );

    let produced = 0;
    let flowing = true;
    // Bounded: at most 1,500 batches of 20 records (about 150 s of input), fewer when the stops end first.
    const feeding = (async () => {
      for (let i = 0; i < 1_500 && flowing; i++) {
        await produce(input, keyedInput(produced, 20, keys));
        produced += 20;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const layouts = [2, 2, 3, 2, 2, 3, 3, 2];
    const holdingSeen: number[] = [];
    for (const [round, parallelism] of layouts.entries()) {
      const pods = Array.from({ length: parallelism }, (_, task) => start(parallelism, task));
      for (const pod of pods) {
        await pod.waitForLog(
          'a second-stage commit',
          (l) => l.msg === 'checkpoint: committed' && l.stage === 1,
          60_000,
        );
      }
      const holding = Promise.any(
        pods.map((pod) =>
          pod.waitForNextLog(
            'records held behind a barrier',
            (l) => l.msg === 'alignment: holding records behind a barrier',
            20_000,
          ),
        ),
      );
      const url = await (pods[0] as TaskManagerProcess).controlUrl();
      // Never answered with a savepoint: the other upstream tasks are not asked, and the stop ends the request.
      const asked = fetch(`${url}/v1/savepoints`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
        body: JSON.stringify({ id: `gs-${round}` }),
      }).catch(() => undefined);
      await holding;
      holdingSeen.push(round);
      for (const pod of pods) pod.signal('SIGTERM');
      for (const pod of pods) {
        assert.equal(
          await pod.exited,
          0,
          `round ${round}: ${pod.stderr} ${JSON.stringify(pod.lines.slice(-5))}`,
        );
      }
      await asked;
    }
    flowing = false;
    await feeding;
    assert.equal(holdingSeen.length, layouts.length, 'every stop landed while records were held');

    const last = [start(2, 0), start(2, 1)];
    const records = await readCommitted(output, partitions, {
      expected: produced,
      timeoutMs: 180_000,
      quietMs: 2_000,
    });
    for (const pod of last) pod.signal('SIGTERM');
    for (const pod of last) assert.equal(await pod.exited, 0, pod.exitReport());
    assert.deepEqual(countSumProblems(records, produced, keys), []);
    assert.equal(records.length, produced, 'one output per input record');
  });
});

/**
 * The same fault as users meet it: a two-stage StreamJob with periodic
 * savepoints every 2 s (so one is often aligning), its TaskManager pods
 * deleted with a grace period (kubectl delete pod, as a drain does) every
 * 3–5 s and rescaled 2 → 3 → 2, input flowing; count, sum and per-key order
 * checked over everything it wrote.
 */
describe('StreamJob: graceful pod deletions and rescales of a two-stage job with periodic savepoints', {
  skip: needsPodCluster('use its services and nodes'),
}, () => {
  const suite = jobSuite('rt-graceful');

  it('loses and duplicates nothing through 14 pod deletions and 2 rescales with input flowing', async (t) => {
    const random = seededRandom(t);
    const { cluster, namespace, jobs } = suite;
    const input = uniqueName('gsp-in');
    const output = uniqueName('gsp-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    await jobs.create(
      weirDevJob('gsp', 'keyed-count-sum', {
        args: { input, output, stages: 2 },
        storageUrl: 's3://weir/e2e-graceful',
        interval: '1s',
        spec: {
          parallelism: 2,
          taskSlots: 1,
          savepoints: { interval: '2s' },
          restartStrategy: { type: 'fixed-delay', attempts: 100, delay: '1s' },
        },
      }),
    );
    const batch = 20;
    const flow = flowInput(input, (n) => keyedInput(n * batch, batch, keys), {
      pauseMs: 100,
      maxBatches: 2_000,
    });
    const live = async () =>
      (await cluster.core.listNamespacedPod({ namespace, labelSelector: 'weir.dev/job=gsp' })).items.filter(
        (p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running',
      );
    let deleted = 0;
    for (let round = 0; round < 16; round++) {
      if (round === 5 || round === 11) {
        const parallelism = round === 5 ? 3 : 2;
        await jobs.patchSpec('gsp', { parallelism });
        await jobs.waitFor(
          'gsp',
          `parallelism ${parallelism} running`,
          (j) =>
            j.status?.phase === 'Running' && j.status?.tasks?.ready === parallelism && !j.status?.upgrade,
          180_000,
        );
        continue;
      }
      await jobs.waitFor(
        'gsp',
        'Running with every task ready',
        (j) => j.status?.phase === 'Running' && j.status?.tasks?.ready === j.status?.tasks?.total,
        180_000,
      );
      const pods = await live();
      const victim = pods[Math.floor(random() * pods.length)];
      if (!victim?.metadata?.name) continue;
      // Graceful: SIGTERM, the grace period, as a drain or a rolling node upgrade does.
      await cluster.core.deleteNamespacedPod({ name: victim.metadata.name, namespace });
      deleted++;
      await new Promise((r) => setTimeout(r, 3_000 + Math.floor(random() * 2_000)));
    }
    const produced = (await flow.finish()) * batch;
    assert.ok(deleted >= 12, `only ${deleted} pods were deleted`);
    const records = await readCommitted(output, partitions, {
      expected: produced,
      timeoutMs: 180_000,
      quietMs: 3_000,
    });
    assert.deepEqual(countSumProblems(records, produced, keys), []);
    assert.equal(records.length, produced, 'one output per input record');
    const job = await jobs.get('gsp');
    assert.ok(
      (job.status?.savepoints ?? []).some((s) => s.reason === 'periodic'),
      'periodic savepoints were taken meanwhile',
    );
  });
});
