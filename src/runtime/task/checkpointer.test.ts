import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import keyedCountSum from '../../jobs/keyed-count-sum.ts';
import type { ConsumedRecord } from '../../kafka/assigned-consumer.ts';
import type { OutgoingRecord } from '../../kafka/transactional-producer.ts';
import type { JobDefinition } from '../../sdk/pipeline.ts';
import type { CheckpointStorage, PutOptions } from '../../storage/checkpoint-storage.ts';
import { FilesystemStorage } from '../../storage/filesystem-storage.ts';
import { decodeCommitMetadata } from '../checkpoint/commit-metadata.ts';
import { loadTaskManagerConfig } from '../config.ts';
import { createTaskMetrics } from '../metrics.ts';
import { type ChangelogReader, ChangelogRoute, replayChangelog } from '../state/changelog.ts';
import { PartitionStores } from '../state/partition-stores.ts';
import { decodeSection, verifiedSection } from '../state/snapshot-format.ts';
import { Checkpointer } from './checkpointer.ts';
import { PartitionRuntime } from './partition-runtime.ts';
import type { TaskConsumer } from './task-clients.ts';
import { TestingProducer } from './testing-task-clients.ts';

const input = { topic: 'in', partition: 0 };
const changelogTopic = 'weir.ns.job.r1.source.changelog';

/** The changelog partition as a broker would hold it: each committed transaction's records, then its marker. */
class TestingChangelogLog {
  readonly records: ConsumedRecord[] = [];
  end = 0;

  append(transaction: readonly OutgoingRecord[]): void {
    const logged = transaction.filter((r) => r.topic === changelogTopic);
    if (logged.length === 0) return;
    for (const r of logged) {
      this.records.push({
        topic: changelogTopic,
        partition: r.partition ?? 0,
        offset: this.end++,
        timestamp: 0,
        key: r.key as Buffer,
        value: r.value,
        headers: undefined,
      });
    }
    this.end++; // the transaction's commit marker
  }
}

class TestingConsumer implements TaskConsumer {
  private readonly log: TestingChangelogLog;
  constructor(log: TestingChangelogLog) {
    this.log = log;
  }
  async consume(): Promise<ConsumedRecord[]> {
    return [];
  }
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
    return partitions.map(() => this.log.end);
  }
  commitWithMetadata(): void {}
  async disconnect(): Promise<void> {}
}

/** The filesystem storage, unreachable while `down` (an S3 outage). */
class TestingFlakyStorage implements CheckpointStorage {
  down = false;
  puts = 0;
  /** While set, writes under a run's prefix (not savepoints) wait for it: a slow background upload. */
  slowRunWrites: Promise<void> | undefined;
  private readonly inner: FilesystemStorage;
  constructor(inner: FilesystemStorage) {
    this.inner = inner;
  }
  describe(key: string): string {
    return this.inner.describe(key);
  }
  async put(key: string, bytes: Buffer, _options?: PutOptions): Promise<void> {
    this.puts++;
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:9000');
    if (this.slowRunWrites && key.includes('/runs/')) await this.slowRunWrites;
    await this.inner.put(key, bytes);
  }
  get(key: string, range?: { start: number; length: number }): Promise<Buffer> {
    return this.inner.get(key, range);
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  check(): Promise<void> {
    return this.inner.check();
  }
}

/** Reads the testing log from an offset, as the record fetcher would under read_committed. */
class TestingReader implements ChangelogReader {
  private position_ = 0;
  private done = false;
  private readonly log: TestingChangelogLog;
  constructor(log: TestingChangelogLog) {
    this.log = log;
  }
  assign(positions: readonly { offset: number }[]): void {
    this.position_ = positions[0]?.offset ?? 0;
  }
  async consume(): Promise<ConsumedRecord[]> {
    if (this.done) return [];
    this.done = true;
    const out = this.log.records.filter((r) => r.offset >= this.position_);
    this.position_ = this.log.end;
    return out;
  }
  position(): number {
    return this.position_;
  }
}

const directories: string[] = [];
after(() => {
  for (const d of directories) rmSync(d, { recursive: true, force: true });
});

/** Waits for the task's background round in flight, if any. */
function settle(task: { checkpointer: Checkpointer }): Promise<void> {
  return (
    task.checkpointer as unknown as { materializer: { settle(): Promise<void> } }
  ).materializer.settle();
}

function loggedTask() {
  const job = keyedCountSum({ input: 'in', output: 'out' }) as JobDefinition;
  const stage = job.stages[0];
  assert.ok(stage);
  const directory = mkdtempSync(join(tmpdir(), 'weir-checkpointer-'));
  directories.push(directory);
  const clock = { now: 0 };
  const config = loadTaskManagerConfig({
    WEIR_NAMESPACE: 'ns',
    WEIR_JOB: 'job',
    WEIR_RUN_ID: 'r1',
    WEIR_TASKS: '0',
    WEIR_PARALLELISM: '1',
    WEIR_ENTRY: 'job.js',
    WEIR_OFFSET_GROUP: 'weir.ns.job.r1',
    WEIR_CHECKPOINT_MODE: 'exactly-once',
    WEIR_CHECKPOINT_INTERVAL: '1s',
    WEIR_CHECKPOINT_TIMEOUT: '60s',
    WEIR_MATERIALIZATION_INTERVAL: '10s',
    WEIR_S3_URL: 's3://unused/prefix',
    WEIR_KAFKA_BOOTSTRAP: 'unused:9092',
    WEIR_CONTROL_TOKEN: 'unused',
  });
  const log = new TestingChangelogLog();
  const producer = new TestingProducer('weir.ns.job.r1.s0.t0', (t) => log.append(t.records));
  const consumer = new TestingConsumer(log);
  const storage = new TestingFlakyStorage(new FilesystemStorage(directory));
  const stores = new PartitionStores();
  stores.dirty = false;
  stores.trackChanges();
  const partition = new PartitionRuntime(input, stores);
  const checkpointer = new Checkpointer(
    {
      config,
      index: 0,
      job,
      stage,
      storage,
      storageAt: () => storage,
      metrics: createTaskMetrics({ lagOf: () => new Map() }),
      log: pino({ level: 'silent' }),
      now: () => clock.now,
    },
    {
      partitions: new Map([[partition.id, partition]]),
      producer,
      consumer,
      writer: undefined,
      changelog: new ChangelogRoute(changelogTopic, new Map([['in', 1]])),
    },
    pino({ level: 'silent' }),
    { task: '0' },
  );
  /** Processing a record: the state written, the position moved on. */
  const process = (key: string, count: number) => {
    stores.valueState<number>('count-sum/count', key).set(count);
    partition.position = (partition.position ?? 0) + 1;
    partition.advanced = true;
  };
  /** What a restore from the committed offset gets: its section, then the changelog replayed from its offset. */
  const restore = async () => {
    const pointer = decodeCommitMetadata('in/0', producer.lastMetadata());
    const bytes = await storage.get(pointer.objectKey, { start: pointer.start, length: pointer.length });
    const section = verifiedSection(pointer.objectKey, { ...input, ...pointer }, bytes);
    const restored = new PartitionStores(decodeSection(pointer.objectKey, section));
    await replayChangelog(
      new TestingReader(log),
      changelogTopic,
      [{ changelogPartition: 0, from: pointer.changelogFrom ?? 0, stores: restored }],
      new Map([[0, log.end]]),
      { timeoutMs: 1_000, now: () => 0 },
    );
    return new Map(
      [...(restored.stores.get('count-sum/count') ?? [])].map(([k, v]) => [k, Number(String(v))]),
    );
  };
  return { checkpointer, producer, storage, clock, log, partition, process, restore };
}

describe('Checkpointer with a changelog', () => {
  it('logs each changed key once per checkpoint in the transaction, stores no section once the partition has one, and restores section + changelog', async () => {
    const task = loggedTask();
    task.process('"a"', 1);
    const first = await task.checkpointer.checkpoint();
    assert.ok(first?.objectKey, 'a partition without a section gets one before its first commit');
    assert.equal(decodeCommitMetadata('in/0', task.producer.lastMetadata()).changelogFrom, 0);

    task.process('"a"', 2);
    task.process('"a"', 3);
    task.process('"b"', 5);
    const puts = task.storage.puts;
    const second = await task.checkpointer.checkpoint();
    assert.equal(second?.objectKey, undefined, 'no snapshot on the commit path');
    assert.equal(task.storage.puts, puts, 'nothing stored in S3');
    const logged = task.producer.committed.at(-1)?.records.filter((r) => r.topic === changelogTopic) ?? [];
    assert.deepEqual(
      logged.map((r) => String(r.value)),
      ['3', '5'],
      "each key's last value of the interval, once",
    );
    assert.deepEqual(
      await task.restore(),
      new Map([
        ['"a"', 3],
        ['"b"', 5],
      ]),
    );
  });

  it('materializes in the background by the interval, and commits the section with the changelog offset it covers', async () => {
    const task = loggedTask();
    task.process('"a"', 1);
    await task.checkpointer.checkpoint();
    task.process('"a"', 2);
    await task.checkpointer.checkpoint();
    task.clock.now += 10_000;
    task.process('"c"', 7);
    const endBefore = task.log.end;
    const third = await task.checkpointer.checkpoint();
    assert.equal(third?.objectKey, undefined, 'the section is stored after the commit, not before it');
    await settle(task);
    assert.equal(task.partition.materialized?.changelogFrom, endBefore);
    await task.checkpointer.checkpoint();
    const committed = decodeCommitMetadata('in/0', task.producer.lastMetadata());
    assert.equal(
      committed.checkpointId,
      3,
      "the materialized section is what the offset's metadata names now",
    );
    assert.equal(committed.changelogFrom, endBefore);
    assert.deepEqual(
      await task.restore(),
      new Map([
        ['"a"', 2],
        ['"c"', 7],
      ]),
    );
  });

  it('materializes changed state of a task that went idle, and commits the section without new input', async () => {
    const task = loggedTask();
    task.process('"a"', 1);
    await task.checkpointer.checkpoint();
    task.process('"a"', 2);
    await task.checkpointer.checkpoint();
    assert.equal(await task.checkpointer.checkpoint(), undefined, 'idle, nothing due: no checkpoint');
    task.clock.now += 10_000;
    assert.ok(await task.checkpointer.checkpoint(), 'the due round runs though nothing was read');
    await settle(task);
    await task.checkpointer.checkpoint();
    assert.equal(decodeCommitMetadata('in/0', task.producer.lastMetadata()).checkpointId, 3);
    assert.ok(!task.partition.dirty);
  });

  it('starts no second background round while one is in flight, even right after a savepoint asks for one', async () => {
    const task = loggedTask();
    task.process('"a"', 1);
    await task.checkpointer.checkpoint();
    let release: () => void = () => undefined;
    task.storage.slowRunWrites = new Promise((resolve) => {
      release = resolve;
    });
    task.clock.now += 10_000;
    task.process('"a"', 2);
    await task.checkpointer.checkpoint(); // starts a round, whose upload waits
    task.process('"b"', 3);
    await task.checkpointer.checkpoint({ savepointId: 'sp-1' });
    task.process('"b"', 4);
    await task.checkpointer.checkpoint(); // the savepoint asked for a round; the one in flight must end first
    release();
    await settle(task);
    task.process('"c"', 5);
    await task.checkpointer.checkpoint();
    await settle(task);
    await task.checkpointer.checkpoint();
    assert.ok(
      decodeCommitMetadata('in/0', task.producer.lastMetadata()).objectKey.includes('/runs/r1/'),
      "after the savepoint, the run's own section",
    );
    assert.deepEqual(
      await task.restore(),
      new Map([
        ['"a"', 2],
        ['"b"', 4],
        ['"c"', 5],
      ]),
    );
  });

  it('keeps committing through a storage outage; materialization fails, then catches up', async () => {
    const task = loggedTask();
    task.process('"a"', 1);
    await task.checkpointer.checkpoint();
    task.storage.down = true;
    for (let i = 2; i <= 5; i++) {
      task.clock.now += 10_000;
      task.process('"a"', i);
      const report = await task.checkpointer.checkpoint();
      assert.ok(report, `checkpoint ${i} committed while storage is down`);
      await settle(task);
    }
    assert.equal(task.checkpointer.failures, 0, 'no checkpoint counted as failed');
    assert.ok(task.partition.dirty, 'the state waits for a section');
    assert.deepEqual(await task.restore(), new Map([['"a"', 5]]), 'the changelog holds what no section does');
    task.storage.down = false;
    task.clock.now += 10_000;
    task.process('"a"', 6);
    await task.checkpointer.checkpoint();
    await settle(task);
    await task.checkpointer.checkpoint();
    assert.ok(!task.partition.dirty);
    assert.ok((decodeCommitMetadata('in/0', task.producer.lastMetadata()).changelogFrom ?? 0) > 0);
    assert.deepEqual(await task.restore(), new Map([['"a"', 6]]));
  });
});
