import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import {
  type NoProgressDocument,
  stoppedOnSigtermMessage,
  type TaskStatusDocument,
} from '../api/control-api.ts';
import { FilesystemStorage } from '../storage/filesystem-storage.ts';
import { readManifest } from './checkpoint/savepoint-manifest.ts';
import type { CheckpointReport } from './task/checkpointer.ts';
import {
  type ManagedStandby,
  type ManagedTask,
  TaskManager,
  type TaskManagerDeps,
  taskManagerTransitions,
} from './task-manager.ts';

const log = pino({ level: 'silent' });
const directories: string[] = [];
after(() => {
  for (const d of directories) rmSync(d, { recursive: true, force: true });
});

function storage(): FilesystemStorage {
  const directory = mkdtempSync(join(tmpdir(), 'weir-tm-'));
  directories.push(directory);
  return new FilesystemStorage(directory);
}

/** A task whose steps the test scripts and records: restore, a run loop that ends when asked, close, savepoint. */
class TestingTask implements ManagedTask {
  readonly index: number;
  readonly stage: number;
  readonly label: { task: string };
  readonly calls: string[] = [];
  restoreError: Error | undefined;
  savepointError: Error | undefined;
  private endRun: ((error?: Error) => void) | undefined;

  constructor(index: number, stage = 0) {
    this.index = index;
    this.stage = stage;
    this.label = { task: stage ? `s${stage}t${index}` : `t${index}` };
  }

  report(checkpointId: number): CheckpointReport {
    return {
      stage: this.stage,
      task: this.index,
      checkpointId,
      bytes: 10,
      durationMs: 1,
      partitions: [
        {
          topic: this.stage ? 'repartition' : 'in',
          partition: this.index,
          offset: 40 + this.index,
          pointer: { checkpointId, objectKey: `t${this.index}.snap`, start: 0, length: 10, sha256: 'x' },
        },
      ],
    };
  }

  async restore(): Promise<void> {
    this.calls.push('restore');
    if (this.restoreError) throw this.restoreError;
  }

  run(): Promise<void> {
    this.calls.push('run');
    return new Promise((resolve, reject) => {
      this.endRun = (error) => (error ? reject(error) : resolve());
    });
  }

  /** The run loop throws, as a task whose commit failed does. */
  crash(error: Error): void {
    this.endRun?.(error);
  }

  async savepoint(id: string): Promise<CheckpointReport | undefined> {
    this.calls.push(`savepoint ${id}`);
    if (this.savepointError) throw this.savepointError;
    return this.report(7);
  }

  requestStop(): void {
    this.calls.push('requestStop');
    this.endRun?.();
  }

  async close(options: {
    finalCheckpoint: boolean;
    savepointId?: string;
  }): Promise<CheckpointReport | undefined> {
    this.calls.push(
      `close ${options.finalCheckpoint ? 'final' : 'abort'}${options.savepointId ? ` ${options.savepointId}` : ''}`,
    );
    return options.finalCheckpoint ? this.report(8) : undefined;
  }

  fail(): void {
    this.calls.push('fail');
  }

  status(): TaskStatusDocument {
    return {
      task: this.index,
      state: 'running',
      partitions: [],
      lastCheckpointId: 8,
      lastCheckpoint: null,
      committedAsOf: null,
      sinceCommitMs: null,
      consecutiveCheckpointFailures: 0,
    };
  }

  progress() {
    return { task: this.index, state: 'running', committedAsOf: 0, lag: 0 };
  }
}

/** A standby task whose readiness and failure the test sets. */
class TestingStandby implements ManagedStandby {
  ready = false;
  closed = false;
  fail: (error: unknown) => void = () => undefined;
  start(onFailure: (error: unknown) => void): void {
    this.fail = onFailure;
  }
  status() {
    return { stage: 0, task: 0, state: 'tailing' as const, lag: this.ready ? 0 : 20_000, applied: 5 };
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function taskManager(tasks: TestingTask[], over: Partial<TaskManagerDeps> = {}) {
  const messages: string[] = [];
  const deps: TaskManagerDeps = {
    config: {
      namespace: 'ns',
      job: 'job',
      runId: 'r1',
      parallelism: 2,
      tasks: [0, 1],
      restoreSavepoint: 'sp-0',
    },
    tasks,
    storage: storage(),
    operatorIds: ['count'],
    health: { check: () => undefined },
    writeTerminationMessage: (text) => {
      messages.push(text);
      return true;
    },
    log,
    now: () => Date.parse('2026-12-06T10:00:00Z'),
    shutdownTimeoutMs: 20_000,
    ...over,
  };
  return { tm: new TaskManager(deps), messages, deps };
}

async function running(tasks: TestingTask[], over: Partial<TaskManagerDeps> = {}) {
  const made = taskManager(tasks, over);
  assert.equal(await made.tm.restoreAll(), true);
  made.tm.runAll();
  return made;
}

describe('TaskManager', () => {
  it('has an explicit transition table: final states go nowhere', () => {
    assert.deepEqual(taskManagerTransitions.stopped, []);
    assert.deepEqual(taskManagerTransitions.failed, []);
    assert.ok(!taskManagerTransitions.created.includes('running'), 'never runs before it restored');
  });

  it('restores every task, is ready once all run, and a stop takes a last checkpoint of each and ends with 0', async () => {
    const tasks = [new TestingTask(0), new TestingTask(1)];
    const { tm } = taskManager(tasks);
    assert.equal(tm.ready, false);
    assert.equal(await tm.restoreAll(), true);
    tm.runAll();
    assert.equal(tm.ready, true);
    const outcome = await tm.stop(undefined, 'SIGTERM');
    assert.equal(await tm.finished, 0);
    assert.equal(tm.state, 'stopped');
    assert.deepEqual(
      outcome.reports.map((r) => r?.checkpointId),
      [8, 8],
    );
    for (const t of tasks) assert.deepEqual(t.calls, ['restore', 'run', 'requestStop', 'close final']);
  });

  it('a stop on SIGTERM says so in the termination message once its work is committed; a requested stop does not', async () => {
    const signalled = await running([new TestingTask(0)]);
    signalled.tm.terminate();
    assert.equal(await signalled.tm.finished, 0);
    assert.deepEqual(signalled.messages, [stoppedOnSigtermMessage]);
    const requested = await running([new TestingTask(0)]);
    await requested.tm.stopForRequest(undefined);
    assert.deepEqual(requested.messages, []);
  });

  it('a stop with a savepoint: the first stage commits its part in its last checkpoint, a later stage cuts at the barriers first; the manifest part and the termination message are written before it ends', async () => {
    const first = new TestingTask(0, 0);
    const second = new TestingTask(0, 1);
    const { tm, messages, deps } = await running([first, second], {
      config: { namespace: 'ns', job: 'job', runId: 'r1', parallelism: 1, tasks: [0] },
    });
    const answer = (await tm.stopForRequest('sp-1')) as { savepointId: string; manifest: string };
    assert.equal(answer.savepointId, 'sp-1');
    assert.deepEqual(first.calls.slice(2), ['requestStop', 'close final sp-1']);
    assert.deepEqual(second.calls.slice(2), ['savepoint sp-1', 'requestStop', 'close final']);
    assert.deepEqual(messages, ['SAVEPOINT_COMPLETE: sp-1']);
    const manifest = await readManifest(deps.storage, 'ns', 'job', 'sp-1');
    assert.deepEqual(
      manifest.partitions.map((p) => [p.topic, p.offset]),
      [
        ['in', 40],
        ['repartition', 40],
      ],
    );
    assert.deepEqual(manifest.operatorIds, ['count']);
    assert.equal(await tm.finished, 0);
  });

  it('a second stop joins the first; one with another savepoint is refused, retriably, naming both', async () => {
    const { tm } = await running([new TestingTask(0), new TestingTask(1)]);
    const plain = tm.stopForRequest(undefined);
    await assert.rejects(tm.stopForRequest('sp-2'), {
      code: 'SAVEPOINT_FAILED',
      retriable: true,
      message: 'savepoint sp-2: this TaskManager was already stopping without a savepoint',
    });
    assert.deepEqual(await plain, await tm.stopForRequest(undefined));
  });

  it('a task that fails fails the TaskManager: its cause is written once, every task is asked to stop, exit 1', async () => {
    const tasks = [new TestingTask(0), new TestingTask(1)];
    const { tm, messages } = await running(tasks);
    tasks[0]?.crash(
      Object.assign(new Error('commit refused'), { code: 'KAFKA_COMMIT_FAILED', retriable: true }),
    );
    assert.equal(await tm.finished, 1);
    assert.equal(tm.state, 'failed');
    assert.deepEqual(messages, ['KAFKA_COMMIT_FAILED: commit refused']);
    assert.ok(tasks[0]?.calls.includes('fail'));
    assert.ok(tasks[1]?.calls.includes('requestStop'));
    // What fails after the first failure is its consequence: neither a new cause nor another end.
    tasks[1]?.crash(new Error('later'));
    await tm.closeAfterFailure();
    assert.deepEqual(messages, ['KAFKA_COMMIT_FAILED: commit refused']);
    assert.deepEqual(tasks[1]?.calls.slice(-1), ['close abort']);
    await assert.rejects(tm.stopForRequest('sp-3'), {
      message: 'savepoint sp-3: this TaskManager had failed already',
    });
  });

  it('a restore that fails fails the TaskManager and no task runs', async () => {
    const tasks = [new TestingTask(0), new TestingTask(1)];
    (tasks[1] as TestingTask).restoreError = Object.assign(new Error('object gone'), {
      code: 'SNAPSHOT_MISSING',
    });
    const { tm, messages } = taskManager(tasks);
    assert.equal(await tm.restoreAll(), false);
    assert.equal(await tm.finished, 1);
    assert.deepEqual(messages, ['SNAPSHOT_MISSING: object gone']);
    for (const t of tasks) assert.ok(!t.calls.includes('run'));
    assert.throws(() => tm.runAll(), { code: 'TASKMANAGER_TRANSITION_INVALID' });
  });

  it('a stop during the restore: the tasks never run', async () => {
    const tasks = [new TestingTask(0)];
    const { tm } = taskManager(tasks);
    const restoring = tm.restoreAll();
    await tm.stop(undefined, 'SIGTERM');
    assert.equal(await restoring, false);
    assert.equal(await tm.finished, 0);
    assert.ok(!tasks[0]?.calls.includes('run'));
  });

  it('SIGTERM while a task is stalled ends failed at once with NO_PROGRESS', async () => {
    const stalled: NoProgressDocument = {
      code: 'NO_PROGRESS',
      message: 'no commit within the progress window of 6s: task 0',
      progressWindowMs: 6_000,
      stalled: [{ task: 0, lag: 3, sinceCommitMs: 7_000 }],
    };
    const tasks = [new TestingTask(0)];
    const { tm, messages } = await running(tasks, { health: { check: () => stalled } });
    tm.terminate();
    assert.equal(await tm.finished, 1);
    assert.deepEqual(messages, ['NO_PROGRESS: no commit within the progress window of 6s: task 0']);
    assert.ok(!tasks[0]?.calls.includes('close final'), 'no last checkpoint: it could not commit anyway');
  });

  it('a stop that overruns its time ends failed', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const task = new TestingTask(0);
    let release: () => void = () => {};
    task.close = () => new Promise((resolve) => (release = () => resolve(undefined)));
    const { tm } = await running([task], { shutdownTimeoutMs: 1_000 });
    const stopping = tm.stop(undefined, 'SIGTERM');
    await new Promise((resolve) => setImmediate(resolve));
    t.mock.timers.tick(1_000);
    assert.equal(await tm.finished, 1);
    release();
    await stopping;
    assert.equal(tm.state, 'failed', 'the late end changes nothing');
  });

  it('deletes a savepoint dropped from the history, never the one the run restores from', async () => {
    const { tm, deps } = await running([new TestingTask(0), new TestingTask(1)]);
    await tm.savepoint('sp-9');
    assert.deepEqual(await tm.disposeSavepoint('sp-9'), { savepointId: 'sp-9', deletedObjects: 1 });
    await assert.rejects(readManifest(deps.storage, 'ns', 'job', 'sp-9'));
    await assert.rejects(tm.disposeSavepoint('sp-0'), { code: 'SAVEPOINT_IN_USE', status: 409 });
    await tm.stop(undefined, 'test');
  });

  it('a savepoint a task could not take is not recorded', async () => {
    const tasks = [new TestingTask(0), new TestingTask(1)];
    const { tm } = await running(tasks);
    (tasks[1] as TestingTask).savepointError = new Error('upload failed');
    await assert.rejects(tm.savepoint('sp-4'), /upload failed/);
    await tm.stop(undefined, 'test');
  });

  describe('as a standby (spec.standby)', () => {
    it('warms until promoted, runs no task before, and is ready only once every standby caught up', async () => {
      const task = new TestingTask(0);
      const standby = new TestingStandby();
      const { tm } = taskManager([task], { standbys: [standby] });
      tm.startStandby();
      assert.equal(tm.state, 'standby');
      assert.equal(tm.ready, false);
      standby.ready = true;
      assert.equal(tm.ready, true);
      const status = tm.status();
      assert.equal(status.role, 'standby');
      assert.deepEqual(status.tasks, []);
      assert.equal(status.standby?.[0]?.lag, 0);
      assert.deepEqual(task.calls, []);
      assert.deepEqual(tm.promote(), { promoted: true, warm: 1 });
      assert.deepEqual(tm.promote(), { promoted: false, warm: 0 }, 'a second promotion changes nothing');
      // The restore's storage check is real file I/O: wait for it, bounded.
      for (let i = 0; i < 200 && (tm.state as string) !== 'running'; i++)
        await new Promise((r) => setTimeout(r, 5));
      assert.equal(tm.state, 'running');
      assert.deepEqual(task.calls, ['restore', 'run']);
      assert.equal(tm.status().role, 'active');
      void tm.stop(undefined, 'test');
      assert.equal(await tm.finished, 0);
      assert.equal(standby.closed, true);
    });

    it('a stop before the promotion closes the standbys and ends with 0; a promotion then is refused with 409', async () => {
      const task = new TestingTask(0);
      const standby = new TestingStandby();
      const { tm } = taskManager([task], { standbys: [standby] });
      tm.startStandby();
      await tm.stop(undefined, 'SIGTERM');
      assert.equal(await tm.finished, 0);
      assert.equal(standby.closed, true);
      assert.throws(() => tm.promote(), { status: 409, code: 'NOT_PROMOTABLE' });
    });

    it('a standby that fails for good fails the TaskManager with its cause', async () => {
      const standby = new TestingStandby();
      const { tm, messages } = taskManager([new TestingTask(0)], { standbys: [standby] });
      tm.startStandby();
      standby.fail(
        Object.assign(new Error('changelog record x: key is not UTF-8'), {
          code: 'CHANGELOG_RECORD_INVALID',
        }),
      );
      assert.equal(await tm.finished, 1);
      assert.match(messages[0] ?? '', /CHANGELOG_RECORD_INVALID/);
    });
  });
});
