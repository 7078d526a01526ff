import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { taskManagerPodName } from '../../../src/api/names.ts';
import { countSumProblems, keyedInput } from '../../support/committed-state.ts';
import { killContainer, needsHarnessNodes } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, flowInput, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

const partitions = 4;
const keys = 16;
const name = 'sbj';

/**
 * A StreamJob with spec.standby.replicas 1 on the harness (issue 32): a
 * two-stage keyed count and sum, parallelism 2, input flowing throughout.
 * Its active TaskManagers are killed (SIGKILL), deleted gracefully, and
 * killed again while a promotion is under way; the job is then upgraded.
 * After each failure the standby of the failed pod's index takes over and a
 * new standby is made; every key's count, sum and order come out exactly once.
 */
describe('StreamJob: standby pods promoted on failure', {
  skip: needsHarnessNodes("kill a container's process"),
}, () => {
  const suite = jobSuite('rt-standby');

  it('promotes standbys through kills, a graceful deletion and a kill during a promotion, then upgrades, losing and duplicating nothing', async () => {
    const { cluster, namespace, jobs } = suite;
    const input = uniqueName('sbj-in');
    const output = uniqueName('sbj-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    await jobs.create(
      weirDevJob(name, 'keyed-count-sum', {
        args: { input, output, stages: 2 },
        storageUrl: 's3://weir/e2e-standby',
        interval: '1s',
        spec: {
          parallelism: 2,
          taskSlots: 1,
          standby: { replicas: 1 },
          restartStrategy: { type: 'fixed-delay', attempts: 100, delay: '1s' },
        },
      }),
    );
    const batch = 20;
    const flow = flowInput(input, (n) => keyedInput(n * batch, batch, keys), {
      pauseMs: 100,
      maxBatches: 3_000,
    });

    const pods = async () =>
      new Map(
        (
          await cluster.core.listNamespacedPod({ namespace, labelSelector: `weir.dev/job=${name}` })
        ).items.map((p) => [p.metadata?.name ?? '', p] as const),
      );
    const activeName = (slots: number[] | undefined, index: number) =>
      taskManagerPodName(name, index, slots?.[index] ?? 0);
    /** Every task running, and a Ready standby for every index. */
    const steady = async (what: string) => {
      for (let i = 0; i < 600; i++) {
        const job = await jobs.get(name);
        const slots = job.status?.standby?.activeSlots;
        const all = await pods();
        const standbysReady = [0, 1].every((index) =>
          [...all.values()].some(
            (p) =>
              p.metadata?.labels?.['weir.dev/pod-index'] === String(index) &&
              p.metadata?.name !== activeName(slots, index) &&
              !p.metadata?.deletionTimestamp &&
              p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
          ),
        );
        if (
          job.status?.phase === 'Running' &&
          job.status.tasks?.ready === 2 &&
          standbysReady &&
          !job.status.upgrade
        )
          return job;
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.fail(`not steady (${what}) within 3 minutes`);
    };
    const promotedFor = async (index: number, from: number | undefined) => {
      for (let i = 0; i < 400; i++) {
        const slot = (await jobs.get(name)).status?.standby?.activeSlots?.[index];
        if (slot !== undefined && slot !== from) return slot;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.fail(`no standby of index ${index} was promoted within 20 s`);
    };

    // 1. SIGKILL of an active TaskManager: its standby takes over.
    let job = await steady('first');
    let slots = job.status?.standby?.activeSlots;
    await killContainer((await pods()).get(activeName(slots, 0)) as V1Pod, 'taskmanager');
    const first = await promotedFor(0, slots?.[0] ?? 0);
    assert.equal(first, 1);

    // 2. A graceful deletion (a drain): its last commit, then its standby takes over.
    job = await steady('after the kill');
    slots = job.status?.standby?.activeSlots;
    await cluster.core.deleteNamespacedPod({ name: activeName(slots, 1), namespace });
    await promotedFor(1, slots?.[1] ?? 0);

    // 3. A kill during a promotion: the promoted pod dies before it restored; the index restarts as without standbys.
    job = await steady('after the deletion');
    slots = job.status?.standby?.activeSlots;
    const victim = activeName(slots, 0);
    await killContainer((await pods()).get(victim) as V1Pod, 'taskmanager');
    const again = await promotedFor(0, slots?.[0]);
    await killContainer((await pods()).get(activeName([again, slots?.[1] ?? 0], 0)) as V1Pod, 'taskmanager');

    // 4. A savepoint upgrade: the standbys are replaced with the new version's.
    job = await steady('after the kill during a promotion');
    assert.ok((job.status?.restarts?.count ?? 0) >= 4, 'each failure counts for the restart strategy');
    await jobs.patchSpec(name, {
      args: { input, output, stages: 2, version: 'v2' },
    });
    await jobs.waitFor(
      name,
      'the upgrade done',
      (j) => j.status?.phase === 'Running' && !j.status.upgrade,
      240_000,
    );
    await steady('after the upgrade');

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
    const promotions = events.items.filter((e) => e.reason === 'StandbyPromoted').length;
    assert.ok(promotions >= 3, `${promotions} StandbyPromoted events`);
  });
});
