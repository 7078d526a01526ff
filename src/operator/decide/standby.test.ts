import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamJob, StreamJobSpec, StreamJobStatus } from '../../api/streamjob.ts';
import { type Decision, decide, specHash } from './decide.ts';
import type { Observation, ObservedPod } from './observation.ts';
import type { Action, DecideOptions } from './pass.ts';
import { PodPlan } from './pods.ts';
import { planStandbyPods, splitByRole, standbyToPromote } from './standby.ts';
import { testingSpec } from './testing-spec.ts';

const t0 = new Date('2026-03-01T12:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const options: DecideOptions = {
  nodeLostTimeoutMs: 30_000,
  degradedWindowMs: 300_000,
  random: () => 0.5,
  newRunId: () => 'run1',
};

function job(spec: Partial<StreamJobSpec> = {}, status?: StreamJobStatus): StreamJob {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'StreamJob',
    metadata: { name: 'wc', namespace: 'ns', uid: 'u1', generation: 1 },
    spec: testingSpec({ parallelism: 2, taskSlots: 1, standby: { replicas: 1 }, ...spec }),
    ...(status ? { status } : {}),
  };
}

function pod(index: number, slot: number, overrides: Partial<ObservedPod> = {}): ObservedPod {
  return {
    name: slot ? `wc-tm-${index}-${slot}` : `wc-tm-${index}`,
    uid: `uid-${index}-${slot}`,
    index,
    ...(slot ? { slot } : {}),
    ...(slot ? { standbyAtStart: true } : {}),
    restartEpoch: 0,
    specHash: specHash(job()),
    runId: 'run1',
    phase: 'Running',
    ready: true,
    deleting: false,
    nodeName: `n${slot}`,
    podIP: `10.0.${index}.${slot}`,
    ...overrides,
  };
}

const seen = (pods: ObservedPod[]): Observation => ({
  pods,
  nodes: new Map([
    ['n0', { name: 'n0', ready: true }],
    ['n1', { name: 'n1', ready: true }],
  ]),
  released: new Set(),
});

function step(current: StreamJob, observation: Observation, now: Date) {
  const decision = decide(current, observation, now, options);
  return { next: { ...current, status: decision.status }, decision };
}

const created = (d: Decision) =>
  d.actions
    .filter((a): a is Extract<Action, { kind: 'createPod' }> => a.kind === 'createPod')
    .map((a) => `${a.pod.index}/${a.pod.slot ?? 0}${a.pod.standby ? ' standby' : ''}`);
const promoted = (d: Decision) => d.actions.filter((a) => a.kind === 'promoteStandby').map((a) => a.pod);
const deleted = (d: Decision) =>
  d.actions.filter((a) => a.kind === 'deletePod').map((a) => (a as { name: string }).name);
const reasons = (d: Decision) => d.events.map((e) => e.reason);

/** A job whose active pods and standbys run, after two passes. */
function running() {
  const { next } = step(job(), seen([]), t0);
  const pods = [pod(0, 0), pod(1, 0), pod(0, 1), pod(1, 1)];
  const { next: ready, decision } = step(next, seen(pods), at(1));
  assert.equal(decision.status.phase, 'Running');
  return { job: ready, pods };
}

describe('standby pods (spec.standby)', () => {
  it('a new job creates its active pods and a standby pod per index, the standbys labelled as such', () => {
    const { decision } = step(job(), seen([]), t0);
    assert.deepEqual(created(decision), ['0/0', '1/0', '0/1 standby', '1/1 standby']);
  });

  it('an active pod that fails is taken over by its standby at once: no restart delay, the slot moves in status', () => {
    const { job: j, pods } = running();
    const failed = pods.map((p) =>
      p.name === 'wc-tm-1' ? { ...p, phase: 'Failed' as const, terminationMessage: 'exit code 137' } : p,
    );
    const { next, decision } = step(j, seen(failed), at(10));
    // wc-tm-1-1 is active now and wc-tm-0-1 the one standby left Ready.
    assert.deepEqual(decision.status.standby, { activeSlots: [0, 1], ready: 1, total: 2 });
    assert.deepEqual(promoted(decision), ['wc-tm-1-1']);
    assert.deepEqual(deleted(decision), ['wc-tm-1']);
    assert.deepEqual(reasons(decision).slice(0, 2), ['TaskFailed', 'StandbyPromoted']);
    assert.ok(!reasons(decision).includes('RestartScheduled'));
    assert.equal(decision.status.restarts?.count, 1, 'a promotion still counts for the restart strategy');
    assert.equal(decision.status.restarts?.nextRestartAt, undefined);
    assert.notEqual(decision.status.phase, 'Restarting');
    assert.deepEqual(decision.status.pods, ['wc-tm-0', 'wc-tm-1-1']);

    // The failed pod is gone: its slot is refilled with a standby; the promoted pod is told again until it answered.
    const after = pods.filter((p) => p.name !== 'wc-tm-1');
    const { decision: refill } = step(next, seen(after), at(11));
    assert.deepEqual(created(refill), ['1/0 standby']);
    assert.deepEqual(promoted(refill), ['wc-tm-1-1']);
    assert.equal(refill.status.phase, 'Running');
    assert.deepEqual(refill.status.standby, { activeSlots: [0, 1], ready: 1, total: 2 });
  });

  it('a process the operator saw end (its watch) fails the pod before the kubelet reports it, and its standby takes over', () => {
    const { job: j, pods } = running();
    const { decision } = step(j, { ...seen(pods), gone: new Set(['uid-0-0']) }, at(10));
    assert.deepEqual(promoted(decision), ['wc-tm-0-1']);
    assert.deepEqual(deleted(decision), ['wc-tm-0']);
    assert.match(decision.status.restarts?.lastFailure?.message ?? '', /TaskManager process ended/);
  });

  it('without a running standby of its index the failed pod waits for its restart as before', () => {
    const { job: j, pods } = running();
    const failed = pods
      .filter((p) => p.name !== 'wc-tm-1-1')
      .map((p) => (p.name === 'wc-tm-1' ? { ...p, phase: 'Failed' as const } : p));
    const { decision } = step(j, seen(failed), at(10));
    assert.deepEqual(promoted(decision), []);
    assert.ok(reasons(decision).includes('RestartScheduled'));
    assert.equal(decision.status.phase, 'Restarting');
  });

  it('full failover promotes nothing: every pod restarts', () => {
    const { job: j, pods } = running();
    const full = { ...j, spec: { ...j.spec, failoverStrategy: 'full' as const } };
    const failed = pods.map((p) => (p.name === 'wc-tm-0' ? { ...p, phase: 'Failed' as const } : p));
    const { decision } = step(full, seen(failed), at(10));
    assert.deepEqual(promoted(decision), []);
    assert.equal(decision.status.phase, 'Restarting');
  });

  it('a standby that ends is replaced 10 s after it ended, without counting as a job failure', () => {
    const { job: j, pods } = running();
    const ended = pods.map((p) =>
      p.name === 'wc-tm-0-1' ? { ...p, phase: 'Failed' as const, endedAt: at(9) } : p,
    );
    const { decision: early } = step(j, seen(ended), at(10));
    assert.deepEqual(deleted(early), [], 'a standby that cannot run is not retried in a tight loop');
    assert.equal(early.requeueAfterMs, 9_000);
    const { decision } = step(j, seen(ended), at(19));
    assert.deepEqual(deleted(decision), ['wc-tm-0-1']);
    assert.deepEqual(reasons(decision), ['StandbyFailed']);
    assert.equal(decision.status.restarts?.count ?? 0, 0);
    assert.equal(decision.status.phase, 'Running');
  });

  it('savepoints and stops go to the active pods only', () => {
    const { job: j, pods } = running();
    const { decision } = step({ ...j, spec: { ...j.spec, savepointTriggerNonce: 1 } }, seen(pods), at(10));
    const trigger = decision.actions.find((a) => a.kind === 'triggerSavepoint');
    assert.deepEqual(trigger && 'targets' in trigger ? trigger.targets.map((t) => t.pod) : undefined, [
      'wc-tm-0',
      'wc-tm-1',
    ]);
  });
});

describe('standbyToPromote', () => {
  const deployment = { runId: 'run1', restartEpoch: 0, specHash: specHash(job()) };
  const cases: {
    name: string;
    standbys: ObservedPod[];
    lags?: [string, number | null][];
    want: string | undefined;
  }[] = [
    { name: 'the one standby of the index', standbys: [pod(1, 1)], want: 'wc-tm-1-1' },
    {
      name: 'the most caught-up among Ready ones, by the lag they reported',
      standbys: [pod(1, 1), pod(1, 2)],
      lags: [
        ['wc-tm-1-1', 5_000],
        ['wc-tm-1-2', 10],
      ],
      want: 'wc-tm-1-2',
    },
    {
      name: 'a known lag before an unknown one',
      standbys: [pod(1, 1), pod(1, 2)],
      lags: [
        ['wc-tm-1-1', null],
        ['wc-tm-1-2', 9_000],
      ],
      want: 'wc-tm-1-2',
    },
    {
      name: 'Ready before a smaller lag (a lag reported before it fell behind)',
      standbys: [pod(1, 1, { ready: false }), pod(1, 2)],
      lags: [
        ['wc-tm-1-1', 0],
        ['wc-tm-1-2', 9_000],
      ],
      want: 'wc-tm-1-2',
    },
    { name: 'not one of another index', standbys: [pod(0, 1)], want: undefined },
    {
      name: 'a Ready one before a lower slot',
      standbys: [pod(1, 1, { ready: false }), pod(1, 2)],
      want: 'wc-tm-1-2',
    },
    { name: 'the lowest slot among Ready ones', standbys: [pod(1, 2), pod(1, 1)], want: 'wc-tm-1-1' },
    { name: 'not one being deleted', standbys: [pod(1, 1, { deleting: true })], want: undefined },
    { name: 'not one still Pending', standbys: [pod(1, 1, { phase: 'Pending' })], want: undefined },
    { name: 'not one of another run', standbys: [pod(1, 1, { runId: 'run0' })], want: undefined },
    { name: 'not one without an IP', standbys: [pod(1, 1, { podIP: undefined })], want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const chosen = standbyToPromote(1, c.standbys, deployment, new PodPlan([]), {
        released: new Set(),
        ...(c.lags ? { standbyLags: new Map(c.lags) } : {}),
      });
      assert.equal(chosen?.name, c.want);
    });
  }
});

describe('planStandbyPods', () => {
  const deployment = { runId: 'run1', restartEpoch: 0, specHash: specHash(job()) };
  const input = (
    standbys: ObservedPod[],
    more: { slots?: number; activeSlots?: number[]; mayCreate?: boolean } = {},
  ) => ({
    now: t0,
    standbys,
    deployment,
    wanted: 2,
    slots: more.slots ?? 2,
    activeSlots: more.activeSlots ?? [],
    jobName: 'wc',
    restoreSavepoint: undefined,
    mayCreate: more.mayCreate ?? true,
  });
  it('fills every slot that is not the active one', () => {
    const plan = new PodPlan([]);
    const { creations } = planStandbyPods(plan, input([], { slots: 3, activeSlots: [1] }));
    assert.deepEqual(
      creations.map((c) => `${c.pod.index}/${c.pod.slot}`),
      ['0/0', '0/2', '1/1', '1/2'],
    );
  });
  it('replaces standbys of an older deployment and drops slots beyond the replicas', () => {
    const plan = new PodPlan([]);
    planStandbyPods(plan, input([pod(0, 1, { specHash: 'old' }), pod(1, 2)], { mayCreate: false }));
    assert.deepEqual(
      plan.deletions.map((d) => `${d.name} ${d.reason}`),
      ['wc-tm-0-1 Replaced', 'wc-tm-1-2 ScaledDown'],
    );
  });
  it('creates nothing while the active pods cannot be created either', () => {
    assert.deepEqual(planStandbyPods(new PodPlan([]), input([], { mayCreate: false })).creations, []);
  });
  it('splits pods by the active slot of their index', () => {
    const { active, standby } = splitByRole([pod(0, 0), pod(0, 1), pod(1, 0), pod(1, 1)], [1]);
    assert.deepEqual(
      active.map((p) => p.name),
      ['wc-tm-0-1', 'wc-tm-1'],
    );
    assert.deepEqual(
      standby.map((p) => p.name),
      ['wc-tm-0', 'wc-tm-1-1'],
    );
  });
});
