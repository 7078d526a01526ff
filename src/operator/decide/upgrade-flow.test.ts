/**
 * The upgrade flows through decide(): each pass's status is fed back as the
 * controller's record step does, so these are the paths an operator takes
 * across reconciles (and across a restart, which only re-reads status).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamJob, StreamJobSpec } from '../../api/streamjob.ts';
import { type Decision, decide } from './decide.ts';
import type { Observation, ObservedPod } from './observation.ts';
import type { Action, DecideOptions } from './pass.ts';
import { specHashOf } from './spec-diff.ts';
import { testingSpec } from './testing-spec.ts';

const t0 = new Date('2026-03-01T12:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
let runIds = 0;
const options: DecideOptions = {
  nodeLostTimeoutMs: 30_000,
  degradedWindowMs: 300_000,
  random: () => 0.5,
  newRunId: () => `run${++runIds}`,
};

const baseSpec = testingSpec({
  args: { factor: 1 },
  checkpoints: { ...testingSpec().checkpoints, interval: '1s' },
  restartStrategy: { type: 'fixed-delay', attempts: 1, delay: '1s' },
});

function newJob(): StreamJob {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'StreamJob',
    metadata: { name: 'wc', namespace: 'ns', uid: 'u1', generation: 1 },
    spec: structuredClone(baseSpec),
  };
}

/** The job's pods as the status says they should be: current run, epoch and spec, Running and Ready. */
function podsOf(job: StreamJob, overrides: Partial<ObservedPod> = {}): ObservedPod[] {
  const status = job.status ?? {};
  const spec = (status.deployment?.spec ?? job.spec) as StreamJobSpec;
  return Array.from({ length: spec.parallelism }, (_, index) => ({
    name: `wc-tm-${index}`,
    uid: `uid-${status.restartEpoch}-${index}`,
    index,
    restartEpoch: status.restartEpoch ?? 0,
    specHash: specHashOf(spec),
    runId: status.run?.id ?? '',
    phase: 'Running' as const,
    ready: true,
    deleting: false,
    nodeName: 'n1',
    podIP: `10.0.0.${index + 1}`,
    ...overrides,
  }));
}

function seen(pods: ObservedPod[], extra: Partial<Observation> = {}): Observation {
  return { pods, nodes: new Map([['n1', { name: 'n1', ready: true }]]), released: new Set(), ...extra };
}

/** Every task reports a checkpoint completed at `time`. */
function checkpointsAt(job: StreamJob, time: Date): Partial<Observation> {
  const spec = (job.status?.deployment?.spec ?? job.spec) as StreamJobSpec;
  return {
    checkpoints: Array.from({ length: spec.parallelism }, (_, task) => ({
      task,
      state: 'running',
      lag: 0,
      pod: '',
      podUid: '',
      checkpointId: 1,
      committedAsOf: time,
      consecutiveFailures: 0,
    })),
  };
}

function pass(job: StreamJob, observation: Observation, now: Date): { job: StreamJob; d: Decision } {
  const d = decide(job, observation, now, options);
  return { job: { ...job, status: d.status }, d };
}

const kinds = (d: Decision, kind: Action['kind']) => d.actions.filter((a) => a.kind === kind);
const reasons = (d: Decision) => d.events.map((e) => e.reason);

/** A job deployed, Running, and stable (a checkpoint after it started): lastStableSpec is recorded. */
function stableJob(): StreamJob {
  let { job } = pass(newJob(), seen([]), t0);
  ({ job } = pass(job, seen(podsOf(job)), at(1)));
  const { job: stable, d } = pass(job, seen(podsOf(job), checkpointsAt(job, at(2))), at(3));
  assert.equal(d.status.phase, 'Running');
  assert.equal(d.status.lastStableSpec?.generation, 1, 'the first deployment became stable');
  return stable;
}

function changeSpec(job: StreamJob, change: Partial<StreamJobSpec>): StreamJob {
  const generation = (job.metadata.generation ?? 0) + 1;
  return { ...job, metadata: { ...job.metadata, generation }, spec: { ...job.spec, ...change } };
}

describe('upgrade flows through decide()', () => {
  it('savepoint upgrade: stop with a savepoint, then a new run restored from exactly it, then stable', () => {
    const stable = stableJob();
    const oldRun = stable.status?.run?.id;
    const oldPods = podsOf(stable);
    const changed = changeSpec(stable, { args: { factor: 2 } });

    // 1. The intent and the savepoint id are in status before any TaskManager is asked; pods are held.
    let { job, d } = pass(changed, seen(oldPods), at(10));
    assert.equal(d.status.upgrade?.step, 'Savepointing');
    assert.equal(d.status.phase, 'Upgrading');
    const id = d.status.upgrade?.savepointId ?? '';
    assert.match(id, /^upgrade-/);
    assert.deepEqual(kinds(d, 'stopWithSavepoint'), [
      { kind: 'stopWithSavepoint', id, targets: oldPods.map((p) => ({ pod: p.name, podIP: p.podIP })) },
    ]);
    assert.deepEqual(kinds(d, 'deletePod'), []);
    assert.deepEqual(kinds(d, 'createPod'), []);
    assert.equal(d.status.deployment?.generation, 1, 'the old spec is still what runs');

    // A TaskManager that stopped and exited 0 is expected, not a failure; an operator restart re-asks with the same id.
    const oneStopped = [
      { ...(oldPods[0] as ObservedPod), phase: 'Succeeded' as const, ready: false },
      oldPods[1] as ObservedPod,
    ];
    ({ job, d } = pass(job, seen(oneStopped), at(11)));
    assert.equal(d.status.restarts?.count ?? 0, 0);
    assert.equal(d.status.upgrade?.savepointId, id);
    assert.deepEqual(kinds(d, 'stopWithSavepoint'), [
      { kind: 'stopWithSavepoint', id, targets: [{ pod: 'wc-tm-1', podIP: '10.0.0.2' }] },
    ]);

    // 2. Every TaskManager stored its part: the new version starts as a new run restored from the savepoint.
    const stopped = oldPods.map((p) => ({ ...p, phase: 'Succeeded' as const, ready: false }));
    ({ job, d } = pass(job, seen(stopped, { savepointOutcome: { id, ok: true } }), at(12)));
    assert.equal(d.status.upgrade?.step, 'Deploying');
    assert.equal(d.status.deployment?.generation, 2);
    assert.notEqual(d.status.run?.id, oldRun);
    assert.equal(d.status.run?.restoredFrom, id);
    assert.deepEqual(
      d.status.savepoints?.map((s) => [s.id, s.reason]),
      [[id, 'upgrade']],
    );
    assert.deepEqual(
      kinds(d, 'deletePod').map((a) => (a as { name: string }).name),
      ['wc-tm-0', 'wc-tm-1'],
    );
    assert.equal(d.status.restarts?.count ?? 0, 0, 'the stopped pods were not failures');

    // 3. New pods are created once the old ones are gone, then run; stable only after a checkpoint of the new run.
    ({ job, d } = pass(job, seen([]), at(13)));
    assert.equal(kinds(d, 'createPod').length, 2);
    const newPods = podsOf(job);
    ({ job, d } = pass(job, seen(newPods, checkpointsAt(job, at(5))), at(14)));
    assert.equal(d.status.phase, 'Running');
    assert.equal(
      d.status.upgrade?.step,
      'Deploying',
      'a checkpoint from before the deployment does not count',
    );
    ({ job, d } = pass(job, seen(newPods, checkpointsAt(job, at(15))), at(16)));
    assert.equal(d.status.upgrade, undefined);
    assert.equal(d.status.lastStableSpec?.generation, 2);
    assert.ok(reasons(d).includes('UpgradeCompleted'));
  });

  it('the same spec decided again after any step changes nothing (an operator restart resumes, never repeats)', () => {
    const stable = stableJob();
    const changed = changeSpec(stable, { image: 'img:2' });
    const first = pass(changed, seen(podsOf(stable)), at(10));
    const again = decide(first.job, seen(podsOf(stable)), at(10), options);
    assert.deepEqual(again.status.upgrade, first.d.status.upgrade);
    assert.deepEqual(kinds(again, 'stopWithSavepoint'), kinds(first.d, 'stopWithSavepoint'));
  });

  it('a savepoint that fails falls back to the last committed checkpoint, with a Warning', () => {
    const stable = stableJob();
    const run = stable.status?.run?.id;
    let { job, d } = pass(changeSpec(stable, { image: 'img:2' }), seen(podsOf(stable)), at(10));
    const id = d.status.upgrade?.savepointId ?? '';
    ({ job, d } = pass(
      job,
      seen(podsOf(stable), { savepointOutcome: { id, ok: false, message: 'tm-1: HTTP 500' } }),
      at(11),
    ));
    assert.equal(d.status.upgrade?.step, 'Deploying');
    assert.equal(d.status.run?.id, run, 'the same run: its committed state');
    assert.equal(d.status.deployment?.generation, 2);
    assert.ok(reasons(d).includes('SavepointFallback'));
  });

  it('without the fallback, a failed savepoint aborts the upgrade and the old version runs on', () => {
    const stable = stableJob();
    const noFallback = changeSpec(stable, {
      image: 'img:2',
      upgrade: { ...baseSpec.upgrade, savepointFallback: false },
    });
    let { job, d } = pass(noFallback, seen(podsOf(stable)), at(10));
    const id = d.status.upgrade?.savepointId ?? '';
    // One TaskManager stopped before the other failed: the old version is redeployed on every pod.
    const halfStopped = [
      { ...(podsOf(stable)[0] as ObservedPod), phase: 'Succeeded' as const, ready: false },
      podsOf(stable)[1] as ObservedPod,
    ];
    ({ job, d } = pass(
      job,
      seen(halfStopped, { savepointOutcome: { id, ok: false, message: 'timeout' } }),
      at(11),
    ));
    assert.equal(d.status.upgrade?.step, 'Aborted');
    assert.equal(d.status.deployment?.generation, 1);
    assert.equal(d.status.specHash, specHashOf(baseSpec));
    assert.ok(reasons(d).includes('UpgradeAborted'));
    const degraded = d.status.conditions?.find((c) => c.type === 'Degraded');
    assert.equal(degraded?.reason, 'UpgradeAborted');
    // At rest: the same generation is not tried again; a newer one is.
    ({ job, d } = pass(job, seen([]), at(12)));
    assert.equal(d.status.upgrade?.step, 'Aborted');
    assert.equal(kinds(d, 'createPod').length, 2);
  });

  it('a new version that is not stable in time is rolled back to the last stable spec, in the same run', () => {
    const stable = stableJob();
    let { job, d } = pass(
      changeSpec(stable, { entry: 'broken.js', upgradeMode: 'last-state' }),
      seen(podsOf(stable)),
      at(10),
    );
    assert.equal(d.status.upgrade?.step, 'Deploying');
    const run = d.status.run?.id;
    // The new pods never become Ready.
    ({ job, d } = pass(job, seen([]), at(11)));
    const crashing = podsOf(job, { ready: false, phase: 'Pending' });
    ({ job, d } = pass(job, seen(crashing), at(11 + 299)));
    assert.equal(d.status.upgrade?.step, 'Deploying');
    ({ job, d } = pass(job, seen(crashing), at(11 + 301)));
    assert.equal(d.status.upgrade?.step, 'RolledBack');
    assert.equal(d.status.deployment?.generation, 1);
    assert.equal((d.status.deployment?.spec as StreamJobSpec | undefined)?.entry, 'job.js');
    assert.equal(d.status.run?.id, run);
    assert.ok(reasons(d).includes('RolledBack'));
    assert.equal(job.spec.entry, 'broken.js', 'the user spec is not rewritten');
    // A further spec change starts a new upgrade.
    const fixed = changeSpec(job, { entry: 'fixed.js' });
    ({ d } = pass(fixed, seen([]), at(400)));
    assert.equal(d.status.upgrade?.toGeneration, 3);
  });

  it('a rescale is a last-state upgrade: same run, no savepoint', () => {
    const stable = stableJob();
    const { d } = pass(changeSpec(stable, { parallelism: 3 }), seen(podsOf(stable)), at(10));
    assert.equal(d.status.upgrade?.step, 'Deploying');
    assert.equal(d.status.upgrade?.mode, 'last-state');
    assert.equal(d.status.run?.id, stable.status?.run?.id);
    assert.deepEqual(kinds(d, 'stopWithSavepoint'), []);
  });

  it('the autoscaler in mode apply rescales through the same last-state upgrade; spec.parallelism stays the user’s', () => {
    const stable = stableJob();
    const autoscaled = changeSpec(stable, {
      autoscaler: {
        enabled: true,
        mode: 'apply',
        targetUtilization: 0.7,
        minParallelism: 1,
        metricsWindow: '1m',
        stabilization: '0s',
        scaleDownDelay: '10m',
        catchUpDuration: '5m',
      },
    });
    const parallelism = autoscaled.spec.parallelism;
    // Every task 100 % busy at 1000 rec/s, the backlog growing 2000 rec/s: three times what runs arrives.
    const load = {
      spanMs: 60_000,
      tasks: Array.from({ length: parallelism }, (_, task) => ({
        stage: 0,
        task,
        inRate: 1000,
        outRate: 1000,
        busy: 1,
        backpressure: 0,
        lag: 0,
        lagRate: 2000 / parallelism,
        recentInRate: 1000,
        recentLagRate: 2000 / parallelism,
        partitions: 12,
      })),
    };
    const { d } = pass(autoscaled, { ...seen(podsOf(stable)), load }, at(3600));
    const wanted = Math.ceil((parallelism * 1000 + 2000) / 700);
    assert.equal(d.status.autoscaler?.parallelism, wanted);
    assert.deepEqual(reasons(d).slice(0, 1), ['AutoscalerScaleUp']);
    assert.equal(d.status.upgrade?.mode, 'last-state', 'the ordinary rescale');
    assert.equal(d.status.upgrade?.step, 'Deploying');
    assert.equal((d.status.deployment?.spec as StreamJobSpec | undefined)?.parallelism, wanted);
    assert.equal(d.status.run?.id, stable.status?.run?.id, 'same run, state kept');
  });

  it('stateless starts a new run without state', () => {
    const stable = stableJob();
    const { d } = pass(
      changeSpec(stable, { image: 'img:2', upgradeMode: 'stateless' }),
      seen(podsOf(stable)),
      at(10),
    );
    assert.equal(d.status.upgrade?.mode, 'stateless');
    assert.notEqual(d.status.run?.id, stable.status?.run?.id);
    assert.equal(d.status.run?.restoredFrom, undefined);
  });

  it('a change only of fields that shape no pod is not an upgrade (and keeps the failure history)', () => {
    const stable = stableJob();
    const withHistory = {
      ...stable,
      status: { ...stable.status, restarts: { count: 1, consecutive: 1, recentFailures: [] } },
    };
    const { d } = pass(
      changeSpec(withHistory, { restartStrategy: { type: 'none' }, savepointTriggerNonce: 0 }),
      seen(podsOf(stable)),
      at(10),
    );
    assert.equal(d.status.upgrade, undefined);
    assert.deepEqual(kinds(d, 'deletePod'), []);
    assert.equal(d.status.restarts?.count, 1);
    assert.equal(d.status.deployment?.generation, 2);
  });

  it('spec.initialSavepoint kept in the spec does not rewind the job after an upgrade restored another savepoint', () => {
    let job = newJob();
    job.spec.initialSavepoint = 'manual-1';
    ({ job } = pass(job, seen([]), t0));
    assert.equal(job.status?.run?.restoredFrom, 'manual-1');
    ({ job } = pass(job, seen(podsOf(job)), at(1)));
    ({ job } = pass(job, seen(podsOf(job), checkpointsAt(job, at(2))), at(3)));
    let d: Decision;
    ({ job, d } = pass(changeSpec(job, { image: 'img:2' }), seen(podsOf(job)), at(10)));
    const id = d.status.upgrade?.savepointId ?? '';
    const stopped = podsOf(job, { phase: 'Succeeded', ready: false });
    ({ job, d } = pass(job, seen(stopped, { savepointOutcome: { id, ok: true } }), at(11)));
    const upgradedRun = d.status.run?.id;
    ({ job, d } = pass(job, seen([]), at(12)));
    assert.equal(d.status.run?.id, upgradedRun);
    assert.equal(d.status.run?.restoredFrom, id);
  });

  it('suspend while the new version starts: the upgrade ends and the running version stops with a suspend savepoint', () => {
    let job = stableJob();
    let d: Decision;
    ({ job, d } = pass(changeSpec(job, { image: 'img:2' }), seen(podsOf(job)), at(10)));
    const upgradeId = d.status.upgrade?.savepointId ?? '';
    ({ job, d } = pass(
      job,
      seen(podsOf(job, { phase: 'Succeeded', ready: false }), {
        savepointOutcome: { id: upgradeId, ok: true },
      }),
      at(11),
    ));
    ({ job, d } = pass(job, seen([]), at(12)));
    const newPods = podsOf(job);
    ({ job, d } = pass(job, seen(newPods), at(12.5)));
    assert.equal(job.status?.upgrade?.step, 'Deploying');
    assert.deepEqual(job.status?.pods, ['wc-tm-0', 'wc-tm-1']);
    // Every new pod runs, the version is not stable yet (no checkpoint since it started), and the user suspends.
    ({ job, d } = pass(changeSpec(job, { state: 'suspended' }), seen(newPods), at(13)));
    assert.equal(d.status.upgrade, undefined);
    assert.deepEqual(kinds(d, 'deletePod'), [], 'pods are held for the suspend savepoint');
    assert.ok(d.events.some((e) => e.reason === 'UpgradeInterrupted'));
    ({ job, d } = pass(job, seen(newPods), at(14)));
    assert.equal(d.status.upgrade?.step, 'Savepointing');
    assert.equal(d.status.upgrade?.suspend, true);
    assert.deepEqual(kinds(d, 'deletePod'), []);
    const suspendId = d.status.upgrade?.savepointId ?? '';
    assert.match(suspendId, /^suspend-/);
    ({ job, d } = pass(
      job,
      seen(podsOf(job, { phase: 'Succeeded', ready: false }), {
        savepointOutcome: { id: suspendId, ok: true },
      }),
      at(15),
    ));
    assert.equal(d.status.phase, 'Suspended');
    assert.equal(d.status.run?.restoredFrom, suspendId);
  });

  it('suspend stops every task with a savepoint and leaves no pod; resume restores from exactly it', () => {
    const stable = stableJob();
    const oldPods = podsOf(stable);
    let { job, d } = pass(changeSpec(stable, { state: 'suspended' }), seen(oldPods), at(10));
    assert.equal(d.status.upgrade?.step, 'Savepointing');
    assert.equal(d.status.upgrade?.suspend, true);
    const id = d.status.upgrade?.savepointId ?? '';
    assert.match(id, /^suspend-/);
    assert.deepEqual(kinds(d, 'deletePod'), [], 'pods are held until they stopped with the savepoint');
    const stopped = oldPods.map((p) => ({ ...p, phase: 'Succeeded' as const, ready: false }));
    ({ job, d } = pass(job, seen(stopped, { savepointOutcome: { id, ok: true } }), at(11)));
    assert.equal(d.status.upgrade, undefined);
    assert.equal(d.status.phase, 'Suspended');
    assert.deepEqual(
      d.status.savepoints?.map((s) => [s.id, s.reason]),
      [[id, 'suspend']],
    );
    assert.equal(d.status.run?.restoredFrom, id);
    assert.equal(kinds(d, 'deletePod').length, 2);
    assert.equal(d.status.restarts?.count ?? 0, 0);
    // An operator restart while suspended changes nothing.
    ({ job, d } = pass(job, seen([]), at(100)));
    assert.equal(d.status.phase, 'Suspended');
    assert.deepEqual(kinds(d, 'createPod'), []);
    // Resume: pods of the run restored from the suspend savepoint.
    const resumedRun = job.status?.run?.id;
    ({ job, d } = pass(changeSpec(job, { state: 'running' }), seen([]), at(200)));
    assert.equal(kinds(d, 'createPod').length, 2);
    assert.equal(d.status.run?.id, resumedRun);
    assert.equal(d.status.run?.restoredFrom, id);
    assert.equal(d.status.upgrade, undefined);
  });
});
