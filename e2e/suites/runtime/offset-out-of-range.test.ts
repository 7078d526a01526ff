import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { emittedCounts, keyedInput } from '../../support/committed-state.ts';
import {
  createTopics,
  kafkaBootstrap,
  produce,
  readCommitted,
  uniqueName,
} from '../../support/kafka-topics.ts';
import { TaskManagers } from '../../support/taskmanager-process.ts';

/**
 * Issue 29, item 4: retention ran while a job was stopped (as when it is
 * suspended), so its committed offset is below the log's start. The task must
 * fail naming what happened instead of silently skipping the deleted records;
 * with spec.kafka.offsetOutOfRange earliest it goes on from the log's start,
 * says so and counts it.
 */
describe('TaskManager runtime: a committed offset below the log start (retention ran while stopped)', () => {
  const taskManagers = new TaskManagers();
  after(() => taskManagers.killAll());

  it('fails with KAFKA_OFFSET_OUT_OF_RANGE naming the offset and the log’s range; with earliest, resumes from the log start and counts the reset', async () => {
    const input = uniqueName('oor-in');
    const output = uniqueName('oor-out');
    await createTopics({ name: input, partitions: 1 }, { name: output, partitions: 1 });
    const settings = { job: 'oor', runId: uniqueName('r'), input, output, parallelism: 1, tasks: [0] };
    await produce(
      input,
      keyedInput(0, 100, 5).map((r) => ({ ...r, partition: 0 })),
    );
    const first = taskManagers.start(settings);
    await readCommitted(output, 1, { expected: 100, timeoutMs: 60_000, quietMs: 300 });
    first.signal('SIGTERM');
    assert.equal(await first.exited, 0, first.exitReport());

    // While it is stopped: 100 more records, and retention deletes everything below offset 150.
    await produce(
      input,
      keyedInput(100, 100, 5).map((r) => ({ ...r, partition: 0 })),
    );
    const kafka = new Kafka({ brokers: [kafkaBootstrap()], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      // kafkajs finds the partition's leader in metadata it has loaded (else KafkaJSTopicMetadataNotLoaded).
      await admin.fetchTopicMetadata({ topics: [input] });
      await admin.deleteTopicRecords({ topic: input, partitions: [{ partition: 0, offset: '150' }] });
    } finally {
      await admin.disconnect();
    }

    const refused = taskManagers.start(settings);
    const ended = await Promise.race([
      refused.exited,
      new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 60_000)),
    ]);
    if (ended === 'running') refused.signal('SIGKILL');
    assert.equal(
      ended,
      1,
      'the task fails instead of skipping records (still running after 60 s: it skipped them)',
    );
    const failure = refused.lines.find((l) => l.code === 'KAFKA_OFFSET_OUT_OF_RANGE');
    assert.match(
      String(failure?.err && (failure.err as { message?: string }).message),
      new RegExp(
        `${input}/0: the committed offset 100 is outside the partition's log \\(150 to 200\\), before the log starts`,
      ),
      JSON.stringify(refused.lines.filter((l) => l.level >= 50)),
    );

    const resumed = taskManagers.start(settings, { WEIR_KAFKA_OFFSET_OUT_OF_RANGE: 'earliest' });
    const records = await readCommitted(output, 1, { expected: 150, timeoutMs: 60_000, quietMs: 1_000 });
    const reset = await resumed.waitForLog('the reset', (l) => l.code === 'KAFKA_OFFSET_RESET');
    assert.deepEqual([reset.from, reset.to, reset.logStart, reset.logEnd], [100, 150, 150, 200]);
    resumed.signal('SIGTERM');
    assert.equal(await resumed.exited, 0, resumed.exitReport());
    // Each key: 20 counts before the stop, then the 10 records left after the deleted ones.
    for (const counts of emittedCounts(records).values()) {
      assert.deepEqual(
        counts,
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
    }
  });
});
