import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countSumProblems, keyedInput } from '../../support/committed-state.ts';
import { needsPodCluster } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

/**
 * Without checkpoints.storage.credentialsSecret the TaskManagers take S3
 * credentials from the AWS SDK's default chain; here its first link, the
 * environment (as an IRSA web identity or instance metadata would be on AWS).
 */
describe('S3 credentials from the default chain', {
  skip: needsPodCluster('use its services and nodes'),
}, () => {
  const suite = jobSuite('rt-s3-chain');

  it('a job without credentialsSecret checkpoints with AWS_* variables from the environment', async () => {
    const input = uniqueName('chain-in');
    const output = uniqueName('chain-out');
    await createTopics({ name: input, partitions: 2 }, { name: output, partitions: 2 });
    await produce(input, keyedInput(0, 500, 10));
    const fromSecret = (key: string) => ({ secretKeyRef: { name: 'minio', key } });
    const body = weirDevJob('chain', 'keyed-count-sum', {
      args: { input, output, version: 'v1' },
      storageUrl: 's3://weir/e2e-s3-chain',
      interval: '500ms',
      spec: {
        parallelism: 2,
        restartStrategy: { type: 'none' },
        taskManager: {
          env: [
            { name: 'AWS_ACCESS_KEY_ID', valueFrom: fromSecret('accessKeyId') },
            { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: fromSecret('secretAccessKey') },
          ],
        },
      },
    }) as { spec: { checkpoints: { storage: Record<string, unknown> } } };
    delete body.spec.checkpoints.storage.credentialsSecret;
    await suite.jobs.create(body);
    // A checkpoint that completed is one that wrote to S3 with those credentials (restartStrategy none: any
    // failure to write fails the job instead).
    const done = await suite.jobs.waitFor(
      'chain',
      'a completed checkpoint',
      (j) => (j.status?.checkpoint?.latestCompleted?.id ?? 0) >= 1 || j.status?.phase === 'Failed',
      120_000,
    );
    assert.notEqual(done.status?.phase, 'Failed', JSON.stringify(done.status?.restarts?.lastFailure));
    const records = await readCommitted(output, 2, { expected: 500, timeoutMs: 60_000, quietMs: 500 });
    assert.deepEqual(countSumProblems(records, 500, 10), []);
  });
});
