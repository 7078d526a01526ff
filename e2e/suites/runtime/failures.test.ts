import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { requireEnv } from '../../support/cluster.ts';
import {
  committedCounts,
  committedOffsets,
  countSumProblems,
  emittedCounts,
  expectedCounts,
  keyedInput,
  runtimeStorage,
} from '../../support/committed-state.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { count, type TaskManagerSettings, TaskManagers } from '../../support/taskmanager-process.ts';
import { TcpProxy } from '../../support/tcp-proxy.ts';

const partitions = 4;
const keys = 10;

describe('TaskManager runtime: failures', () => {
  const taskManagers = new TaskManagers();
  const start = taskManagers.start.bind(taskManagers);
  after(() => taskManagers.killAll());

  async function topics(prefix: string) {
    const input = uniqueName(`${prefix}-in`);
    const output = uniqueName(`${prefix}-out`);
    await createTopics({ name: input, partitions }, { name: output, partitions });
    return { input, output };
  }

  it('at-least-once loses nothing across SIGKILLs (duplicates allowed), and its state matches the input', async (t) => {
    const random = seededRandom(t);
    const { input, output } = await topics('alo');
    const settings: TaskManagerSettings = {
      job: 'alo',
      runId: uniqueName('r'),
      input,
      output,
      parallelism: 2,
      tasks: [0, 1],
      mode: 'at-least-once',
      interval: '200ms',
    };
    let produced = 0;
    for (let round = 0; round < 6; round++) {
      await produce(input, keyedInput(produced, 300, keys));
      produced += 300;
      const tm = start(settings);
      await tm.waitForLog('restored', (l) => l.msg === 'restored');
      await new Promise((r) => setTimeout(r, 100 + Math.floor(random() * 500)));
      tm.signal('SIGKILL');
      await tm.exited;
    }
    const last = start(settings);
    // Duplicates count towards a record total, so the output is read until every (key, count) is in it (or the
    // deadline passes): a total reached early, then a quiet restart, would look like a loss that is not one.
    const check = (records: { value: string | null }[]) => {
      const emitted = emittedCounts(records);
      const missing: string[] = [];
      const impossible: string[] = [];
      for (const [key, n] of expectedCounts(produced, keys)) {
        const seen = new Set(emitted.get(key) ?? []);
        for (let c = 1; c <= n; c++) if (!seen.has(c)) missing.push(`${key}#${c}`);
        // A replay repeats counts it emitted before; a count above n would mean state was applied twice.
        for (const c of seen) if (c < 1 || c > n) impossible.push(`${key}#${c}`);
      }
      return { missing, impossible };
    };
    const deadline = Date.now() + 120_000;
    let result = check(
      await readCommitted(output, partitions, { expected: produced, timeoutMs: 120_000, quietMs: 2000 }),
    );
    while (result.missing.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      result = check(
        await readCommitted(output, partitions, { expected: produced, timeoutMs: 30_000, quietMs: 500 }),
      );
    }
    // The output may all be there before the last TaskManager restored (at-least-once replays what it lost):
    // a SIGTERM before its handler is installed would end it by the signal, not with its clean stop. And the
    // output of a killed TaskManager is visible before its commit: the last one must have caught up (its committed
    // state at the input's counts) before it stops, or it stops, rightly, before replaying the last records.
    await last.waitForLog('restored', (l) => l.msg === 'restored');
    const caughtUpBy = Date.now() + 60_000;
    const want = JSON.stringify([...expectedCounts(produced, keys)].sort());
    const committedNow = async () =>
      JSON.stringify(
        [...(await committedCounts(`weir.e2e.alo.${settings.runId}`, input, partitions))].sort(),
      );
    while (Date.now() < caughtUpBy && (await committedNow()) !== want)
      await new Promise((r) => setTimeout(r, 200));
    last.signal('SIGTERM');
    assert.equal(await last.exited, 0, last.exitReport());
    const { missing, impossible } = result;
    assert.deepEqual(missing, [], 'every (key, count) was emitted at least once');
    assert.deepEqual(impossible, [], 'only counts 1..n, so no record was counted twice in state');
    assert.deepEqual(
      await committedCounts(`weir.e2e.alo.${settings.runId}`, input, partitions),
      expectedCounts(produced, keys),
    );
  });

  it('exactly once through a 60 s storage outage: commits go on through the changelog, materialization catches up after, and a SIGKILL restores exactly', async () => {
    const { input, output } = await topics('s3out');
    const minio = new URL(requireEnv('WEIR_S3_ENDPOINT'));
    const proxy = await TcpProxy.start({ host: minio.hostname, port: Number(minio.port) });
    const settings: TaskManagerSettings = {
      job: 's3out',
      runId: uniqueName('r'),
      input,
      output,
      parallelism: 1,
      tasks: [0],
      entry: 'keyed-count-sum',
      interval: '200ms',
      timeout: '2s',
      tolerableFailures: 2,
      materializationInterval: '1s',
      s3Endpoint: proxy.url,
    };
    try {
      const tm = start(settings);
      let produced = 0;
      await produce(input, keyedInput(produced, 200, keys));
      produced += 200;
      await readCommitted(output, partitions, { expected: produced, timeoutMs: 60_000, quietMs: 0 });
      proxy.cut();
      // 60 s of input while storage is unreachable; every few seconds, what was produced is committed output.
      const outageEnds = Date.now() + 60_000;
      for (let round = 0; round < 30 && Date.now() < outageEnds; round++) {
        await produce(input, keyedInput(produced, 50, keys));
        produced += 50;
        if (round % 5 === 4) {
          await readCommitted(output, partitions, { expected: produced, timeoutMs: 10_000, quietMs: 0 });
        }
        await new Promise((r) => setTimeout(r, Math.max(0, Math.min(2_000, outageEnds - Date.now()))));
      }
      assert.ok(
        count(
          tm.lines,
          'materialization failed; commits go on through the changelog, and the next round retries',
        ) > 0,
        'the background uploads failed meanwhile',
      );
      assert.equal(
        count(tm.lines, 'checkpoint failed; the transaction stays open and the next interval retries'),
        0,
      );
      proxy.heal();
      const storedAfter = tm.lines.length;
      await tm.waitForLog(
        'a materialization after the outage',
        (l) =>
          l.msg === 'materialization: sections stored; the next checkpoint commits them' &&
          tm.lines.indexOf(l) >= storedAfter,
      );
      await produce(input, keyedInput(produced, 100, keys));
      produced += 100;
      await readCommitted(output, partitions, { expected: produced, timeoutMs: 60_000, quietMs: 0 });
      tm.signal('SIGKILL');
      await tm.exited;
      const next = start(settings);
      await produce(input, keyedInput(produced, 100, keys));
      produced += 100;
      const records = await readCommitted(output, partitions, {
        expected: produced,
        timeoutMs: 120_000,
        quietMs: 2000,
      });
      assert.deepEqual(countSumProblems(records, produced, keys), []);
      next.signal('SIGTERM');
      assert.equal(await next.exited, 0, next.exitReport());
    } finally {
      proxy.close();
    }
  });

  it('at-least-once keeps storage on the commit path: tolerates tolerableFailures failed checkpoints while MinIO is unreachable, then fails the task', async () => {
    const { input, output } = await topics('s3down');
    const minio = new URL(requireEnv('WEIR_S3_ENDPOINT'));
    const proxy = await TcpProxy.start({ host: minio.hostname, port: Number(minio.port) });
    try {
      const tm = start({
        job: 's3down',
        runId: uniqueName('r'),
        input,
        output,
        parallelism: 1,
        tasks: [0],
        mode: 'at-least-once',
        interval: '200ms',
        timeout: '1s',
        tolerableFailures: 2,
        s3Endpoint: proxy.url,
      });
      await produce(input, keyedInput(0, 100, keys));
      await tm.waitForLog('a committed checkpoint', (l) => l.msg === 'checkpoint: committed');
      proxy.cut();
      // Records keep arriving, so every interval has a snapshot to upload.
      const feeding = setInterval(
        () => void produce(input, keyedInput(0, 10, keys)).catch(() => undefined),
        150,
      );
      const code = await tm.exited;
      clearInterval(feeding);
      assert.equal(code, 1);
      assert.equal(
        count(tm.lines, 'checkpoint failed; the transaction stays open and the next interval retries'),
        3,
      );
      const failure = tm.lines.find((l) => l.msg === 'task failed');
      assert.equal(failure?.code, 'CHECKPOINT_FAILURES_EXCEEDED');
    } finally {
      proxy.close();
    }
  });

  it('refuses to start from a corrupted or a missing snapshot, naming the object', async () => {
    const { input, output } = await topics('corrupt');
    const settings = { job: 'corrupt', runId: uniqueName('r'), input, output, parallelism: 1, tasks: [0] };
    await produce(input, keyedInput(0, 200, keys));
    const first = start(settings);
    await readCommitted(output, partitions, { expected: 200, timeoutMs: 60_000, quietMs: 300 });
    first.signal('SIGTERM');
    assert.equal(await first.exited, 0, first.exitReport());
    const committed = (await committedOffsets(`weir.e2e.corrupt.${settings.runId}`, input, partitions)).find(
      (c) => c.pointer,
    );
    const pointer = committed?.pointer;
    assert.ok(pointer, 'a committed pointer');
    const storage = runtimeStorage();
    const original = await storage.get(pointer.objectKey);
    const corrupted = Buffer.from(original);
    corrupted.writeUInt8(corrupted.readUInt8(pointer.start) ^ 0xff, pointer.start);
    await storage.put(pointer.objectKey, corrupted);

    const second = start(settings);
    assert.equal(await second.exited, 1);
    const failure = second.lines.find((l) => l.msg === 'task failed');
    assert.equal(failure?.code, 'SNAPSHOT_CORRUPT');
    assert.match(
      JSON.stringify(failure),
      new RegExp(storage.describe(pointer.objectKey).replaceAll('.', '\\.')),
    );
    assert.equal(count(second.lines, 'restored'), 0, 'it never ran on empty state');

    await storage.delete(pointer.objectKey);
    const third = start(settings);
    assert.equal(await third.exited, 1);
    const missing = third.lines.find((l) => l.msg === 'task failed');
    assert.equal(missing?.code, 'SNAPSHOT_MISSING');
    assert.match(JSON.stringify(missing), new RegExp(pointer.objectKey.replaceAll('.', '\\.')));
    storage.close();
  });

  it('sends a poison record to the dead-letter topic with its error, in the same transaction as the outputs', async () => {
    const { input, output } = await topics('poison');
    const dlq = uniqueName('poison-dlq');
    await createTopics({ name: dlq, partitions: 1 });
    const settings = {
      job: 'poison',
      runId: uniqueName('r'),
      input,
      output,
      parallelism: 1,
      tasks: [0],
      deadLetterTopic: dlq,
    };
    await produce(input, [
      { key: 'a', value: 'x' },
      { key: 'a', value: 'poison' },
      { key: 'a', value: 'y' },
    ]);
    const tm = start(settings);
    const out = await readCommitted(output, partitions, { expected: 2, timeoutMs: 60_000, quietMs: 300 });
    const dead = await readCommitted(dlq, 1, { expected: 1, timeoutMs: 30_000, quietMs: 300 });
    tm.signal('SIGTERM');
    assert.equal(await tm.exited, 0, tm.exitReport());
    assert.deepEqual(emittedCounts(out).get('a'), [1, 2], 'the poison record did not count');
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.value, 'poison');
  });

  it('fails the task on a poison record under the default policy, naming the record', async () => {
    const { input, output } = await topics('poisonfail');
    await produce(input, [{ key: 'a', value: 'poison' }]);
    const tm = start({
      job: 'poisonfail',
      runId: uniqueName('r'),
      input,
      output,
      parallelism: 1,
      tasks: [0],
    });
    assert.equal(await tm.exited, 1);
    const failure = tm.lines.find((l) => l.msg === 'task failed');
    assert.equal(failure?.code, 'POISON_RECORD');
    assert.match(JSON.stringify(failure), new RegExp(`${input}/\\d@0`));
  });
});
