import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { layoutKey } from '../../api/names.ts';
import { FilesystemStorage } from '../../storage/filesystem-storage.ts';
import { loadTaskManagerConfig } from '../config.ts';
import { awaitLayout, fenceLayout, idsToFence } from './layout.ts';

const log = pino({ level: 'silent' });
const directories: string[] = [];
after(() => {
  for (const d of directories) rmSync(d, { recursive: true, force: true });
});

function storage(): FilesystemStorage {
  const directory = mkdtempSync(join(tmpdir(), 'weir-layout-'));
  directories.push(directory);
  return new FilesystemStorage(directory);
}

const config = (parallelism: number, run = 'r1') =>
  loadTaskManagerConfig({
    WEIR_NAMESPACE: 'ns',
    WEIR_JOB: 'job',
    WEIR_RUN_ID: run,
    WEIR_TASKS: '0',
    WEIR_PARALLELISM: String(parallelism),
    WEIR_ENTRY: 'job.js',
    WEIR_OFFSET_GROUP: `weir.ns.job.${run}`,
    WEIR_S3_URL: 's3://unused/prefix',
    WEIR_KAFKA_BOOTSTRAP: 'unused:9092',
    WEIR_CONTROL_TOKEN: 'unused',
  });

/** A fence that records the ids it was asked to fence, in order. */
function testingFence() {
  const fenced: string[] = [];
  return { fenced, fence: async (id: string) => void fenced.push(id) };
}

describe('the layout fence between a run’s layouts', () => {
  it('on a rescale fences every id of the previous layout, of every stage, before recording the new layout', async () => {
    const s = storage();
    const first = testingFence();
    assert.deepEqual(
      await fenceLayout(s, config(2), 2, log, first.fence),
      [],
      'a first start has nothing to fence',
    );
    const up = testingFence();
    await fenceLayout(s, config(3), 2, log, up.fence);
    // Task 0 of stage 0 is the fencer itself, initialised by its own producer.
    assert.deepEqual(up.fenced, ['weir.ns.job.r1.s0.t1', 'weir.ns.job.r1.s1.t0', 'weir.ns.job.r1.s1.t1']);
    const down = testingFence();
    await fenceLayout(s, config(1), 1, log, down.fence);
    // The recorded layout's stages, not the job's now: the previous layout ran two.
    assert.deepEqual(down.fenced, [
      'weir.ns.job.r1.s0.t1',
      'weir.ns.job.r1.s0.t2',
      'weir.ns.job.r1.s1.t0',
      'weir.ns.job.r1.s1.t1',
      'weir.ns.job.r1.s1.t2',
    ]);
    const again = testingFence();
    await fenceLayout(s, config(1), 1, log, again.fence);
    assert.deepEqual(again.fenced, [], 'a restart in the same layout fences nothing more');
  });

  it('records the new layout only after every fence succeeded: a failed fence leaves the others waiting', async () => {
    const s = storage();
    await fenceLayout(s, config(2), 1, log, testingFence().fence);
    const failing = async () => {
      throw new Error('broker unreachable');
    };
    await assert.rejects(fenceLayout(s, config(3), 1, log, failing), /broker unreachable/);
    const clock = { now: 0 };
    await assert.rejects(
      awaitLayout(s, config(3), 1, log, {
        timeoutMs: 5_000,
        now: () => clock.now,
        wait: async (ms) => {
          clock.now += ms;
        },
      }),
      {
        code: 'LAYOUT_NOT_FENCED',
        retriable: true,
        message:
          /task 0 did not record run r1 with parallelism 3 within 5000 ms \(.*layout\.json says run r1 with parallelism 2\)/,
      },
    );
  });

  it('lets a task of the new layout go on once task 0 has recorded it', async () => {
    const s = storage();
    await fenceLayout(s, config(2), 1, log, testingFence().fence);
    const clock = { now: 0 };
    let waits = 0;
    const waiting = awaitLayout(s, config(3), 1, log, {
      timeoutMs: 60_000,
      now: () => clock.now,
      wait: async (ms) => {
        clock.now += ms;
        // Task 0 records the new layout while the other task waits.
        if (++waits === 3) await fenceLayout(s, config(3), 1, log, testingFence().fence);
      },
    });
    await waiting;
    assert.equal(waits, 3);
  });

  it('a new run fences every id of the run before, its own task 0 too, and the others wait for the new run', async () => {
    const s = storage();
    await fenceLayout(s, config(2, 'r1'), 2, log, testingFence().fence);
    const next = testingFence();
    await fenceLayout(s, config(3, 'r2'), 1, log, next.fence);
    assert.deepEqual(next.fenced.sort(), [
      'weir.ns.job.r1.s0.t0',
      'weir.ns.job.r1.s0.t1',
      'weir.ns.job.r1.s1.t0',
      'weir.ns.job.r1.s1.t1',
    ]);
    await awaitLayout(s, config(3, 'r2'), 1, log, { timeoutMs: 0, now: () => 0 });
    await assert.rejects(awaitLayout(s, config(2, 'r1'), 2, log, { timeoutMs: 0, now: () => 0 }), {
      code: 'LAYOUT_NOT_FENCED',
    });
  });

  it('a first start waits for task 0 too: the record is written before any task reads offsets', async () => {
    const s = storage();
    await assert.rejects(awaitLayout(s, config(3), 1, log, { timeoutMs: 0, now: () => 0 }), {
      code: 'LAYOUT_NOT_FENCED',
      message: /says nothing/,
    });
    await fenceLayout(s, config(3), 1, log, testingFence().fence);
    await awaitLayout(s, config(3), 1, log, { timeoutMs: 0, now: () => 0 });
  });

  it('a task 0 that stopped half-way through its fence is fenced by the next one', async () => {
    const s = storage();
    await fenceLayout(s, config(2, 'r1'), 1, log, testingFence().fence);
    // Run r2's task 0 wrote its intent and froze while fencing.
    await assert.rejects(
      fenceLayout(s, config(2, 'r2'), 1, log, async () => {
        throw new Error('frozen');
      }),
      /frozen/,
    );
    const third = testingFence();
    await fenceLayout(s, config(2, 'r3'), 1, log, third.fence);
    assert.deepEqual(third.fenced.sort(), [
      'weir.ns.job.r1.s0.t0',
      'weir.ns.job.r1.s0.t1',
      'weir.ns.job.r2.s0.t0',
    ]);
  });

  it('starts over when another task 0 recorded a layout while it fenced', async () => {
    const s = storage();
    await fenceLayout(s, config(2, 'r1'), 1, log, testingFence().fence);
    let raced = false;
    await assert.rejects(
      fenceLayout(s, config(2, 'r3'), 1, log, async () => {
        if (raced) return;
        raced = true;
        await fenceLayout(s, config(2, 'r2'), 1, log, testingFence().fence);
      }),
      { code: 'LAYOUT_CONTENDED', retriable: true },
    );
    const again = testingFence();
    await fenceLayout(s, config(2, 'r3'), 1, log, again.fence);
    assert.ok(
      again.fenced.includes('weir.ns.job.r2.s0.t1'),
      'the retry fences the layout recorded meanwhile',
    );
  });

  it('reads the run-level record of Weir before format 2 as the current layout', async () => {
    const s = storage();
    await s.put('ns/job/runs/r1/layout.json', Buffer.from('{"formatVersion":1,"parallelism":2}'));
    const up = testingFence();
    await fenceLayout(s, config(3), 1, log, up.fence);
    assert.deepEqual(up.fenced, ['weir.ns.job.r1.s0.t1']);
  });

  it('refuses a record it cannot read, naming the object', async () => {
    const s = storage();
    await s.put(
      layoutKey('ns', 'job'),
      Buffer.from('{"formatVersion":2,"current":{"runId":"r1"},"starting":[]}'),
    );
    await assert.rejects(fenceLayout(s, config(3), 1, log, testingFence().fence), {
      code: 'LAYOUT_INVALID',
      message: /ns\/job\/layout\.json is not a layout record/,
    });
  });
});

describe('idsToFence', () => {
  const layout = (runId: string, parallelism: number, stages = 1) => ({ runId, parallelism, stages });
  const cases: {
    name: string;
    current?: ReturnType<typeof layout>;
    starting?: ReturnType<typeof layout>[];
    own: ReturnType<typeof layout>;
    ids: string[];
  }[] = [
    { name: 'nothing recorded', own: layout('a', 2), ids: [] },
    { name: 'the same layout', current: layout('a', 2), own: layout('a', 2), ids: [] },
    {
      name: 'a rescale, own id left out',
      current: layout('a', 2),
      own: layout('a', 1),
      ids: ['w.ns.j.a.s0.t1'],
    },
    {
      name: 'a new run, every stage',
      current: layout('a', 1, 2),
      own: layout('b', 1),
      ids: ['w.ns.j.a.s0.t0', 'w.ns.j.a.s1.t0'],
    },
    {
      name: 'a layout that began its fence: its task 0 only',
      current: layout('a', 1),
      starting: [layout('b', 4, 3)],
      own: layout('c', 1),
      ids: ['w.ns.j.a.s0.t0', 'w.ns.j.b.s0.t0'],
    },
    {
      name: 'its own earlier intent',
      current: layout('a', 1),
      starting: [layout('b', 1)],
      own: layout('b', 1),
      ids: ['w.ns.j.a.s0.t0'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ids = idsToFence({ current: c.current, starting: c.starting ?? [] }, c.own, 'ns', 'j');
      assert.deepEqual(
        ids.map((id) => id.replace(/^weir\./, 'w.')),
        c.ids,
      );
    });
  }
});
