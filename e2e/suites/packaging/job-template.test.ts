import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { needsHarnessNodes } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

const hour = 3_600_000;
/** An hour boundary, so the windows' starts are known. */
const start = 480_000 * hour;

/**
 * A user's job, end to end: examples/job-template (a project outside the
 * repository, built against the @weir-dev/sdk package) in the image
 * scripts/build-image.sh --test-images builds FROM Weir's image as the
 * template's README says, run as a StreamJob, suspended with a savepoint and
 * resumed from it.
 */
describe('the job template, built on the SDK package, runs as a StreamJob', {
  skip: needsHarnessNodes('run its image'),
}, () => {
  const suite = jobSuite('pkg-template');

  it('sums revenue per customer per hour, exactly once, through a suspend and a resume', async () => {
    const t = { input: uniqueName('orders'), output: uniqueName('revenue'), late: uniqueName('late') };
    await createTopics(
      { name: t.input, partitions: 1 },
      { name: t.output, partitions: 2 },
      { name: t.late, partitions: 1 },
    );
    const order = (id: string, customer: string, amount: number, at: number) => ({
      key: id,
      value: JSON.stringify({ customer, amount, at: start + at }),
    });
    const job = weirDevJob('revenue', 'unused', {
      args: t,
      storageUrl: 's3://weir/e2e-job-template',
      interval: '1s',
      spec: { image: 'weir-test/revenue:e2e', entry: '/opt/weir/jobs/revenue/job.js', parallelism: 1 },
    });
    await suite.jobs.create(job);
    await suite.jobs.waitFor('revenue', 'Running', (j) => j.status?.phase === 'Running', 120_000);

    // Hour 0's orders, then one two hours on: the watermark passes hour 0.
    await produce(t.input, [
      order('o1', 'ada', 10, 1_000),
      order('o2', 'bob', 5, 2_000),
      order('o3', 'ada', 7, 50_000),
    ]);
    await produce(t.input, [order('o4', 'carol', 1, 2 * hour + 1_000)]);
    const sums = (records: { key: string | null; value: string | null }[]) =>
      records.map((r) => {
        const v = JSON.parse(r.value ?? '{}') as { start: number; result: number };
        return `${r.key}@${(v.start - start) / hour}=${v.result}`;
      });
    const first = await readCommitted(t.output, 2, { expected: 2, timeoutMs: 90_000, quietMs: 500 });
    assert.deepEqual(sums(first).sort(), ['ada@0=17', 'bob@0=5']);

    await suite.jobs.patchSpec('revenue', { state: 'suspended' });
    await suite.jobs.waitFor(
      'revenue',
      'Suspended with its savepoint',
      (j) =>
        j.status?.phase === 'Suspended' && (j.status.savepoints ?? []).some((s) => s.reason === 'suspend'),
      120_000,
    );
    await suite.jobs.patchSpec('revenue', { state: 'running' });
    await suite.jobs.waitFor('revenue', 'Running again', (j) => j.status?.phase === 'Running', 120_000);

    // Carol's hour 2 began before the suspend: its sum comes from the savepoint's state plus this order.
    await produce(t.input, [order('o5', 'carol', 4, 2 * hour + 2_000), order('o6', 'dave', 2, 4 * hour)]);
    const all = await readCommitted(t.output, 2, { expected: 3, timeoutMs: 90_000, quietMs: 500 });
    assert.deepEqual(sums(all).sort(), ['ada@0=17', 'bob@0=5', 'carol@2=5']);
  });
});
