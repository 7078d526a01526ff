import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TaskLifecycle, type TaskState, taskTransitions } from './lifecycle.ts';

describe('task lifecycle', () => {
  it('walks the normal path and reports every transition', () => {
    const seen: string[] = [];
    const lifecycle = new TaskLifecycle((from, to) => seen.push(`${from}>${to}`));
    for (const s of [
      'restoring',
      'running',
      'checkpointing',
      'running',
      'stopping',
      'stopped',
    ] as TaskState[]) {
      lifecycle.to(s);
    }
    assert.deepEqual(seen, [
      'created>restoring',
      'restoring>running',
      'running>checkpointing',
      'checkpointing>running',
      'running>stopping',
      'stopping>stopped',
    ]);
  });

  const forbidden: [TaskState[], TaskState][] = [
    [[], 'running'],
    [['restoring'], 'checkpointing'],
    [['restoring', 'running', 'stopping', 'stopped'], 'running'],
    [['failed'], 'restoring'],
  ];
  for (const [path, next] of forbidden) {
    it(`refuses ${[...path].pop() ?? 'created'} → ${next}`, () => {
      const lifecycle = new TaskLifecycle();
      for (const s of path) lifecycle.to(s);
      assert.throws(() => lifecycle.to(next), { code: 'TASK_TRANSITION_INVALID' });
    });
  }

  it('lets every live state fail, and no terminal state move', () => {
    for (const [state, next] of Object.entries(taskTransitions)) {
      if (state === 'stopped' || state === 'failed') assert.deepEqual(next, []);
      else assert.ok(next.includes('failed'), state);
    }
  });
});
