import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  committedCounts,
  committedOffsets,
  emittedCounts,
  exactlyOnceProblems,
  expectedCounts,
  keyedInput,
} from '../../support/committed-state.ts';
import {
  createTopics,
  produce,
  readCommitted,
  readUncommitted,
  uniqueName,
} from '../../support/kafka-topics.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { count, TaskManagers } from '../../support/taskmanager-process.ts';

const partitions = 4;
const keys = 20;

/** Every key's emitted counts are exactly 1..n, once each and in order: nothing lost, nothing duplicated. */
function assertExactlyOnce(emitted: Map<string, number[]>, expected: Map<string, number>): void {
  assert.deepEqual(exactlyOnceProblems(emitted, expected), []);
}

describe('TaskManager runtime: exactly-once keyed count on the harness Kafka and MinIO', () => {
  const taskManagers = new TaskManagers();
  const start = taskManagers.start.bind(taskManagers);
  after(() => taskManagers.killAll());

  it('processes N records into exactly N outputs and the matching final state', async () => {
    const input = uniqueName('eo-in');
    const output = uniqueName('eo-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    const n = 2000;
    await produce(input, keyedInput(0, n, keys));
    const settings = { job: 'count', runId: uniqueName('r'), input, output, parallelism: 2, tasks: [0, 1] };
    const tm = start(settings);
    const records = await readCommitted(output, partitions, { expected: n, timeoutMs: 60_000 });
    tm.signal('SIGTERM');
    assert.equal(await tm.exited, 0, tm.exitReport());
    assert.equal(records.length, n);
    assertExactlyOnce(emittedCounts(records), expectedCounts(n, keys));
    const state = await committedCounts(`weir.e2e.count.${settings.runId}`, input, partitions);
    assert.deepEqual(state, expectedCounts(n, keys));
  });

  it('survives 24 SIGKILLs (during a background upload, between a stored section and its commit, before a commit, at random) with output and state equal to a run without failures', async (t) => {
    const random = seededRandom(t);
    const input = uniqueName('kill-in');
    const output = uniqueName('kill-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    const settings = {
      job: 'kill',
      runId: uniqueName('r'),
      input,
      output,
      parallelism: 2,
      tasks: [0, 1],
      interval: '200ms',
      materializationInterval: '1s',
    };
    const group = `weir.e2e.kill.${settings.runId}`;
    const batch = 300;
    let produced = 0;
    const landed = { upload: 0, materialized: 0, beforeCommit: 0, random: 0 };
    for (let round = 0; round < 24; round++) {
      await produce(input, keyedInput(produced, batch / 2, keys));
      produced += batch / 2;
      const tm = start(settings);
      const point = (['upload', 'materialized', 'beforeCommit', 'random'] as const)[round % 4] ?? 'random';
      // The other half after the first commit: state that changed since its sections, for a background upload.
      await tm.waitForLog('a first commit', (l) => l.msg === 'checkpoint: committed');
      await produce(input, keyedInput(produced, batch / 2, keys));
      produced += batch / 2;
      if (point === 'upload') {
        await tm.waitForNextLog('a background upload', (l) => l.msg === 'snapshot: uploading');
      } else if (point === 'materialized') {
        await tm.waitForNextLog(
          'a section stored in the background, not yet committed',
          (l) => l.msg === 'materialization: sections stored; the next checkpoint commits them',
        );
      } else if (point === 'beforeCommit') {
        await tm.waitForNextLog(
          'a commit under way',
          (l) => l.msg === 'checkpoint: snapshot stored, committing',
        );
      } else {
        await tm.waitForLog('restored', (l) => l.msg === 'restored');
        await new Promise((r) => setTimeout(r, 50 + Math.floor(random() * 600)));
      }
      tm.signal('SIGKILL');
      assert.equal(await tm.exited, null, 'killed by the signal');
      landed[point]++;
    }
    const lastProcess = start(settings);
    const records = await readCommitted(output, partitions, {
      expected: produced,
      timeoutMs: 120_000,
      quietMs: 2000,
    });
    // The output may all be committed before the last process restored (its killed predecessor committed it):
    // a SIGTERM before its handler is installed would end it by the signal, not with its clean stop.
    await lastProcess.waitForLog(
      'both tasks restored',
      (l) => l.msg === 'restored' && count(lastProcess.lines, 'restored') >= 2,
    );
    lastProcess.signal('SIGTERM');
    assert.equal(await lastProcess.exited, 0, lastProcess.exitReport());
    // Each task fenced its killed predecessor itself, ahead of librdkafka's initialisation (and its 500 ms retry).
    assert.equal(count(lastProcess.lines, 'fenced the earlier holder of the transactional id'), 2);
    assert.deepEqual(landed, { upload: 6, materialized: 6, beforeCommit: 6, random: 6 });
    assert.equal(records.length, produced, 'read_committed output has one record per input record');
    assertExactlyOnce(emittedCounts(records), expectedCounts(produced, keys));
    assert.deepEqual(await committedCounts(group, input, partitions), expectedCounts(produced, keys));
    const offsets = await committedOffsets(group, input, partitions);
    assert.equal(
      offsets.reduce((sum, o) => sum + o.offset, 0),
      produced,
      'committed offsets cover every input record',
    );
  });

  it("after a rescale from 3 tasks to 2, aborts the removed task's open transaction instead of stalling readers", async () => {
    const input = uniqueName('rescale-in');
    const output = uniqueName('rescale-out');
    await createTopics({ name: input, partitions: 6 }, { name: output, partitions });
    const runId = uniqueName('r');
    await produce(input, keyedInput(0, 600, keys));
    // An interval longer than the test keeps every task's transaction open when the process dies, and the
    // long checkpoint timeout raises the transaction timeout to the broker's maximum (15 min): within this
    // test only the new layout's abort can let a read_committed reader past t2's records.
    const before = start({
      job: 'rescale',
      runId,
      input,
      output,
      parallelism: 3,
      tasks: [0, 1, 2],
      interval: '60s',
      timeout: '10m',
    });
    // Every record is written, inside the three tasks' open transactions, before the kill.
    await readUncommitted(output, partitions, { expected: 600, timeoutMs: 60_000, quietMs: 0 });
    assert.equal(
      count(before.lines, 'checkpoint: committed'),
      0,
      'no transaction was committed before the kill',
    );
    before.signal('SIGKILL');
    await before.exited;
    const after = start({ job: 'rescale', runId, input, output, parallelism: 2, tasks: [0, 1] });
    await after.waitForLog(
      'the removed task t2 fenced',
      (l) =>
        l.msg === 'fenced a task of an earlier layout before this one reads offsets' &&
        l.transactionalId === `weir.e2e.rescale.${runId}.s0.t2`,
    );
    const records = await readCommitted(output, partitions, { expected: 600, timeoutMs: 120_000 });
    after.signal('SIGTERM');
    assert.equal(await after.exited, 0, after.exitReport());
    assertExactlyOnce(emittedCounts(records), expectedCounts(600, keys));
  });

  it('fences a zombie: the old process, resumed after a new one took over, cannot commit', async () => {
    const input = uniqueName('zombie-in');
    const output = uniqueName('zombie-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    const settings = { job: 'zombie', runId: uniqueName('r'), input, output, parallelism: 1, tasks: [0] };
    await produce(input, keyedInput(0, 500, keys));
    const old = start(settings);
    await old.waitForLog('a first commit', (l) => l.msg === 'checkpoint: committed');
    old.signal('SIGSTOP');
    await produce(input, keyedInput(500, 500, keys));
    const successor = start(settings);
    await successor.waitForLog('restored', (l) => l.msg === 'restored');
    await readCommitted(output, partitions, { expected: 1000, timeoutMs: 60_000, quietMs: 500 });
    // The zombie wakes up with records it read before the pause and an open transaction.
    await produce(input, keyedInput(1000, 200, keys));
    old.signal('SIGCONT');
    const code = await old.exited;
    assert.equal(code, 1, 'the zombie fails instead of committing');
    const failure = old.lines.find((l) => l.code === 'TASK_FENCED');
    assert.match(
      String(failure?.msg),
      /^task 0 was fenced: a newer attempt of it took over its transactional id, so this TaskManager is a zombie/,
      JSON.stringify(old.lines.filter((l) => Number(l.level) >= 50)),
    );
    const records = await readCommitted(output, partitions, { expected: 1200, timeoutMs: 60_000 });
    successor.signal('SIGTERM');
    assert.equal(await successor.exited, 0, successor.exitReport());
    // Anything the zombie committed after waking would show here as a duplicate count.
    assertExactlyOnce(emittedCounts(records), expectedCounts(1200, keys));
  });
});
