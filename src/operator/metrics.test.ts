import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTaskMetrics } from '../runtime/metrics.ts';
import { createMetrics } from './metrics.ts';

/** The lines of one metric in the exposition text. */
const lines = (text: string, name: string) =>
  text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('metrics users can join', () => {
  it('the operator names each job by namespace and streamjob (job is the scrape job’s), with the window alerts compare to', async () => {
    const metrics = createMetrics({
      jobsByPhase: () => ({ Running: 1 }),
      checkpoints: () => [
        {
          namespace: 'shop',
          job: 'orders',
          checkpoint: { latestCompleted: { id: 3, time: '2026-12-07T02:00:00Z' }, consecutiveFailures: 2 },
          progressWindowSeconds: 70,
          lastSavepointFailure: '2026-12-07T01:00:00Z',
        },
      ],
    });
    metrics.taskFailures.inc({ namespace: 'shop', streamjob: 'orders' });
    const text = await metrics.registry.metrics();
    const at = Date.parse('2026-12-07T02:00:00Z') / 1000;
    assert.deepEqual(lines(text, 'weir_streamjob_last_checkpoint_timestamp_seconds'), [
      `weir_streamjob_last_checkpoint_timestamp_seconds{namespace="shop",streamjob="orders"} ${at}`,
    ]);
    assert.deepEqual(lines(text, 'weir_streamjob_checkpoint_consecutive_failures'), [
      'weir_streamjob_checkpoint_consecutive_failures{namespace="shop",streamjob="orders"} 2',
    ]);
    assert.deepEqual(lines(text, 'weir_streamjob_progress_window_seconds'), [
      'weir_streamjob_progress_window_seconds{namespace="shop",streamjob="orders"} 70',
    ]);
    assert.deepEqual(lines(text, 'weir_streamjob_last_savepoint_failure_timestamp_seconds'), [
      `weir_streamjob_last_savepoint_failure_timestamp_seconds{namespace="shop",streamjob="orders"} ${at - 3600}`,
    ]);
    assert.deepEqual(lines(text, 'weir_task_failures_total'), [
      'weir_task_failures_total{namespace="shop",streamjob="orders"} 1',
    ]);
    assert.ok(!/[{,]job="/.test(text), 'no series has a job label');
    assert.equal(
      lines(text, 'process_cpu_seconds_total').length,
      1,
      'Node’s process metrics under their usual names',
    );
  });

  it('a TaskManager’s series all carry streamjob, and task labels read s<stage>-t<index> in every stage', async () => {
    const metrics = createTaskMetrics(
      {
        lagOf: () =>
          new Map([
            ['s0-t1', 5],
            ['s1-t1', 2],
          ]),
      },
      'orders',
    );
    const text = await metrics.registry.metrics();
    assert.deepEqual(lines(text, 'weir_task_lag_records'), [
      'weir_task_lag_records{task="s0-t1",streamjob="orders"} 5',
      'weir_task_lag_records{task="s1-t1",streamjob="orders"} 2',
    ]);
    const samples = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    assert.ok(samples.length > 20);
    assert.deepEqual(
      samples.filter((l) => !l.includes('streamjob="orders"')),
      [],
      'every sample names its job',
    );
    assert.equal(lines(text, 'nodejs_heap_size_used_bytes').length, 1);
  });

  it('a TaskManager reports its watermark lag and late records, per task', async () => {
    const metrics = createTaskMetrics(
      { lagOf: () => new Map(), watermarkLagOf: () => new Map([['s1-t0', 4.5]]) },
      'orders',
    );
    metrics.lateRecords.inc({ task: 's1-t0' }, 3);
    const text = await metrics.registry.metrics();
    assert.deepEqual(lines(text, 'weir_task_watermark_lag_seconds'), [
      'weir_task_watermark_lag_seconds{task="s1-t0",streamjob="orders"} 4.5',
    ]);
    assert.deepEqual(lines(text, 'weir_task_late_records_total'), [
      'weir_task_late_records_total{task="s1-t0",streamjob="orders"} 3',
    ]);
  });
});

describe('operator metrics at scrape time', () => {
  it('a scrape builds the job list once for every per-job gauge, and the next scrape sees the jobs as they are then', async () => {
    let built = 0;
    let lastCheckpointId = 1;
    const metrics = createMetrics({
      jobsByPhase: () => ({ Running: 1 }),
      checkpoints: () => {
        built++;
        return [
          {
            namespace: 'shop',
            job: 'orders',
            checkpoint: {
              latestCompleted: { id: lastCheckpointId, time: '2026-12-07T02:00:00Z' },
              consecutiveFailures: lastCheckpointId,
            },
            progressWindowSeconds: 70,
          },
        ];
      },
    });
    await metrics.registry.metrics();
    assert.equal(built, 1);
    await new Promise((resolve) => setImmediate(resolve));
    lastCheckpointId = 4;
    const text = await metrics.registry.metrics();
    assert.equal(built, 2);
    assert.deepEqual(lines(text, 'weir_streamjob_checkpoint_consecutive_failures'), [
      'weir_streamjob_checkpoint_consecutive_failures{namespace="shop",streamjob="orders"} 4',
    ]);
  });
});
