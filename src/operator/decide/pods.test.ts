import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ObservedPod } from './observation.ts';
import { PodPlan, type PodsInput, planPods } from './pods.ts';

const t0 = new Date('2026-03-01T12:00:00Z');
const pod = (index: number, o: Partial<ObservedPod> = {}): ObservedPod => ({
  name: `wc-tm-${index}`,
  uid: `u${index}`,
  index,
  restartEpoch: 1,
  specHash: 'h',
  runId: 'r',
  phase: 'Running',
  ready: true,
  deleting: false,
  ...o,
});
const input = (pods: ObservedPod[], o: Partial<PodsInput> = {}): PodsInput => ({
  observation: { pods, nodes: new Map(), released: new Set() },
  wanted: 2,
  runId: 'r',
  restoreSavepoint: undefined,
  restartEpoch: 1,
  specHash: 'h',
  jobName: 'wc',
  restartDue: undefined,
  now: t0,
  nodeLostTimeoutMs: 30_000,
  ...o,
});

const cases: [string, string[], PodsInput, string[], number[], string[]][] = [
  ['a new job', [], input([]), [], [0, 1], []],
  ['adopts pods an earlier pass created', [], input([pod(0), pod(1)]), [], [], ['wc-tm-0', 'wc-tm-1']],
  [
    'replaces pods of an older epoch',
    ['wc-tm-0'],
    input([pod(0, { restartEpoch: 0 }), pod(1)]),
    ['wc-tm-0 Replaced'],
    [],
    ['wc-tm-1'],
  ],
  [
    'replaces pods of another spec, and creates none while they end',
    [],
    input([pod(0, { specHash: 'old' })]),
    ['wc-tm-0 Replaced'],
    [],
    [],
  ],
  [
    'a rescale up creates no pod, not even under a new name, while a pod of the old spec still ends',
    [],
    input([pod(0, { specHash: 'old', deleting: true })], { wanted: 3 }),
    [],
    [],
    [],
  ],
  ['creates the new deployment once the old pods are gone', [], input([], { wanted: 3 }), [], [0, 1, 2], []],
  ['scales down', [], input([pod(0), pod(1), pod(2)]), ['wc-tm-2 ScaledDown'], [], ['wc-tm-0', 'wc-tm-1']],
  [
    'cleans up an ended pod already counted',
    [],
    input([pod(0, { phase: 'Failed' }), pod(1)]),
    ['wc-tm-0 Cleanup'],
    [],
    ['wc-tm-1'],
  ],
  [
    'waits for a terminating pod of the same name',
    [],
    input([pod(0, { deleting: true }), pod(1)]),
    [],
    [],
    ['wc-tm-1'],
  ],
  [
    'creates nothing before a restart is due',
    [],
    input([pod(1)], { restartDue: new Date(t0.getTime() + 1000) }),
    [],
    [],
    ['wc-tm-1'],
  ],
  [
    'does not adopt a pod it gave up on',
    [],
    {
      ...input([pod(0), pod(1)]),
      observation: { pods: [pod(0), pod(1)], nodes: new Map(), released: new Set(['u0']) },
    },
    [],
    [],
    ['wc-tm-1'],
  ],
];

describe('planPods: an old pod on a lost node', () => {
  const lostNode = (downMs: number) =>
    new Map([['n1', { name: 'n1', ready: false, notReadySince: new Date(t0.getTime() - downMs) }]]);
  const stale = pod(0, { specHash: 'old', deleting: true, nodeName: 'n1' });

  it('deletes it by force once the node is lost, so the new deployment is not held by a pod no kubelet ends', () => {
    const plan = new PodPlan([]);
    const given = input([stale]);
    planPods(plan, { ...given, observation: { ...given.observation, nodes: lostNode(31_000) } });
    assert.deepEqual(
      plan.deletions.map((d) => [d.name, d.reason, d.force]),
      [['wc-tm-0', 'Replaced', true]],
    );
  });

  it('waits before then, and says when to look again', () => {
    const plan = new PodPlan([]);
    const given = input([stale]);
    const out = planPods(plan, { ...given, observation: { ...given.observation, nodes: lostNode(10_000) } });
    assert.deepEqual(plan.deletions, [], 'already being deleted: nothing more to ask yet');
    assert.deepEqual(out.creations, []);
    assert.equal(out.recheckAt, t0.getTime() + 20_000);
  });
});

describe('planPods', () => {
  for (const [what, tracked, given, deletions, creations, kept] of cases) {
    it(what, () => {
      const plan = new PodPlan(tracked);
      const out = planPods(plan, given);
      assert.deepEqual(
        plan.deletions.map((d) => `${d.name} ${d.reason}`),
        deletions,
      );
      assert.deepEqual(
        out.creations.map((c) => c.pod.index),
        creations,
      );
      assert.deepEqual([...plan.tracked].sort(), kept);
    });
  }
});

describe('planPods: a creation carries the pod it makes', () => {
  it('names the run, the restart epoch, the spec hash and the savepoint the run restores from', () => {
    const out = planPods(new PodPlan([]), input([], { wanted: 1, restoreSavepoint: 'upgrade-7' }));
    assert.deepEqual(out.creations, [
      {
        kind: 'createPod',
        pod: { index: 0, runId: 'r', restartEpoch: 1, specHash: 'h', restoreSavepoint: 'upgrade-7' },
      },
    ]);
  });
});
