import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { repositoryRoot } from '../../support/cli.ts';
import { exactlyOnceProblems } from '../../support/committed-state.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import {
  type TaskManagerProcess,
  type TaskManagerSettings,
  TaskManagers,
} from '../../support/taskmanager-process.ts';
import { emittedWordCounts, expectedWordCounts, totalCount, wordLines } from '../../support/word-input.ts';

const partitions = 4;
const vocabulary = Array.from({ length: 24 }, (_, i) => `w${i}`);
const wordCountEntry = { WEIR_ENTRY: `${repositoryRoot}/src/jobs/word-count.ts` };

/** Lines of 1..6 words drawn from the vocabulary, and how often each word occurs in them. */
function lines(random: () => number, n: number, from: number, counts: Map<string, number>) {
  return Array.from({ length: n }, (_, i) => {
    const words = Array.from(
      { length: 1 + Math.floor(random() * 6) },
      () => vocabulary[Math.floor(random() * vocabulary.length)] as string,
    );
    for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
    return { key: `line-${from + i}`, value: words.join(' ') };
  });
}

describe('TaskManager runtime: word count, two stages through a repartition topic', () => {
  const taskManagers = new TaskManagers();
  after(() => taskManagers.killAll());
  const start = (settings: TaskManagerSettings, env: NodeJS.ProcessEnv = {}) =>
    taskManagers.start(settings, { ...wordCountEntry, ...env });

  it('counts every word exactly once through 12 SIGKILLs spread over both stages while lines flow', async (t) => {
    const random = seededRandom(t);
    const input = uniqueName('wc-in');
    const output = uniqueName('wc-out');
    await createTopics({ name: input, partitions }, { name: output, partitions });
    const base = { job: uniqueName('wc'), runId: 'r1', input, output, parallelism: 2, interval: '250ms' };
    // Two TaskManagers, each running its task of both stages: a kill is a region failover of one of them.
    const pods: TaskManagerProcess[] = [start({ ...base, tasks: [0] }), start({ ...base, tasks: [1] })];
    const expected = new Map<string, number>();
    let produced = 0;
    const kills = { stage0: 0, stage1: 0 };
    for (let round = 0; round < 12; round++) {
      const victim = round % 2;
      const pod = pods[victim] as TaskManagerProcess;
      // Half the kills land between a first-stage task's snapshot and its commit (its outputs to the
      // repartition topic in an open transaction), half at that point of a second-stage task.
      const stage = Math.floor(round / 2) % 2;
      const uploading = pod.waitForNextLog(
        `stage ${stage} committing`,
        (l) => l.msg === 'checkpoint: snapshot stored, committing' && (l.stage ?? 0) === stage,
        60_000,
      );
      await produce(input, lines(random, 150, produced, expected));
      produced += 150;
      await uploading;
      await new Promise((r) => setTimeout(r, Math.floor(random() * 30)));
      pod.signal('SIGKILL');
      assert.equal(await pod.exited, null, 'killed by the signal');
      kills[stage === 0 ? 'stage0' : 'stage1']++;
      pods[victim] = start({ ...base, tasks: [victim] });
    }
    await produce(input, lines(random, 150, produced, expected));
    const records = await readCommitted(output, partitions, {
      expected: totalCount(expected),
      timeoutMs: 180_000,
      quietMs: 2_000,
    });
    for (const pod of pods) pod.signal('SIGTERM');
    for (const pod of pods) assert.equal(await pod.exited, 0, pod.exitReport());
    assert.deepEqual(kills, { stage0: 6, stage1: 6 });
    assert.equal(records.length, totalCount(expected), 'one output per word occurrence');
    // Every word's counts are 1..n once each, in order: nothing lost or duplicated across the repartition.
    assert.deepEqual(exactlyOnceProblems(emittedWordCounts(records), expected), []);
  });

  it('a savepoint taken while lines flow is a consistent cut: a new run from it continues every count exactly', async (t) => {
    const random = seededRandom(t);
    const input = uniqueName('wcsp-in');
    const firstOut = uniqueName('wcsp-out1');
    const secondOut = uniqueName('wcsp-out2');
    await createTopics(
      { name: input, partitions },
      { name: firstOut, partitions },
      { name: secondOut, partitions },
    );
    const token = 'word-count-savepoint-token';
    const base = { job: uniqueName('wcsp'), input, parallelism: 2, interval: '300ms', token };
    const first = [
      start({ ...base, runId: 'r1', output: firstOut, tasks: [0] }),
      start({ ...base, runId: 'r1', output: firstOut, tasks: [1] }),
    ];
    const expected = new Map<string, number>();
    let produced = 0;
    await produce(input, lines(random, 300, produced, expected));
    produced += 300;
    // Lines keep arriving while the savepoint is taken, so records are in flight in the repartition topic.
    let flowing = true;
    const feeding = (async () => {
      for (let i = 0; i < 40 && flowing; i++) {
        await produce(input, lines(random, 25, produced, expected));
        produced += 25;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    for (const pod of first) {
      await pod.waitForLog(
        'the second stage committed',
        (l) => l.msg === 'checkpoint: committed' && l.stage === 1,
      );
    }
    // The second TaskManager is asked a second later: meanwhile the first one's upstream task writes records
    // after its barrier, which the downstream tasks must hold back until the other barrier arrives.
    const answers = await Promise.all(
      first.map(async (pod, i) => {
        const url = await pod.controlUrl();
        await new Promise((r) => setTimeout(r, i * 1_000));
        return fetch(`${url}/v1/savepoints`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}` },
          body: JSON.stringify({ id: 'mid-stream' }),
        });
      }),
    );
    for (const answer of answers) assert.equal(answer.status, 200, await answer.clone().text());
    flowing = false;
    await feeding;
    // The first run goes on; the second starts from the savepoint and must produce, per word, exactly the
    // counts after the cut: its first output of a word continues from the count the savepoint holds.
    const firstRecords = await readCommitted(firstOut, partitions, {
      expected: totalCount(expected),
      timeoutMs: 120_000,
      quietMs: 1_000,
    });
    assert.deepEqual(exactlyOnceProblems(emittedWordCounts(firstRecords), expected), []);
    for (const pod of first) pod.signal('SIGTERM');
    for (const pod of first) assert.equal(await pod.exited, 0, pod.exitReport());

    const second = [
      start(
        { ...base, runId: 'r2', output: secondOut, tasks: [0] },
        { WEIR_RESTORE_SAVEPOINT: 'mid-stream' },
      ),
      start(
        { ...base, runId: 'r2', output: secondOut, tasks: [1] },
        { WEIR_RESTORE_SAVEPOINT: 'mid-stream' },
      ),
    ];
    // What the second run emits per word must be exactly the counts from (savepoint's count + 1) to the final.
    // The savepoint's count of a word is unknown here, so it is read off the first output of the word: the
    // check is that the counts are then gapless, unduplicated and end at the word's true total.
    const secondRecords = await readCommitted(secondOut, partitions, {
      expected: 1,
      timeoutMs: 120_000,
      quietMs: 5_000,
    });
    for (const pod of second) pod.signal('SIGTERM');
    for (const pod of second) assert.equal(await pod.exited, 0, pod.exitReport());
    const emitted = emittedWordCounts(secondRecords);
    const from = new Map([...emitted].map(([word, counts]) => [word, (counts[0] as number) - 1]));
    const afterCut = new Map([...expected].filter(([word]) => emitted.has(word)));
    assert.deepEqual(exactlyOnceProblems(emitted, afterCut, from), []);
    // The cut is consistent only if the counts the second run starts from are the first run's at one moment:
    // every word's first count in the second run appears in the first run's output for that word.
    const firstEmitted = emittedWordCounts(firstRecords);
    for (const [word, before] of from) {
      assert.ok(
        before === 0 || (firstEmitted.get(word) ?? []).includes(before),
        `${word}: the second run continues from ${before}, a count the first run reached`,
      );
    }
    assert.ok(secondRecords.length > 0, 'the second run re-processed what followed the cut');
  });
});

describe('TaskManager runtime: rescaling word count', () => {
  const taskManagers = new TaskManagers();
  after(() => taskManagers.killAll());

  it('keeps every word’s count through a rescale from 2 tasks to 3 and back to 1 (last-state, same run)', async () => {
    const input = uniqueName('wcr-in');
    const output = uniqueName('wcr-out');
    await createTopics({ name: input, partitions: 6 }, { name: output, partitions });
    const base = { job: uniqueName('wcr'), runId: 'r1', input, output, interval: '300ms' };
    const expected = expectedWordCounts(0);
    let lines = 0;
    for (const layout of [2, 3, 1]) {
      const pods = Array.from({ length: layout }, (_, task) =>
        taskManagers.start({ ...base, parallelism: layout, tasks: [task] }, wordCountEntry),
      );
      await produce(input, wordLines(lines, 400));
      lines += 400;
      for (const [word, n] of expectedWordCounts(lines)) expected.set(word, n);
      const committed = await readCommitted(output, partitions, {
        expected: totalCount(expected),
        timeoutMs: 120_000,
        quietMs: 500,
      });
      // On a failure, what each TaskManager said last: the processes' logs are not kept anywhere else.
      const lastLines = () => JSON.stringify(pods.map((pod) => pod.lines.slice(-8)));
      assert.ok(
        committed.length >= totalCount(expected),
        `with ${layout} tasks only ${committed.length} of ${totalCount(expected)} counts were committed within 120 s; last log lines: ${lastLines()}`,
      );
      for (const pod of pods) pod.signal('SIGTERM');
      for (const pod of pods) {
        assert.equal(await pod.exited, 0, `with ${layout} tasks: ${pod.stderr} ${lastLines()}`);
      }
    }
    const records = await readCommitted(output, partitions, {
      expected: totalCount(expected),
      timeoutMs: 60_000,
      quietMs: 1_000,
    });
    assert.deepEqual(exactlyOnceProblems(emittedWordCounts(records), expected), []);
  });
});
