import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { snapshotFinalizer } from '../../../src/api/snapshot.ts';
import { httpStatus } from '../../../src/operator/errors.ts';
import { waitFor } from '../../support/cluster.ts';
import { committedCountSumProblems, keyedInput, runtimeStorage } from '../../support/committed-state.ts';
import { needsPodCluster } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { StreamJobSnapshots } from '../../support/snapshots.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

const keys = 10;
const partitions = 4;

/**
 * Savepoints as StreamJobSnapshot resources, on the harness: a user's
 * snapshot taken and restored by name into another job (exactly once), the
 * records Weir makes of its own savepoints and deletes with their objects when
 * the history limits drop them, a deletion that deletes the objects, one held
 * while another job names the snapshot, and the refusals a user can meet.
 */
describe('StreamJobSnapshot: savepoints as resources', {
  skip: needsPodCluster('run the jobs it snapshots'),
}, () => {
  const suite = jobSuite('rt-snapshots');
  const storageUrl = 's3://weir/e2e-snapshots';
  let snapshots: StreamJobSnapshots;

  /** The savepoint ids with at least one object in S3 under the job's savepoints folder. */
  async function savepointsInS3(job: string): Promise<string[]> {
    const found = await runtimeStorage(storageUrl).list(`${suite.namespace}/${job}/savepoints/`);
    return [...new Set(found.map((k) => k.split('/')[3] ?? ''))].sort();
  }

  async function eventReasons(uid: string | undefined): Promise<string[]> {
    const list = await suite.cluster.core.listNamespacedEvent({
      namespace: suite.namespace,
      fieldSelector: `involvedObject.uid=${uid}`,
    });
    return list.items.map((e) => `${e.reason}: ${e.message}`);
  }

  const completed = (name: string) =>
    snapshots.waitFor(name, 'Completed', (s) => s?.status?.state === 'Completed', 120_000);

  it('taken, recorded, limited, restored by name exactly once, held while named, deleted with its objects', async () => {
    snapshots = new StreamJobSnapshots(suite.cluster, suite.namespace);
    const input = uniqueName('snap-in');
    const output = uniqueName('snap-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    await produce(input, keyedInput(0, 1000, keys));
    await suite.jobs.create(
      weirDevJob('sn', 'keyed-count-sum', {
        args: { input, output, version: 'v1' },
        storageUrl,
        interval: '500ms',
        spec: { parallelism: 2, taskSlots: 1, savepoints: { historyMaxCount: 1 } },
      }),
    );
    const job = await suite.jobs.waitFor('sn', 'Running', (j) => j.status?.phase === 'Running', 120_000);
    await readCommitted(output, partitions, { expected: 1000, timeoutMs: 90_000, quietMs: 200 });

    // A user's snapshot: the operator adds its finalizer, takes the savepoint, and says where it is.
    await snapshots.create('sn-keep', { jobName: 'sn' });
    const keep = await completed('sn-keep');
    const keepId = keep?.status?.savepointId ?? '';
    assert.equal(keep?.status?.reason, 'manual');
    assert.equal(keep?.status?.jobUid, job.metadata.uid);
    assert.match(
      keep?.status?.path ?? '',
      new RegExp(`^${storageUrl}/${suite.namespace}/sn/savepoints/${keepId}/$`),
    );
    assert.ok(keep?.metadata.finalizers?.includes(snapshotFinalizer));
    assert.ok((await savepointsInS3('sn')).includes(keepId));
    const keepEvents = await eventReasons(keep?.metadata.uid);
    assert.ok(
      keepEvents.some((e) => e.startsWith('SnapshotCompleted: savepoint complete: s3://')),
      keepEvents.join('\n'),
    );

    // Weir's own savepoints get records; with historyMaxCount 1, the older one's record goes with its objects.
    // The user's snapshot is kept whatever the limit.
    const manualRecords = async () =>
      (await snapshots.list()).filter(
        (s) => s.spec.savepointId?.startsWith('manual-') && !s.metadata.deletionTimestamp,
      );
    await suite.jobs.patchSpec('sn', { savepointTriggerNonce: 1 });
    const first = await waitFor('the record of the first nonce savepoint', 90_000, async () => {
      const records = await manualRecords();
      return records.length === 1 && records[0]?.status?.state === 'Completed' ? records[0] : undefined;
    });
    const firstId = first.spec.savepointId ?? '';
    assert.equal(first.metadata.name, `sn-${firstId}`);
    await suite.jobs.patchSpec('sn', { savepointTriggerNonce: 2 });
    await snapshots.waitFor(
      first.metadata.name ?? '',
      'deleted by the history limit',
      (s) => s === undefined,
    );
    const [second] = await manualRecords();
    assert.ok(second && second.spec.savepointId !== firstId, 'the second record stays');
    const inS3 = await waitFor('the first savepoint deleted from S3', 60_000, async () => {
      const ids = await savepointsInS3('sn');
      return ids.includes(firstId) ? undefined : ids;
    });
    assert.deepEqual(inS3, [keepId, second.spec.savepointId].sort());

    // A user's snapshot deleted: the resource goes once its savepoint has left the history for the
    // job's disposal queue, and a TaskManager of the running job deletes its objects from S3. The
    // resource's deletion does not wait for the objects (a suspended job would hold it for ever), so
    // the objects are awaited on their own.
    await snapshots.create('sn-drop', { jobName: 'sn' });
    const dropId = (await completed('sn-drop'))?.status?.savepointId ?? '';
    assert.ok((await savepointsInS3('sn')).includes(dropId));
    await snapshots.delete('sn-drop');
    await snapshots.waitFor('sn-drop', 'gone', (s) => s === undefined);
    await waitFor('its objects gone from S3', 60_000, async () =>
      (await savepointsInS3('sn')).includes(dropId) ? undefined : true,
    );
    assert.ok((await savepointsInS3('sn')).includes(keepId), 'the other snapshot is untouched');

    // The job stops (suspended, with nothing new read since sn-keep); another job starts from sn-keep by name
    // and continues every key's count and sum on the same topics.
    await suite.jobs.patchSpec('sn', { state: 'suspended' });
    await suite.jobs.waitFor(
      'sn',
      'Suspended',
      (j) => j.status?.phase === 'Suspended' && !j.status?.upgrade,
      120_000,
    );
    await suite.jobs.create(
      weirDevJob('sn-b', 'keyed-count-sum', {
        args: { input, output, version: 'v2' },
        storageUrl,
        interval: '500ms',
        spec: { parallelism: 2, taskSlots: 1, initialSnapshot: 'sn-keep' },
      }),
    );
    await suite.jobs.waitFor(
      'sn-b',
      'Running, restored from sn-keep',
      (j) => j.status?.phase === 'Running' && j.status?.run?.restoredFrom === keep?.status?.path,
      120_000,
    );
    await produce(input, keyedInput(1000, 500, keys));
    assert.deepEqual(await committedCountSumProblems(output, partitions, 1500, keys), []);

    // Named by sn-b, sn-keep is not deleted, and says why; its objects stay.
    await snapshots.delete('sn-keep');
    const held = await snapshots.waitFor('sn-keep', 'held, saying why', (s) =>
      /StreamJob sn-b names it in spec.initialSnapshot/.test(s?.status?.message ?? ''),
    );
    assert.ok(held?.metadata.deletionTimestamp);
    assert.ok((await savepointsInS3('sn')).includes(keepId));

    // sn-b gone, nothing names it: the resource goes at once, and its objects wait in sn's disposal queue for a
    // running TaskManager of sn (it is suspended), which deletes them once sn runs again.
    await suite.jobs.delete('sn-b');
    await snapshots.waitFor('sn-keep', 'gone', (s) => s === undefined);
    const queued = await suite.jobs.get('sn');
    assert.ok(
      queued.status?.savepointsToDispose?.some((q) => q.id === keepId),
      JSON.stringify(queued.status?.savepointsToDispose),
    );
    assert.ok((await savepointsInS3('sn')).includes(keepId));
    await suite.jobs.patchSpec('sn', { state: 'running' });
    await waitFor('sn-keep deleted from S3 by sn, running again', 120_000, async () =>
      (await savepointsInS3('sn')).includes(keepId) ? undefined : true,
    );

    // Its job deleted, a record is no job's: deleting it lets it go at once, and an Event says where its
    // objects stay (only a TaskManager of the job holds the credentials to delete them).
    await suite.jobs.delete('sn');
    await waitFor('sn gone', 120_000, async () => {
      try {
        await suite.jobs.get('sn');
        return undefined;
      } catch (error) {
        return httpStatus(error) === 404 ? true : undefined;
      }
    });
    const orphan = (await snapshots.list()).find(
      (s) => s.spec.jobName === 'sn' && s.status?.state === 'Completed',
    );
    assert.ok(orphan, 'the records of sn outlive it');
    await snapshots.delete(orphan.metadata.name ?? '');
    await snapshots.waitFor(orphan.metadata.name ?? '', 'gone', (s) => s === undefined);
    // The Event is recorded as the finalizer goes, and may reach the API server just after the resource left.
    const keptEvent = /^SnapshotObjectsKept: StreamJob \S+\/sn does not exist: .* stay at s3:\/\//;
    let kept: string[] = [];
    await waitFor('the SnapshotObjectsKept Event', 30_000, async () => {
      kept = await eventReasons(orphan.metadata.uid);
      return kept.some((e) => keptEvent.test(e)) ? true : undefined;
    }).catch(() => undefined);
    assert.ok(
      kept.some((e) => keptEvent.test(e)),
      kept.join('\n'),
    );
  });

  it('refuses what cannot be: a snapshot of a job that does not exist, a job named after a missing snapshot', async () => {
    snapshots ??= new StreamJobSnapshots(suite.cluster, suite.namespace);
    await snapshots.create('ghost-snap', { jobName: 'ghost' });
    const ghost = await snapshots.waitFor('ghost-snap', 'Failed', (s) => s?.status?.state === 'Failed');
    assert.equal(ghost?.status?.error, `StreamJob ${suite.namespace}/ghost does not exist`);

    const input = uniqueName('wait-in');
    await createTopics({ name: input, partitions: 1 });
    await suite.jobs.create(
      weirDevJob('waits', 'keyed-count-sum', {
        args: { input, output: input, version: 'v1' },
        storageUrl,
        interval: '500ms',
        spec: { parallelism: 1, taskSlots: 1, initialSnapshot: 'not-there' },
      }),
    );
    const waiting = await suite.jobs.waitFor(
      'waits',
      'waiting for its initial snapshot',
      (j) => j.status?.conditions?.some((c) => c.reason === 'InitialSnapshotNotReady') ?? false,
    );
    assert.equal(
      waiting.status?.conditions?.find((c) => c.type === 'Ready')?.message,
      'StreamJobSnapshot not-there (spec.initialSnapshot) does not exist in this namespace',
    );
    const pods = await suite.cluster.core.listNamespacedPod({
      namespace: suite.namespace,
      labelSelector: 'weir.dev/job=waits',
    });
    assert.equal(pods.items.length, 0, 'no pod starts without the state it is to start from');

    // Both fields at once are refused by the API server, naming them.
    await assert.rejects(
      suite.jobs.create(
        weirDevJob('both', 'keyed-count-sum', {
          args: { input, output: input, version: 'v1' },
          storageUrl,
          interval: '500ms',
          spec: { initialSnapshot: 'a', initialSavepoint: 'b' },
        }),
      ),
      (error: Error) =>
        /set initialSavepoint or initialSnapshot, not both/.test(
          String((error as { body?: unknown }).body ?? error.message),
        ),
    );
  });
});
