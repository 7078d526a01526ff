import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { keyedInput } from '../../support/committed-state.ts';
import { jobSuite } from '../../support/job-suite.ts';
import {
  createTopics,
  kafkaBootstrap,
  produce,
  readCommitted,
  uniqueName,
} from '../../support/kafka-topics.ts';
import { podKafkaBootstrap } from '../../support/pod-services.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

/**
 * Issue 29, item 4, the operator's half: a job with spec.kafka.offsetOutOfRange
 * earliest, suspended while retention deletes records it had not read, resumes
 * from the log's start, and the reset is a Warning event on the StreamJob that
 * says what was skipped, announced once.
 */
describe('StreamJob: an offset reset by spec.kafka.offsetOutOfRange is an event', () => {
  const suite = jobSuite('rt-reset');

  it('resumed after retention ran: an OffsetReset Warning names the partition, both offsets and what was skipped', async () => {
    const input = uniqueName('reset-in');
    const output = uniqueName('reset-out');
    await createTopics({ name: input, partitions: 1 }, { name: output, partitions: 1 });
    const one = (from: number, n: number) => keyedInput(from, n, 5).map((r) => ({ ...r, partition: 0 }));
    await produce(input, one(0, 100));
    await suite.jobs.create(
      weirDevJob('reset', 'keyed-count-sum', {
        args: { input, output, version: 'v1' },
        storageUrl: `s3://weir/e2e-reset-${uniqueName('r')}`,
        interval: '1s',
        spec: {
          parallelism: 1,
          kafka: { bootstrapServers: podKafkaBootstrap(), offsetOutOfRange: 'earliest' },
        },
      }),
    );
    await suite.jobs.waitFor('reset', 'Running', (j) => j.status?.phase === 'Running', 120_000);
    await readCommitted(output, 1, { expected: 100, timeoutMs: 60_000, quietMs: 300 });
    await suite.jobs.patchSpec('reset', { state: 'suspended' });
    // Suspended, and its savepoint taken: the phase says Suspended while the TaskManager still stops with it,
    // and records produced before the stop ends may still be read (then nothing is left to skip).
    await suite.jobs.waitFor(
      'reset',
      'Suspended with its savepoint',
      (j) =>
        j.status?.phase === 'Suspended' &&
        j.status.upgrade === undefined &&
        (j.status.savepoints ?? []).some((s) => s.reason === 'suspend'),
      120_000,
    );

    // While it is suspended: 100 more records, and retention deletes everything below offset 150.
    await produce(input, one(100, 100));
    const admin = new Kafka({ brokers: [kafkaBootstrap()], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.fetchTopicMetadata({ topics: [input] });
      await admin.deleteTopicRecords({ topic: input, partitions: [{ partition: 0, offset: '150' }] });
    } finally {
      await admin.disconnect();
    }

    await suite.jobs.patchSpec('reset', { state: 'running' });
    const resumed = await suite.jobs
      .waitFor(
        'reset',
        'Running again with the reset announced',
        (j) => j.status?.phase === 'Running' && j.status.lastOffsetResetTime !== undefined,
        120_000,
      )
      .catch(async (error: unknown) => {
        // What the TaskManager and the broker say, for a failure that does not reproduce on demand.
        const log = await suite.cluster.core
          .readNamespacedPodLog({ name: 'reset-tm-0', namespace: suite.namespace })
          .catch((e: unknown) => `no log: ${(e as Error).message}`);
        const lines = String(log)
          .split('\n')
          .filter((l) => /offset|restored|savepoint|KAFKA_|error/i.test(l))
          .slice(0, 40);
        const offsets = new Kafka({ brokers: [kafkaBootstrap()], logLevel: logLevel.NOTHING }).admin();
        await offsets.connect();
        const range = await offsets.fetchTopicOffsets(input).finally(() => offsets.disconnect());
        throw new Error(
          `${(error as Error).message}\n${input} offsets: ${JSON.stringify(range)}\nTaskManager log:\n${lines.join('\n')}`,
        );
      });
    await readCommitted(output, 1, { expected: 150, timeoutMs: 60_000, quietMs: 500 });
    const events = await suite.cluster.core.listNamespacedEvent({
      namespace: suite.namespace,
      fieldSelector: `involvedObject.uid=${resumed.metadata.uid}`,
    });
    const resets = events.items.filter((e) => e.reason === 'OffsetReset');
    assert.equal(resets.length, 1, 'announced once, though every status poll reports it');
    assert.equal(resets[0]?.type, 'Warning');
    assert.equal(
      resets[0]?.message,
      `task 0: ${input}/0 offset 100 was outside the partition's log; reading from the earliest offset 150, 50 offsets skipped (spec.kafka.offsetOutOfRange: earliest)`,
    );
  });
});
