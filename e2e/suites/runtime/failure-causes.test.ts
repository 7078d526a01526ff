import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { StreamJob } from '../../../src/api/streamjob.ts';
import { requireEnv, waitFor } from '../../support/cluster.ts';
import { needsPodCluster } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, uniqueName } from '../../support/kafka-topics.ts';
import { podS3Endpoint, podS3TlsEndpoint } from '../../support/pod-services.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

/**
 * A job that cannot run says why in its own status and events: the
 * TaskManager's exit cause (its termination message), or the scheduler's
 * verdict, without anyone reading pod logs. Each test has a job of its own,
 * so they run side by side.
 */
describe('failures name their cause in status and events', {
  skip: needsPodCluster('use its services and nodes'),
  concurrency: true,
}, () => {
  const suite = jobSuite('rt-causes');
  let input: string;
  let output: string;

  before(async () => {
    input = uniqueName('causes-in');
    output = uniqueName('causes-out');
    await createTopics({ name: input, partitions: 2 }, { name: output, partitions: 2 });
  });

  function job(name: string, spec: Record<string, unknown>) {
    return suite.jobs.create(
      weirDevJob(name, 'keyed-count-sum', {
        args: { input, output, version: 'v1' },
        storageUrl: 's3://weir/e2e-causes',
        interval: '1s',
        spec: { parallelism: 1, restartStrategy: { type: 'none' }, ...spec },
      }),
    );
  }

  async function warnings(j: StreamJob): Promise<{ reason: string; message: string }[]> {
    const list = await suite.cluster.core.listNamespacedEvent({
      namespace: suite.namespace,
      fieldSelector: `involvedObject.uid=${j.metadata.uid}`,
    });
    return list.items
      .filter((e) => e.type === 'Warning')
      .map((e) => ({ reason: e.reason ?? '', message: e.message ?? '' }));
  }

  async function failedWith(name: string, cause: RegExp) {
    const failed = await suite.jobs.waitFor(name, 'Failed', (j) => j.status?.phase === 'Failed', 120_000);
    const ready = failed.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'RestartStrategyExhausted');
    assert.match(ready?.message ?? '', cause, 'the Ready condition names the cause');
    assert.match(
      failed.status?.restarts?.lastFailure?.message ?? '',
      cause,
      'so does status.restarts.lastFailure',
    );
    // The operator writes status before it records the pass's events: wait for them, do not race them.
    for (const reason of ['TaskFailed', 'RestartStrategyExhausted']) {
      await waitFor(`a ${reason} event naming ${cause}`, 30_000, async () =>
        (await warnings(failed)).find((e) => e.reason === reason && cause.test(e.message)),
      );
    }
  }

  it('an entry module that does not exist', async () => {
    await job('bad-entry', { entry: '/opt/weir/dist/jobs/no-such-job.js' });
    await failedWith(
      'bad-entry',
      /JOB_MODULE_LOAD_FAILED: cannot load job module \/opt\/weir\/dist\/jobs\/no-such-job\.js/,
    );
  });

  it('bootstrap servers that do not answer', async () => {
    // The pod's own loopback: nothing listens there, so the connection is refused at once.
    await job('no-broker', { kafka: { bootstrapServers: '127.0.0.1:1' } });
    await failedWith('no-broker', /KAFKA_UNREACHABLE: .*no broker of 127\.0\.0\.1:1 answered/);
  });

  /** Checkpoints at the harness MinIO with `storage` changed. */
  function storageSpec(storage: Record<string, unknown>) {
    return {
      checkpoints: {
        storage: {
          url: 's3://weir/e2e-causes',
          endpoint: podS3Endpoint(),
          credentialsSecret: { name: 'minio' },
          ...storage,
        },
        interval: '1s',
      },
    };
  }

  it('S3 credentials that are wrong', async () => {
    await suite.cluster.core.createNamespacedSecret({
      namespace: suite.namespace,
      body: {
        metadata: { name: 'minio-wrong' },
        stringData: { accessKeyId: requireEnv('WEIR_S3_ACCESS_KEY'), secretAccessKey: 'not-the-secret' },
      },
    });
    await job('s3-denied', storageSpec({ credentialsSecret: { name: 'minio-wrong' } }));
    await failedWith('s3-denied', /S3_ACCESS_DENIED: list s3:\/\/weir\/e2e-causes\/: access denied/);
  });

  it('an S3 credentials Secret that does not exist (a pod that would have waited in ContainerCreating)', async () => {
    await job('s3-no-secret', storageSpec({ credentialsSecret: { name: 'no-such-secret' } }));
    await failedWith(
      's3-no-secret',
      /CREDENTIAL_MISSING: the Secret "no-such-secret" has no key "accessKeyId", or does not exist in the job's namespace/,
    );
  });

  it('an S3 bucket that does not exist', async () => {
    await job('s3-no-bucket', storageSpec({ url: 's3://no-such-bucket-weir/e2e-causes' }));
    await failedWith(
      's3-no-bucket',
      /S3_BUCKET_MISSING: list s3:\/\/no-such-bucket-weir\/e2e-causes\/: the bucket does not exist/,
    );
  });

  it('an S3 endpoint whose certificate is not trusted (no tls.ca)', async () => {
    await job('s3-untrusted', storageSpec({ endpoint: podS3TlsEndpoint() }));
    await failedWith(
      's3-untrusted',
      /S3_TLS_FAILED: .*certificate is not trusted \(spec\.checkpoints\.storage\.tls\.ca\)/,
    );
  });

  it('a resource request no node can hold', async () => {
    const created = await job('too-big', { taskManager: { resources: { requests: { cpu: '1000' } } } });
    const stuck = await suite.jobs.waitFor(
      'too-big',
      'the Ready condition to name the scheduler’s verdict',
      (j) => j.status?.conditions?.find((c) => c.type === 'Ready')?.reason === 'Unschedulable',
      60_000,
    );
    const ready = stuck.status?.conditions?.find((c) => c.type === 'Ready');
    assert.match(ready?.message ?? '', /pod too-big-tm-0: Unschedulable: .*Insufficient cpu/);
    assert.equal(stuck.status?.phase, 'Deploying');
    await waitFor('an Unschedulable event', 30_000, async () =>
      (await warnings(created)).find(
        (e) => e.reason === 'Unschedulable' && /Insufficient cpu/.test(e.message),
      ),
    );
  });
});
