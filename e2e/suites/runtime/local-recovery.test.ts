import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { stateClaimName } from '../../../src/api/names.ts';
import { taskManagerDefaults } from '../../../src/api/streamjob.ts';
import { repositoryRoot } from '../../support/cli.ts';
import { countSumProblems, keyedInput } from '../../support/committed-state.ts';
import { killContainer, needsHarnessNodes } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, flowInput, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

const partitions = 4;
const keys = 16;
const name = 'lrj';
const pod = `${name}-tm-0`;
const storageClassName = 'weir-e2e-manual';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Local recovery (issue 32, spec.taskManager.state.persistentVolume) on the
 * harness: a two-stage keyed count and sum whose one TaskManager pod keeps
 * its state on a PersistentVolumeClaim (bound here to a hostPath volume made
 * for it; the harness has no provisioner). A graceful deletion of the pod
 * keeps the stores; the pod that comes back on the claim reuses them without
 * downloading anything. A SIGKILL leaves nothing to reuse: the next pod
 * restores from S3 and the changelog. Input flows throughout; every key's
 * count, sum and order come out exactly once.
 */
describe('StreamJob: local recovery on a persistent state volume', {
  skip: needsHarnessNodes("kill a container's process"),
}, () => {
  const suite = jobSuite('rt-local-recovery');
  const logs = process.env.WEIR_HARNESS_LOGS;
  const volumeDir = join(
    logs ? dirname(logs) : join(repositoryRoot, '.weir', 'harness'),
    'volumes',
    uniqueName('lr'),
  );
  const volumeName = uniqueName('weir-e2e-lr').toLowerCase();
  after(async () => {
    await suite.cluster.core.deletePersistentVolume({ name: volumeName }).catch(() => undefined);
    rmSync(volumeDir, { recursive: true, force: true });
  });

  it('reuses the stores a graceful stop kept, restores from S3 after a SIGKILL, losing and duplicating nothing', async () => {
    const { cluster, namespace, jobs } = suite;
    // The pod's claim binds to this volume alone (claimRef); the TaskManager's user writes to it.
    mkdirSync(volumeDir, { recursive: true });
    chmodSync(volumeDir, 0o777);
    await cluster.core.createPersistentVolume({
      body: {
        metadata: { name: volumeName },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          storageClassName,
          persistentVolumeReclaimPolicy: 'Retain',
          claimRef: { namespace, name: stateClaimName(pod) },
          hostPath: { path: volumeDir, type: 'Directory' },
        },
      },
    });
    const input = uniqueName('lrj-in');
    const output = uniqueName('lrj-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    await jobs.create(
      weirDevJob(name, 'keyed-count-sum', {
        args: { input, output, stages: 2 },
        storageUrl: 's3://weir/e2e-local-recovery',
        interval: '1s',
        spec: {
          parallelism: 1,
          taskSlots: 1,
          taskManager: {
            ...taskManagerDefaults,
            state: {
              ...taskManagerDefaults.state,
              volumeSize: '1Gi',
              persistentVolume: { storageClassName },
            },
          },
          restartStrategy: { type: 'fixed-delay', attempts: 100, delay: '1s' },
        },
      }),
    );
    const batch = 20;
    const flow = flowInput(input, (n) => keyedInput(n * batch, batch, keys), {
      pauseMs: 100,
      maxBatches: 3_000,
    });

    const running = () => jobs.waitFor(name, 'Running', (j) => j.status?.phase === 'Running', 180_000);
    const podLog = async () =>
      String(await cluster.core.readNamespacedPodLog({ name: pod, namespace, container: 'taskmanager' }));
    const uidOf = async () => (await cluster.core.readNamespacedPod({ name: pod, namespace })).metadata?.uid;
    /** Waits for the pod of that name to be another one, Ready, and its tasks to have logged their restore. */
    const cameBack = async (before: string | undefined, restored: RegExp) => {
      for (let i = 0; i < 600; i++) {
        const now = await uidOf().catch(() => undefined);
        if (now && now !== before) {
          const text = await podLog().catch(() => '');
          if ((text.match(restored) ?? []).length >= 2) return text;
        }
        await sleep(200);
      }
      assert.fail(`pod ${pod} did not come back and restore within 2 minutes`);
    };

    await running();
    const claim = await cluster.core.readNamespacedPersistentVolumeClaim({
      name: stateClaimName(pod),
      namespace,
    });
    assert.equal(claim.spec?.storageClassName, storageClassName);
    assert.equal(claim.spec?.volumeName, volumeName, 'bound to the volume made for it');
    assert.equal(claim.metadata?.ownerReferences?.[0]?.name, name, 'the claim goes with the job');
    await sleep(4_000); // commits with state on the volume
    // 1. A graceful deletion (a drain): each task's last commit, then its store kept; the next pod reuses both.
    let before = await uidOf();
    await cluster.core.deleteNamespacedPod({ name: pod, namespace });
    let text = await cameBack(before, /"msg":"restored"/g);
    assert.equal(
      (text.match(/kept store: reused/g) ?? []).length,
      2,
      `both tasks reused their store:\n${text}`,
    );
    assert.doesNotMatch(text, /restore: changelog replayed/, 'nothing replayed');
    await running();
    await sleep(3_000);

    // 2. A SIGKILL: no record is left; the next pod restores from S3 and the changelog.
    before = await uidOf();
    await killContainer(
      (await cluster.core.readNamespacedPod({ name: pod, namespace })) as V1Pod,
      'taskmanager',
    );
    text = await cameBack(before, /"msg":"restored"/g);
    assert.doesNotMatch(text, /kept store: reused/);
    await running();

    const produced = (await flow.finish()) * batch;
    const records = await readCommitted(output, partitions, {
      expected: produced,
      timeoutMs: 180_000,
      quietMs: 3_000,
    });
    assert.deepEqual(countSumProblems(records, produced, keys), []);
    assert.equal(records.length, produced, 'one output per input record');
  });
});
