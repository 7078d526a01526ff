import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  committedCountSumProblems,
  harnessTlsS3,
  keyedInput,
  runtimeStorage,
} from '../../support/committed-state.ts';
import { killContainer, needsHarnessNodes } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

const keys = 10;
const partitions = 2;

/**
 * The harness's second MinIO serves only TLS, with a certificate from the
 * harness CA: a job trusts it through checkpoints.storage.tls.ca from a
 * Secret, as a job would trust a company CA's S3 gateway.
 */
describe('checkpoints to S3 over TLS with a CA from a Secret', {
  skip: needsHarnessNodes('use its services and nodes'),
}, () => {
  const suite = jobSuite('rt-s3-tls');

  it('checkpoints and restores over TLS: exactly once through a TaskManager SIGKILL', async () => {
    await suite.cluster.core.createNamespacedSecret({
      namespace: suite.namespace,
      body: { metadata: { name: 's3-ca' }, stringData: { 'ca.crt': harnessTlsS3().tlsCa } },
    });
    const input = uniqueName('tls-in');
    const output = uniqueName('tls-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    await produce(input, keyedInput(0, 1000, keys));
    const url = `s3://weir/e2e-s3-tls-${uniqueName('r')}`;
    const body = weirDevJob('tls', 'keyed-count-sum', {
      args: { input, output, version: 'v1' },
      storageUrl: url,
      interval: '500ms',
      spec: { parallelism: partitions, restartStrategy: { type: 'fixed-delay', attempts: 5, delay: '1s' } },
    }) as { spec: { checkpoints: { storage: Record<string, unknown> } } };
    Object.assign(body.spec.checkpoints.storage, {
      endpoint: harnessTlsS3().endpoint,
      tls: { ca: { secretKeyRef: { name: 's3-ca', key: 'ca.crt' } } },
    });
    await suite.jobs.create(body);
    await suite.jobs.waitFor(
      'tls',
      'a completed checkpoint',
      (j) => (j.status?.checkpoint?.latestCompleted?.id ?? 0) >= 1,
      120_000,
    );
    await readCommitted(output, partitions, { expected: 1000, timeoutMs: 60_000, quietMs: 200 });

    const victim = await suite.cluster.core.readNamespacedPod({
      name: 'tls-tm-0',
      namespace: suite.namespace,
    });
    await produce(input, keyedInput(1000, 1000, keys));
    await killContainer(victim, 'taskmanager');
    await suite.jobs.waitFor(
      'tls',
      'a restart counted',
      (j) => (j.status?.restarts?.count ?? 0) >= 1,
      60_000,
    );
    await produce(input, keyedInput(2000, 1000, keys));
    assert.deepEqual(await committedCountSumProblems(output, partitions, 3000, keys), []);

    // The state went to the TLS server, and to nowhere else.
    const overTls = runtimeStorage(url, harnessTlsS3());
    const plain = runtimeStorage(url);
    const snapshots = (await overTls.list('')).filter((k) => k.endsWith('.snap'));
    assert.ok(snapshots.length >= partitions, `snapshots on the TLS server: ${snapshots.join(', ')}`);
    assert.deepEqual(await plain.list(''), []);
    overTls.close();
    plain.close();
  });
});
