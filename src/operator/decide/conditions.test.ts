import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Phase } from '../../api/streamjob.ts';
import { type JobConditionsInput, jobConditions } from './conditions.ts';

const now = new Date('2026-11-30T10:00:00Z');
const input = (phase: Phase, fields: Partial<JobConditionsInput> = {}): JobConditionsInput => ({
  phase,
  parallelism: 2,
  readyTasks: 0,
  failedMessage: 'f',
  recentlyFailed: false,
  generation: 3,
  now,
  ...fields,
});
const unschedulable = {
  pod: 'wc-tm-0',
  reason: 'Unschedulable',
  message: '0/2 nodes are available: 2 Insufficient cpu.',
};

describe('the Ready condition names why pods do not start', () => {
  const cases: { name: string; input: JobConditionsInput; reason: string; message: string | RegExp }[] = [
    {
      name: 'Deploying, no problem: the phase',
      input: input('Deploying'),
      reason: 'Deploying',
      message: '0/2 tasks ready',
    },
    {
      name: 'Deploying, a pod the scheduler cannot place: its reason and message',
      input: input('Deploying', { podProblems: [unschedulable] }),
      reason: 'Unschedulable',
      message: '0/2 tasks ready; pod wc-tm-0: Unschedulable: 0/2 nodes are available: 2 Insufficient cpu.',
    },
    {
      name: 'several pods: the first, and how many more',
      input: input('Restarting', { podProblems: [unschedulable, { ...unschedulable, pod: 'wc-tm-1' }] }),
      reason: 'Unschedulable',
      message: /\(and 1 more pod\(s\)\)$/,
    },
    {
      name: 'an image that cannot be pulled',
      input: input('Upgrading', {
        podProblems: [{ pod: 'wc-tm-1', reason: 'ErrImagePull', message: 'image "x:9" not found' }],
      }),
      reason: 'ErrImagePull',
      message: /pod wc-tm-1: ErrImagePull: image "x:9" not found$/,
    },
    {
      name: 'a reason that is not a CamelCase word becomes PodNotStarted',
      input: input('Deploying', { podProblems: [{ pod: 'wc-tm-0', reason: 'bad reason!', message: 'm' }] }),
      reason: 'PodNotStarted',
      message: /bad reason!: m$/,
    },
    {
      name: 'Running: every task is ready, a leftover problem does not show',
      input: input('Running', { readyTasks: 2, podProblems: [unschedulable] }),
      reason: 'Running',
      message: 'all 2 tasks are ready',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { conditions, readyMessage } = jobConditions([], c.input);
      const ready = conditions.find((x) => x.type === 'Ready');
      assert.equal(ready?.reason, c.reason);
      assert.equal(ready?.observedGeneration, 3);
      if (typeof c.message === 'string') assert.equal(ready?.message, c.message);
      else assert.match(ready?.message ?? '', c.message);
      assert.equal(readyMessage, ready?.message);
    });
  }
});

describe('the Progressing condition during a warm upgrade', () => {
  it('Running while the new version warms: Progressing True, reason Upgrading, saying so', () => {
    const { conditions } = jobConditions(
      [],
      input('Running', {
        readyTasks: 2,
        upgrade: { step: 'Warming', fromGeneration: 2, toGeneration: 3, savepointId: 'upgrade-1' },
      }),
    );
    const progressing = conditions.find((c) => c.type === 'Progressing');
    assert.equal(progressing?.status, 'True');
    assert.equal(progressing?.reason, 'Upgrading');
    assert.equal(progressing?.message, 'generation 3 warms its state beside generation 2, which runs on');
    assert.equal(conditions.find((c) => c.type === 'Ready')?.status, 'True', 'the old version is ready');
  });
});
