import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { FilesystemStorage } from '../../storage/filesystem-storage.ts';
import { loadTaskManagerConfig } from '../config.ts';
import { awaitLayout, fenceLayout } from './layout.ts';

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

const config = (parallelism: number) =>
  loadTaskManagerConfig({
    WEIR_NAMESPACE: 'ns',
    WEIR_JOB: 'job',
    WEIR_RUN_ID: 'r1',
    WEIR_TASKS: '0',
    WEIR_PARALLELISM: String(parallelism),
    WEIR_ENTRY: 'job.js',
    WEIR_OFFSET_GROUP: 'weir.ns.job.r1',
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
    assert.deepEqual(down.fenced, ['weir.ns.job.r1.s0.t1', 'weir.ns.job.r1.s0.t2']);
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
      awaitLayout(s, config(3), log, {
        timeoutMs: 5_000,
        now: () => clock.now,
        wait: async (ms) => {
          clock.now += ms;
        },
      }),
      {
        code: 'LAYOUT_NOT_FENCED',
        retriable: true,
        message: /task 0 of the run did not record layout 3 within 5000 ms \(.*layout\.json says 2\)/,
      },
    );
  });

  it('lets a task of the new layout go on once task 0 has recorded it', async () => {
    const s = storage();
    await fenceLayout(s, config(2), 1, log, testingFence().fence);
    const clock = { now: 0 };
    let waits = 0;
    const waiting = awaitLayout(s, config(3), log, {
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

  it('does not wait in a run that has recorded no layout yet: none of its tasks can have committed', async () => {
    const s = storage();
    let waits = 0;
    await awaitLayout(s, config(3), log, {
      timeoutMs: 60_000,
      now: () => 0,
      wait: async () => {
        waits++;
      },
    });
    assert.equal(waits, 0);
  });
});
