import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamJob, StreamJobSpec } from '../../api/streamjob.ts';
import { type Decision, decide, specHash } from './decide.ts';
import type { Observation, ObservedPod } from './observation.ts';
import type { Action, DecideOptions } from './pass.ts';
import { PodPlan } from './pods.ts';
import { standbySlots } from './standby.ts';
import { testingSpec } from './testing-spec.ts';
import { planWarmPods, readyWarmPods, type WarmTarget, warmSlotsFor } from './warm-pods.ts';

const t0 = new Date('2026-03-01T12:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

function options(): DecideOptions {
  const runs = ['run1', 'run2', 'run3'];
  return {
    nodeLostTimeoutMs: 30_000,
    degradedWindowMs: 300_000,
    random: () => 0.5,
    newRunId: () => runs.shift() ?? 'runX',
  };
}

const warmup = (spec: StreamJobSpec): StreamJobSpec => ({
  ...spec,
  upgrade: { ...spec.upgrade, warmup: true, warmupTimeout: '1m' },
});

function job(spec: StreamJobSpec, generation: number, status?: StreamJob['status']): StreamJob {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'StreamJob',
    metadata: { name: 'wc', namespace: 'ns', uid: 'u1', generation },
    spec,
    ...(status ? { status } : {}),
  };
}

function pod(name: string, index: number, of: Partial<ObservedPod>): ObservedPod {
  return {
    name,
    uid: `uid-${name}`,
    index,
    restartEpoch: 0,
    specHash: '',
    runId: 'run1',
    phase: 'Running',
    ready: true,
    deleting: false,
    nodeName: 'n1',
    podIP: `10.0.0.${index + 1}`,
    ...of,
  };
}

const seen = (pods: ObservedPod[], more: Partial<Observation> = {}): Observation => ({
  pods,
  nodes: new Map([['n1', { name: 'n1', ready: true }]]),
  released: new Set(),
  ...more,
});

const ofKind = <K extends Action['kind']>(d: Decision, kind: K) =>
  d.actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);

describe('a warm upgrade, pass by pass (decide)', () => {
  it('warms the new version beside the old, stops the old with the savepoint, then promotes the warm pods', () => {
    const opts = options();
    const v1 = warmup(testingSpec({ parallelism: 2, taskSlots: 1 }));
    const first = decide(job(v1, 1), seen([]), t0, opts);
    const hash1 = specHash(job(v1, 1));
    const old = [0, 1].map((i) => pod(`wc-tm-${i}`, i, { specHash: hash1 }));
    const running = decide(job(v1, 1, first.status), seen(old), at(1), opts);
    assert.equal(running.status.phase, 'Running');

    // The spec changes: Warming, two warm pods in slot 1, made from the new spec, nothing of the old touched.
    const v2 = { ...v1, image: 'img:2' };
    const hash2 = specHash(job(v2, 2));
    const warming = decide(job(v2, 2, running.status), seen(old), at(10), opts);
    assert.equal(warming.status.upgrade?.step, 'Warming');
    assert.deepEqual(warming.status.upgrade?.warm, { runId: 'run2', slots: [1, 1] });
    const made = ofKind(warming, 'createPod').map((a) => a.pod);
    assert.deepEqual(
      made.map((p) => [p.index, p.slot, p.standby, p.runId, p.restartEpoch, p.specHash, p.warmFromRun]),
      [
        [0, 1, true, 'run2', 1, hash2, 'run1'],
        [1, 1, true, 'run2', 1, hash2, 'run1'],
      ],
    );
    assert.equal(made[0]?.restoreSavepoint, warming.status.upgrade?.savepointId);
    assert.deepEqual(ofKind(warming, 'deletePod'), []);
    assert.equal(warming.status.phase, 'Running', 'the old version runs on');

    // Warm pods starting: nothing is deleted or made again; the old version is not stopped.
    const warmPods = [0, 1].map((i) =>
      pod(`wc-tm-${i}-1`, i, {
        slot: 1,
        standbyAtStart: true,
        runId: 'run2',
        restartEpoch: 1,
        specHash: hash2,
        ready: false,
      }),
    );
    const starting = decide(job(v2, 2, warming.status), seen([...old, ...warmPods]), at(12), opts);
    assert.equal(starting.status.upgrade?.step, 'Warming');
    assert.deepEqual(ofKind(starting, 'createPod'), []);
    assert.deepEqual(ofKind(starting, 'deletePod'), []);
    assert.deepEqual(ofKind(starting, 'stopWithSavepoint'), []);

    // Every warm pod Ready: the old version stops with the savepoint chosen at the start.
    const ready = warmPods.map((p) => ({ ...p, ready: true }));
    const stopping = decide(job(v2, 2, starting.status), seen([...old, ...ready]), at(20), opts);
    assert.equal(stopping.status.upgrade?.step, 'Savepointing');
    const stop = ofKind(stopping, 'stopWithSavepoint')[0];
    assert.equal(stop?.id, warming.status.upgrade?.savepointId);
    assert.deepEqual(
      stop?.targets.map((t) => t.pod),
      ['wc-tm-0', 'wc-tm-1'],
    );
    assert.deepEqual(stopping.events.map((e) => e.reason).includes('WarmupCompleted'), true);

    // The savepoint complete: the warm pods are the new deployment, adopted and promoted; the old ones go.
    const stopped = old.map((p) => ({ ...p, phase: 'Succeeded' as const, ready: false }));
    const deploying = decide(
      job(v2, 2, stopping.status),
      seen([...stopped, ...ready], { savepointOutcome: { id: stop?.id ?? '', ok: true } }),
      at(22),
      opts,
    );
    assert.equal(deploying.status.upgrade?.step, 'Deploying');
    assert.deepEqual(deploying.status.run, { id: 'run2', restoredFrom: stop?.id });
    assert.equal(deploying.status.restartEpoch, 1);
    assert.deepEqual(deploying.status.standby?.activeSlots, [1, 1]);
    assert.deepEqual(ofKind(deploying, 'createPod'), []);
    assert.deepEqual(
      ofKind(deploying, 'deletePod')
        .map((a) => a.name)
        .sort(),
      ['wc-tm-0', 'wc-tm-1'],
    );
    assert.deepEqual(
      ofKind(deploying, 'promoteStandby').map((a) => a.pod),
      ['wc-tm-0-1', 'wc-tm-1-1'],
    );
    assert.deepEqual(deploying.status.pods, ['wc-tm-0-1', 'wc-tm-1-1']);
  });

  it('abandoned when the spec goes back while warming: the warm pods are deleted, the old version untouched', () => {
    const opts = options();
    const v1 = warmup(testingSpec({ parallelism: 1, taskSlots: 1 }));
    const first = decide(job(v1, 1), seen([]), t0, opts);
    const old = [pod('wc-tm-0', 0, { specHash: specHash(job(v1, 1)) })];
    const running = decide(job(v1, 1, first.status), seen(old), at(1), opts);
    const v2 = { ...v1, image: 'img:2' };
    const warming = decide(job(v2, 2, running.status), seen(old), at(10), opts);
    const warmPod = pod('wc-tm-0-1', 0, {
      slot: 1,
      standbyAtStart: true,
      runId: 'run2',
      restartEpoch: 1,
      specHash: specHash(job(v2, 2)),
    });
    const back = decide(job(v1, 3, warming.status), seen([...old, warmPod]), at(15), opts);
    assert.equal(back.status.upgrade, undefined);
    assert.ok(back.events.some((e) => e.reason === 'UpgradeAbandoned'));
    assert.deepEqual(
      ofKind(back, 'deletePod').map((a) => a.name),
      ['wc-tm-0-1'],
    );
    assert.deepEqual(ofKind(back, 'stopWithSavepoint'), []);
    assert.equal(back.status.run?.id, 'run1');
  });
});

describe('warm pods (warm-pods.ts)', () => {
  it('standby slots are the lowest ones other than the active slot', () => {
    assert.deepEqual(standbySlots(0, 2), [1, 2]);
    assert.deepEqual(standbySlots(2, 2), [0, 1]);
    assert.deepEqual(standbySlots(1, 0), []);
  });

  const cases: [string, number[], number, { index: number; slot?: number }[], number[]][] = [
    ['no standbys: the slot after the active one', [0, 0], 0, [], [1, 1]],
    ['after a warm upgrade: slot 0 again', [1, 1], 0, [], [0, 0]],
    ['one standby: beyond both', [0, 2], 1, [], [2, 1]],
    ['a pod still ending holds its slot', [0], 0, [{ index: 0, slot: 1 }], [2]],
  ];
  for (const [why, active, replicas, pods, want] of cases) {
    it(`warm slots: ${why}`, () => assert.deepEqual(warmSlotsFor(want.length, active, replicas, pods), want));
  }

  const target: WarmTarget = {
    jobName: 'wc',
    runId: 'r2',
    slots: [1],
    savepointId: 'upgrade-1',
    fromRun: 'r1',
    specHash: 'h2',
    restartEpoch: 1,
  };
  const warm = (of: Partial<ObservedPod> = {}) =>
    pod('wc-tm-0-1', 0, { slot: 1, runId: 'r2', specHash: 'h2', restartEpoch: 1, ...of });

  it('a warm pod of another target is replaced; one that ended is replaced after the refill delay', () => {
    const stale = planWarmPods(new PodPlan([]), { now: at(0), pods: [warm({ specHash: 'h1' })], target });
    assert.deepEqual(
      stale.creations.map((c) => c.pod.slot),
      [],
      'the stale pod holds its name until it is gone',
    );
    const ended = warm({ phase: 'Failed', endedAt: at(0) });
    const soon = planWarmPods(new PodPlan([]), { now: at(5), pods: [ended], target });
    assert.deepEqual(soon.creations, []);
    assert.equal(soon.recheckAt, at(10).getTime());
    const plan = new PodPlan([]);
    const later = planWarmPods(plan, { now: at(11), pods: [ended], target });
    assert.deepEqual(
      plan.deletions.map((d) => d.reason),
      ['StandbyEnded'],
    );
    assert.equal(later.events[0]?.reason, 'StandbyFailed');
  });

  it('counts Ready warm pods of the target only', () => {
    assert.equal(
      readyWarmPods([warm(), warm({ name: 'x', index: 1, slot: 0 }), warm({ ready: false })], target),
      1,
    );
  });
});
