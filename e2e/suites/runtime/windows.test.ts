import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { repositoryRoot } from '../../support/cli.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../../support/kafka-topics.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { type TaskManagerProcess, TaskManagers } from '../../support/taskmanager-process.ts';

const partitions = 4;
const users = Array.from({ length: 8 }, (_, i) => `u${i}`);
const windowMs = 10_000;
/**
 * Event time of the first view: a whole number of windows, a day ago (the
 * broker refuses timestamps too far ahead, and repartition records carry the event time).
 */
const origin = Math.floor((Date.now() - 86_400_000) / windowMs) * windowMs;

interface View {
  user: string;
  page: string;
  time: number;
}

/**
 * Batch b of page views: 40 views on time (event times in [b·3 s, b·3 s + 3 s)
 * after the origin, up to 1 s out of order), spread over every partition.
 */
function batch(b: number, random: () => number): { onTime: View[]; records: Produced[] } {
  const base = origin + b * 3_000;
  const onTime = Array.from({ length: 40 }, (_, i) => ({
    user: users[Math.floor(random() * users.length)] as string,
    page: `/p${b}-${i}`,
    time: base + Math.floor(random() * 2_000) + (i % 2) * 1_000,
  }));
  return { onTime, records: onTime.map((v, i) => record(`session-${b}-${i}`, v, i % partitions)) };
}

type Produced = { key: string; value: string; partition: number };
const record = (key: string, v: View, partition: number): Produced => ({
  key,
  value: JSON.stringify(v),
  partition,
});

/** Waits until a window starting at `start` or later was emitted: the watermark is past every earlier window. */
async function waitForWindowFrom(output: string, start: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const records = await readCommitted(output, partitions, {
      expected: 1,
      timeoutMs: 5_000,
      quietMs: 100,
    }).catch(() => []);
    if (records.some((r) => (JSON.parse(r.value ?? '{}') as { start: number }).start >= start)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no window from ${start} on was emitted within 60 s`);
}

describe('TaskManager runtime: event-time windows across a repartition', () => {
  const taskManagers = new TaskManagers();
  after(() => taskManagers.killAll());

  it('emits every user-window once with the right count and time sum, and late views to the late topic, through 10 SIGKILLs', async (t) => {
    const random = seededRandom(t);
    const input = uniqueName('pv-in');
    const output = uniqueName('pv-out');
    const lateTopic = uniqueName('pv-late');
    await createTopics(
      { name: input, partitions },
      { name: output, partitions },
      { name: lateTopic, partitions },
    );
    const settings = { job: uniqueName('pv'), runId: 'r1', input, output, parallelism: 2, interval: '250ms' };
    const env = {
      WEIR_ENTRY: `${repositoryRoot}/src/jobs/page-views.ts`,
      WEIR_ARGS: JSON.stringify({
        input,
        output,
        late: lateTopic,
        windowMs,
        outOfOrdernessMs: 5_000,
        idleMs: 600_000,
      }),
    };
    const start = (task: number) => taskManagers.start({ ...settings, tasks: [task] }, env);
    const pods: TaskManagerProcess[] = [start(0), start(1)];
    const onTime: View[] = [];
    const late: View[] = [];
    const batches = 30;
    let kills = 0;
    for (let b = 0; b < batches; b++) {
      const next = batch(b, random);
      onTime.push(...next.onTime);
      const victim = b % 2;
      const pod = pods[victim] as TaskManagerProcess;
      const stage = Math.floor(b / 2) % 2;
      const committing =
        b % 3 === 0 && kills < 10
          ? pod.waitForNextLog(
              `stage ${stage} committing`,
              (l) => l.msg === 'checkpoint: snapshot stored, committing' && (l.stage ?? 0) === stage,
              60_000,
            )
          : undefined;
      await produce(input, next.records);
      if (committing) {
        await committing;
        pod.signal('SIGKILL');
        assert.equal(await pod.exited, null, 'killed by the signal');
        kills++;
        pods[victim] = start(victim);
      }
      if (b % 6 === 5) {
        // Views a minute behind, once the watermark is past their windows: late whatever happens next.
        const behind = origin + b * 3_000 - 60_000;
        await waitForWindowFrom(output, Math.ceil((behind + windowMs) / windowMs) * windowMs);
        const views = [0, 1].map((i) => ({
          user: users[i] as string,
          page: `/late${b}-${i}`,
          time: behind + i,
        }));
        late.push(...views);
        await produce(
          input,
          views.map((v, i) => record(`late-${b}-${i}`, v, (b + i) % partitions)),
        );
      }
    }
    // Views well ahead on every partition move the watermark past every window of the batches above.
    const flushTime = origin + batches * 3_000 + 30_000;
    await produce(
      input,
      Array.from({ length: partitions }, (_, p) => ({
        key: `flush-${p}`,
        value: JSON.stringify({ user: 'flush', page: '/', time: flushTime }),
        partition: p,
      })),
    );
    const expected = new Map<string, { views: number; timeSum: number }>();
    for (const v of onTime) {
      const id = `${v.user}@${Math.floor(v.time / windowMs) * windowMs}`;
      const e = expected.get(id) ?? { views: 0, timeSum: 0 };
      expected.set(id, { views: e.views + 1, timeSum: e.timeSum + Math.floor(v.time / 1000) });
    }
    const records = await readCommitted(output, partitions, {
      expected: expected.size,
      timeoutMs: 180_000,
      quietMs: 3_000,
    });
    const lateRecords = await readCommitted(lateTopic, partitions, {
      expected: late.length,
      timeoutMs: 60_000,
      quietMs: 1_000,
    });
    for (const pod of pods) pod.signal('SIGTERM');
    for (const pod of pods) assert.equal(await pod.exited, 0, pod.exitReport());
    assert.equal(kills, 10);

    const emitted = new Map<string, { views: number; timeSum: number; update: number }[]>();
    for (const r of records) {
      const w = JSON.parse(r.value ?? '{}') as {
        start: number;
        update: number;
        result: { user: string; views: number; timeSum: number };
      };
      if (w.result.user === 'flush') continue;
      const id = `${w.result.user}@${w.start}`;
      emitted.set(
        id,
        [...(emitted.get(id) ?? []), { ...w.result, update: w.update }].map(({ views, timeSum, update }) => ({
          views,
          timeSum,
          update,
        })),
      );
    }
    const problems: string[] = [];
    for (const [id, want] of expected) {
      const got = emitted.get(id) ?? [];
      if (
        got.length !== 1 ||
        got[0]?.views !== want.views ||
        got[0]?.timeSum !== want.timeSum ||
        got[0]?.update !== 0
      ) {
        problems.push(`${id}: expected one result ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
      }
    }
    for (const id of emitted.keys())
      if (!expected.has(id)) problems.push(`${id}: a window no on-time view belongs to`);
    assert.deepEqual(problems, [], 'every user-window exactly once, with the right count and time sum');
    assert.deepEqual(
      lateRecords.map((r) => (JSON.parse(r.value ?? '{}') as View).page).sort(),
      late.map((v) => v.page).sort(),
      'every late view in the late topic, once',
    );
  });
});
