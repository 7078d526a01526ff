import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import keyedCountSum from '../../jobs/keyed-count-sum.ts';
import type { ConsumedRecord } from '../../kafka/assigned-consumer.ts';
import type { JobDefinition } from '../../sdk/pipeline.ts';
import { FilesystemStorage } from '../../storage/filesystem-storage.ts';
import { loadTaskManagerConfig } from '../config.ts';
import { createTaskMetrics } from '../metrics.ts';
import { barrierHeader, barrierTasksHeader, fromTaskHeader } from '../repartition/barriers.ts';
import { heapStateStorage } from '../state/entry-map.ts';
import { PartitionStores } from '../state/partition-stores.ts';
import { PartitionRuntime } from './partition-runtime.ts';
import { StageExecutor } from './stage-executor.ts';
import { StreamTask } from './stream-task.ts';
import type { TaskConsumer } from './task-clients.ts';
import type { OpenedTask } from './task-deps.ts';
import { TestingProducer } from './testing-task-clients.ts';

const topic = 'weir.ns.job.r1.by-key';

/** Hands out scripted batches; once they are gone, `drained` resolves when the task asks again. */
class TestingConsumer implements TaskConsumer {
  private readonly batches: ConsumedRecord[][];
  private onDrained: () => void = () => {};
  readonly drained = new Promise<void>((resolve) => {
    this.onDrained = resolve;
  });

  constructor(batches: ConsumedRecord[][]) {
    this.batches = batches;
  }

  /** Called as each scripted batch is handed out. */
  onBatch: (batch: ConsumedRecord[]) => void = () => {};

  async consume(): Promise<ConsumedRecord[]> {
    const next = this.batches.shift();
    if (next) {
      this.onBatch(next);
      return next;
    }
    this.onDrained();
    // A real consumer waits for records: yield to timers instead of spinning on microtasks.
    await new Promise((resolve) => setTimeout(resolve, 1));
    return [];
  }
  /** What the partition leaders answer for the end offset of every partition; and how often they were asked. */
  end = 0;
  endOffsetQueries = 0;

  highWatermark(): number | undefined {
    return undefined;
  }
  fetchPosition(): number | undefined {
    return undefined;
  }
  bufferedRecords(): number {
    return 0;
  }
  async endOffsets(partitions: unknown[]): Promise<number[]> {
    this.endOffsetQueries++;
    return partitions.map(() => this.end);
  }
  commitWithMetadata(): void {}
  async disconnect(): Promise<void> {}
}

/** Per key, the committed outputs' [count, sum] in order. */
function outputs(producer: TestingProducer): Map<string, [number, number][]> {
  const byKey = new Map<string, [number, number][]>();
  for (const r of producer.committed.flatMap((t) => t.records)) {
    const { key, count, sum } = JSON.parse(String(r.value)) as { key: string; count: number; sum: number };
    byKey.set(key, [...(byKey.get(key) ?? []), [count, sum]]);
  }
  return byKey;
}

/** A repartition record of upstream task `from` at `offset` of partition 0: key and value as keyBy wrote them. */
function record(offset: number, from: number, key: string, amount: number): ConsumedRecord {
  return {
    topic,
    partition: 0,
    offset,
    timestamp: 1_000 + offset,
    key: Buffer.from(key),
    value: Buffer.from(`v${amount}`),
    headers: [{ key: fromTaskHeader, value: Buffer.from(String(from)) }],
  };
}

function barrier(offset: number, from: number, id: string, tasks = 2): ConsumedRecord {
  return {
    topic,
    partition: 0,
    offset,
    timestamp: 1_000 + offset,
    key: null,
    value: null,
    headers: [
      { key: barrierHeader, value: Buffer.from(id) },
      { key: barrierTasksHeader, value: Buffer.from(String(tasks)) },
      { key: fromTaskHeader, value: Buffer.from(String(from)) },
    ],
  };
}

const directories: string[] = [];
after(() => {
  for (const d of directories) rmSync(d, { recursive: true, force: true });
});

/**
 * Task 0 of the second stage of keyed-count-sum behind a keyBy (parallelism
 * 2, so two upstream tasks write partition 0 of the repartition topic), its
 * clients the stand-ins above, its state on a local directory.
 */
function secondStageTask(batches: ConsumedRecord[][], clock: { readonly now: number } = { now: 0 }) {
  const job = keyedCountSum({ input: 'in', output: 'out', stages: 2 }) as JobDefinition;
  const stage = job.stages[1];
  assert.ok(stage);
  const directory = mkdtempSync(join(tmpdir(), 'weir-stream-task-'));
  directories.push(directory);
  const config = loadTaskManagerConfig({
    WEIR_NAMESPACE: 'ns',
    WEIR_JOB: 'job',
    WEIR_RUN_ID: 'r1',
    WEIR_TASKS: '0',
    WEIR_PARALLELISM: '2',
    WEIR_ENTRY: 'job.js',
    WEIR_OFFSET_GROUP: 'weir.ns.job.r1',
    WEIR_CHECKPOINT_MODE: 'exactly-once',
    WEIR_CHECKPOINT_INTERVAL: '1h',
    WEIR_CHECKPOINT_TIMEOUT: '60s',
    WEIR_S3_URL: 's3://unused/prefix',
    WEIR_KAFKA_BOOTSTRAP: 'unused:9092',
    WEIR_CONTROL_TOKEN: 'unused',
  });
  const consumer = new TestingConsumer(batches);
  const producer = new TestingProducer('weir.ns.job.r1.1.t0');
  const open = async (): Promise<OpenedTask> => {
    const stores = new PartitionStores();
    stores.dirty = false;
    return {
      producer,
      consumer,
      partitions: [new PartitionRuntime({ topic, partition: 0 }, stores)],
      state: { ...heapStateStorage, close: async () => undefined },
      executor: new StageExecutor(job, stage, undefined),
      route: undefined,
      owned: [{ topic, partition: 0 }],
      transactionalId: producer.transactionalId,
    };
  };
  const task = new StreamTask({
    config,
    index: 0,
    job,
    stage,
    storage: new FilesystemStorage(directory),
    storageAt: () => {
      throw new Error('no other storage in this test');
    },
    metrics: createTaskMetrics({ lagOf: () => new Map() }),
    log: pino({ level: 'silent' }),
    now: () => clock.now,
    open,
  });
  return { task, consumer, producer };
}

describe('StreamTask behind a repartition topic', () => {
  it('stopped while it holds records behind a barrier, commits no position past a record it did not process', async (t) => {
    // Upstream task 0 has taken its part of savepoint sp (its barrier at 2) and goes on writing (3, 5);
    // upstream task 1's barrier never comes before the stop.
    const { task, consumer, producer } = secondStageTask([
      [
        record(0, 0, 'a', 1),
        record(1, 1, 'b', 10),
        barrier(2, 0, 'sp'),
        record(3, 0, 'a', 2),
        record(4, 1, 'b', 20),
        record(5, 0, 'a', 3),
      ],
    ]);
    // A failed assertion must not leave the task's loop (and the test process) running.
    t.after(() => task.requestStop());
    await task.restore();
    const savepoint = task.savepoint('sp');
    const running = task.run();
    await consumer.drained;
    task.requestStop();
    await running;
    await assert.rejects(savepoint, { code: 'TASK_STOPPING' });
    await task.close({ finalCheckpoint: true });
    assert.equal(producer.committedOffset(0), 6);
    // Everything below the committed position went into state and output, in order, exactly once.
    assert.deepEqual(
      outputs(producer),
      new Map([
        [
          'a',
          [
            [1, 1],
            [2, 3],
            [3, 6],
          ],
        ],
        [
          'b',
          [
            [1, 10],
            [2, 30],
          ],
        ],
      ]),
    );
  });

  it('after a cut, commits a position past every record read, not back at the last held one', async (t) => {
    const { task, consumer, producer } = secondStageTask([
      [barrier(0, 0, 'sp'), record(1, 0, 'a', 1), record(2, 1, 'b', 10), barrier(3, 1, 'sp')],
    ]);
    // A failed assertion must not leave the task's loop (and the test process) running.
    t.after(() => task.requestStop());
    await task.restore();
    const savepoint = task.savepoint('sp');
    const running = task.run();
    const report = await savepoint;
    await consumer.drained;
    task.requestStop();
    await running;
    // The checkpoint after the cut commits everything read: nothing after it may be read (and processed) again.
    assert.equal(producer.committedOffset(0), 4);
    // The savepoint's part holds state at the cut: b's record before u1's barrier, not a's after u0's.
    assert.equal(report?.partitions.length, 1);
    await task.close({ finalCheckpoint: true });
    assert.equal(producer.committedOffset(0), 4);
    assert.deepEqual(
      outputs(producer),
      new Map([
        ['b', [[1, 10]]],
        ['a', [[1, 1]]],
      ]),
    );
  });

  it('ignores a barrier from an upstream layout of another parallelism, keeping per-key order across a rescale', async (t) => {
    // Before a rescale from 3 tasks to 2, upstream task 0 (of 3) wrote a barrier and then a's record 1;
    // after it, a's partition belongs to upstream task 1 (of 2), which writes a's record 2.
    const { task, consumer, producer } = secondStageTask([
      [barrier(0, 0, 'old', 3), record(1, 0, 'a', 1), record(2, 1, 'a', 2)],
    ]);
    // A failed assertion must not leave the task's loop (and the test process) running.
    t.after(() => task.requestStop());
    await task.restore();
    const running = task.run();
    await consumer.drained;
    task.requestStop();
    await running;
    await task.close({ finalCheckpoint: true });
    assert.deepEqual(
      outputs(producer),
      new Map([
        [
          'a',
          [
            [1, 1],
            [2, 3],
          ],
        ],
      ]),
    );
  });
});

/** Polls `done` between the task's loop turns (bounded: a condition never met fails the test). */
async function until(what: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 2_000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.ok(done(), `never: ${what}`);
}

describe('StreamTask health by progress', () => {
  it('counts as idle only when its own position reached the end offset, not when the end offset stands still', async (t) => {
    const clock = { now: 0 };
    const hour = 3_600_000;
    const { task, consumer } = secondStageTask([[record(4, 0, 'a', 1)]], clock);
    // A failed assertion must not leave the task's loop (and the test process) running.
    t.after(() => task.requestStop());
    await task.restore();
    const running = task.run();
    await consumer.drained;
    clock.now = 2 * hour; // the interval is 1 h: the record read is committed
    await until('the first commit', () => task.progress().committedAsOf === 2 * hour);
    // Records 5..9 are there, and this task does not read them (a stuck fetch): two checks see the same end.
    consumer.end = 10;
    for (const at of [4 * hour, 6 * hour]) {
      const asked = consumer.endOffsetQueries;
      clock.now = at;
      await until('an idle check', () => consumer.endOffsetQueries > asked);
    }
    assert.equal(task.progress().committedAsOf, 2 * hour, 'a task behind the end offset is not idle');
    consumer.end = 5;
    clock.now = 8 * hour;
    await until('an idle check at the end', () => task.progress().committedAsOf === 8 * hour);
    task.requestStop();
    await running;
    await task.close({ finalCheckpoint: true });
  });
});

describe('StreamTask under slow records', () => {
  it('gives the event loop back within a batch once it has worked for a while, so probes and other tasks are answered', async (t) => {
    // Every reading of the clock is 20 ms later: the task's slice of work ends within a few records.
    let now = 0;
    const clock = {
      get now() {
        now += 20;
        return now;
      },
    };
    const batch = Array.from({ length: 64 }, (_, i) => record(i, 0, `k${i % 4}`, 1));
    const { task, consumer, producer } = secondStageTask([batch], clock);
    t.after(() => task.requestStop());
    let outputsWhenLoopRan: number | undefined;
    consumer.onBatch = () => {
      setImmediate(() => {
        outputsWhenLoopRan = producer.openRecords;
      });
    };
    await task.restore();
    const running = task.run();
    await consumer.drained;
    assert.ok(outputsWhenLoopRan !== undefined, 'the event loop ran');
    assert.ok(
      outputsWhenLoopRan < batch.length,
      `the event loop ran only after the whole batch (${outputsWhenLoopRan} of ${batch.length} records processed)`,
    );
    assert.equal(producer.openRecords, batch.length, 'every record processed in the end');
    task.requestStop();
    await running;
    await task.close({ finalCheckpoint: true });
  });
});
