import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecordedSpec, StreamJobSpec } from '../../api/streamjob.ts';
import { testingSpec } from './testing-spec.ts';
import { timingOf } from './timing.ts';
import {
  checkTransition,
  decideUpgrade,
  type UpgradeInput,
  type UpgradeStatus,
  type UpgradeStep,
  upgradeTransitions,
} from './upgrade.ts';

const t0 = new Date('2026-03-01T12:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);

const spec1 = testingSpec({ restartStrategy: { type: 'none' } });
const spec2 = { ...spec1, image: 'img:2' };
const targets = [
  { pod: 'wc-tm-0', podIP: '10.0.0.1' },
  { pod: 'wc-tm-1', podIP: '10.0.0.2' },
];
const deployed = (spec: StreamJobSpec, generation: number): RecordedSpec => ({
  spec,
  generation,
  time: t0.toISOString(),
});
const upgrade = (step: UpgradeStatus['step'], extra: Partial<UpgradeStatus> = {}): UpgradeStatus => ({
  step,
  mode: 'savepoint',
  fromGeneration: 1,
  toGeneration: 2,
  startedAt: t0.toISOString(),
  stepStartedAt: t0.toISOString(),
  savepointId: 'upgrade-1',
  ...extra,
});

function input(overrides: Partial<Omit<UpgradeInput, 'timing'>>): UpgradeInput {
  const spec = overrides.spec ?? spec2;
  return {
    timing: timingOf(spec),
    upgrade: undefined,
    deployment: deployed(spec1, 1),
    lastStable: deployed(spec1, 1),
    spec: spec2,
    generation: 2,
    now: at(10),
    running: targets,
    live: targets,
    podFailed: false,
    stoppedWithSavepoint: false,
    suspended: false,
    failed: false,
    stable: false,
    lastCheckpointTime: at(9),
    savepointOutcome: undefined,
    savepointInProgress: false,
    warmRestores: [],
    unreportedPods: [],
    warmReady: false,
    warmCount: { ready: 0, wanted: 2 },
    warmSlots: [1, 1],
    newRunId: () => 'r2',
    ...overrides,
  };
}

const stepAfter = (i: UpgradeInput): UpgradeStep => decideUpgrade(i).upgrade?.step ?? 'Idle';

/** One row per transition of the table, each with an input that takes it. */
const warmSpec = { ...spec2, upgrade: { ...spec2.upgrade, warmup: true, warmupTimeout: '1m' } };
const warmUpgrade = (step: UpgradeStatus['step'], extra: Partial<UpgradeStatus> = {}): UpgradeStatus =>
  upgrade(step, { warm: { runId: 'r2', slots: [1, 1] }, ...extra });
const warmInput = (overrides: Partial<UpgradeInput>) => ({
  spec: warmSpec,
  timing: timingOf(warmSpec),
  ...overrides,
});

const transitions: [UpgradeStep, UpgradeStep, string, Partial<UpgradeInput>][] = [
  [
    'Idle',
    'Deploying',
    'a rescale with warmup is not warmed: it resumes from the last commit',
    warmInput({ spec: { ...warmSpec, image: spec1.image, parallelism: 3 } }),
  ],
  ['Idle', 'Savepointing', 'spec change, savepoint mode, every task running', {}],
  ['Idle', 'Warming', 'spec change, savepoint mode with upgrade.warmup, every task running', warmInput({})],
  [
    'Warming',
    'Savepointing',
    'every pod of the new version is Ready',
    warmInput({ upgrade: warmUpgrade('Warming'), warmReady: true, warmCount: { ready: 2, wanted: 2 } }),
  ],
  [
    'Warming',
    'Savepointing',
    'warmupTimeout passed with the new version not all Ready',
    warmInput({ upgrade: warmUpgrade('Warming'), now: at(61), warmCount: { ready: 1, wanted: 2 } }),
  ],
  [
    'Warming',
    'Idle',
    'the spec changed again while warming',
    warmInput({ upgrade: warmUpgrade('Warming'), generation: 3 }),
  ],
  [
    'Warming',
    'Idle',
    'suspended while warming',
    warmInput({ upgrade: warmUpgrade('Warming'), suspended: true }),
  ],
  [
    'Warming',
    'Idle',
    'the job failed while warming',
    warmInput({ upgrade: warmUpgrade('Warming'), failed: true }),
  ],
  [
    'Aborted',
    'Warming',
    'a newer spec after an abort, with warmup',
    warmInput({ upgrade: upgrade('Aborted'), generation: 3 }),
  ],
  [
    'RolledBack',
    'Warming',
    'a newer spec after a rollback, with warmup',
    warmInput({ upgrade: upgrade('RolledBack'), generation: 3 }),
  ],
  ['Idle', 'Deploying', 'spec change, nothing running to savepoint', { running: undefined }],
  ['Idle', 'Deploying', 'spec change, last-state', { spec: { ...spec2, upgradeMode: 'last-state' } }],
  ['Idle', 'Deploying', 'a rescale', { spec: { ...spec1, parallelism: 3 } }],
  [
    'Idle',
    'Savepointing',
    'suspend, savepoint mode, every task running',
    { spec: { ...spec1, state: 'suspended' }, suspended: true },
  ],
  [
    'Savepointing',
    'Idle',
    'suspend savepoint complete',
    {
      upgrade: upgrade('Savepointing', { suspend: true }),
      suspended: true,
      savepointOutcome: { id: 'upgrade-1', ok: true },
    },
  ],
  [
    'Savepointing',
    'Idle',
    'suspend savepoint failed: suspended anyway, from the last commit',
    { upgrade: upgrade('Savepointing', { suspend: true }), suspended: true, podFailed: true },
  ],
  [
    'Savepointing',
    'Deploying',
    'savepoint complete',
    { upgrade: upgrade('Savepointing'), savepointOutcome: { id: 'upgrade-1', ok: true } },
  ],
  [
    'Savepointing',
    'Deploying',
    'every pod already stopped, each saying it wrote its part',
    { upgrade: upgrade('Savepointing'), live: [], running: undefined, stoppedWithSavepoint: true },
  ],
  [
    'Savepointing',
    'Deploying',
    'every pod stopped without saying it wrote its part, past the timeout: fallback, not a restore from a partial savepoint',
    { upgrade: upgrade('Savepointing'), live: [], running: undefined, now: at(1000) },
  ],
  [
    'Savepointing',
    'Deploying',
    'savepoint failed, fallback',
    { upgrade: upgrade('Savepointing'), savepointOutcome: { id: 'upgrade-1', ok: false, message: 'x' } },
  ],
  [
    'Savepointing',
    'Deploying',
    'savepoint timed out, fallback',
    { upgrade: upgrade('Savepointing'), now: at(121) },
  ],
  [
    'Savepointing',
    'Aborted',
    'savepoint failed, no fallback',
    {
      upgrade: upgrade('Savepointing'),
      podFailed: true,
      spec: { ...spec2, upgrade: { ...spec2.upgrade, savepointFallback: false } },
    },
  ],
  [
    'Savepointing',
    'Aborted',
    'savepoint failed, last checkpoint too old',
    {
      upgrade: upgrade('Savepointing'),
      podFailed: true,
      lastCheckpointTime: at(-600),
      spec: { ...spec2, upgrade: { ...spec2.upgrade, fallbackMaxCheckpointAge: '5m' } },
    },
  ],
  [
    'Deploying',
    'Idle',
    'stable',
    { upgrade: upgrade('Deploying'), deployment: deployed(spec2, 2), stable: true },
  ],
  [
    'Deploying',
    'Idle',
    'suspended while starting: no rollback timer while nothing runs',
    { upgrade: upgrade('Deploying'), deployment: deployed(spec2, 2), suspended: true, now: at(301) },
  ],
  [
    'Deploying',
    'RolledBack',
    'not stable in time',
    { upgrade: upgrade('Deploying'), deployment: deployed(spec2, 2), now: at(301) },
  ],
  [
    'Deploying',
    'RolledBack',
    'restart strategy gave up',
    { upgrade: upgrade('Deploying'), deployment: deployed(spec2, 2), failed: true },
  ],
  [
    'Deploying',
    'Savepointing',
    'a newer spec while running',
    {
      upgrade: upgrade('Deploying'),
      deployment: deployed(spec2, 2),
      spec: { ...spec2, image: 'img:3' },
      generation: 3,
    },
  ],
  [
    'Deploying',
    'Deploying',
    'a newer spec, nothing running',
    {
      upgrade: upgrade('Deploying'),
      deployment: deployed(spec2, 2),
      spec: { ...spec2, image: 'img:3' },
      generation: 3,
      running: undefined,
    },
  ],
  [
    'Aborted',
    'Savepointing',
    'a newer spec',
    { upgrade: upgrade('Aborted'), spec: { ...spec2, image: 'img:3' }, generation: 3 },
  ],
  [
    'Aborted',
    'Deploying',
    'a newer spec, last-state',
    {
      upgrade: upgrade('Aborted'),
      spec: { ...spec2, image: 'img:3', upgradeMode: 'last-state' },
      generation: 3,
    },
  ],
  [
    'RolledBack',
    'Savepointing',
    'a newer spec',
    { upgrade: upgrade('RolledBack'), spec: { ...spec2, image: 'img:3' }, generation: 3 },
  ],
  [
    'RolledBack',
    'Deploying',
    'a newer spec, stateless',
    {
      upgrade: upgrade('RolledBack'),
      spec: { ...spec2, image: 'img:3', upgradeMode: 'stateless' },
      generation: 3,
    },
  ],
];

/** Inputs that must leave the step where it is. */
const stays: [UpgradeStep, string, Partial<UpgradeInput>][] = [
  ['Idle', 'no change', { spec: spec1, generation: 1 }],
  [
    'Idle',
    'suspended: the deployment takes the spec, nothing runs to upgrade',
    { suspended: true, running: undefined },
  ],
  [
    'Idle',
    'suspended with last-state: the pods stop with a last checkpoint',
    { spec: { ...spec1, state: 'suspended', upgradeMode: 'last-state' }, suspended: true },
  ],
  ['Savepointing', 'waiting for the TaskManagers', { upgrade: upgrade('Savepointing'), now: at(60) }],
  [
    'Warming',
    'the new version not Ready yet, within warmupTimeout',
    warmInput({ upgrade: warmUpgrade('Warming') }),
  ],
  [
    'Warming',
    'Ready, but a manual savepoint is in flight',
    warmInput({ upgrade: warmUpgrade('Warming'), warmReady: true, savepointInProgress: true }),
  ],
  [
    'Warming',
    'timed out, but the old version is not all running (no savepoint could cover every task)',
    warmInput({ upgrade: warmUpgrade('Warming'), now: at(61), running: undefined }),
  ],
  [
    'Deploying',
    'not stable yet, within the timeout',
    { upgrade: upgrade('Deploying'), deployment: deployed(spec2, 2), now: at(200) },
  ],
  [
    'Deploying',
    'no stable spec to roll back to',
    { upgrade: upgrade('Deploying'), deployment: deployed(spec2, 2), lastStable: undefined, now: at(301) },
  ],
  [
    'Deploying',
    'rollback off',
    {
      upgrade: upgrade('Deploying'),
      deployment: deployed(spec2, 2),
      now: at(301),
      spec: { ...spec2, upgrade: { ...spec2.upgrade, rollback: false } },
    },
  ],
  ['Aborted', 'the generation that failed, again', { upgrade: upgrade('Aborted') }],
  [
    'RolledBack',
    'the generation that was rolled back, again',
    { upgrade: upgrade('RolledBack'), deployment: deployed(spec1, 1) },
  ],
];

describe('upgrade state machine', () => {
  for (const [from, to, why, overrides] of transitions) {
    it(`${from} → ${to}: ${why}`, () => {
      assert.ok(upgradeTransitions[from].includes(to), 'the table allows it');
      assert.equal(stepAfter(input(overrides)), to);
    });
  }
  for (const [step, why, overrides] of stays) {
    it(`${step} stays: ${why}`, () => assert.equal(stepAfter(input(overrides)), step));
  }

  it('every transition of the table is taken by some row above', () => {
    const taken = new Set(transitions.map(([from, to]) => `${from}→${to}`));
    for (const [from, tos] of Object.entries(upgradeTransitions)) {
      for (const to of tos) assert.ok(taken.has(`${from}→${to}`), `${from} → ${to} has no test row`);
    }
  });

  it('an invalid transition is an error naming both steps', () => {
    assert.throws(
      () => checkTransition('Savepointing', 'RolledBack'),
      /invalid upgrade transition Savepointing → RolledBack/,
    );
    assert.throws(() => checkTransition('Idle', 'RolledBack'), /Idle → RolledBack/);
  });

  it('Savepointing asks only the TaskManagers not stopped yet, with the recorded id', () => {
    const d = decideUpgrade(
      input({
        upgrade: upgrade('Savepointing'),
        live: [targets[1] as (typeof targets)[number]],
        now: at(30),
      }),
    );
    assert.deepEqual(d.action, { kind: 'stopWithSavepoint', id: 'upgrade-1', targets: [targets[1]] });
    assert.equal(d.holdPods, true);
    assert.equal(d.requeueAfterMs, 90_000, 'rechecked when the savepoint times out');
  });

  it('restores from the savepoint, continues the run, or starts a new one, by mode', () => {
    const complete = decideUpgrade(
      input({ upgrade: upgrade('Savepointing'), savepointOutcome: { id: 'upgrade-1', ok: true } }),
    );
    assert.deepEqual(complete.deploy?.run, { kind: 'restore', savepointId: 'upgrade-1' });
    assert.deepEqual(complete.savepointCompleted, { id: 'upgrade-1', reason: 'upgrade' });
    const fallback = decideUpgrade(input({ upgrade: upgrade('Savepointing'), podFailed: true }));
    assert.deepEqual(fallback.deploy?.run, { kind: 'continue' });
    assert.equal(fallback.events[0]?.reason, 'SavepointFallback');
    const stateless = decideUpgrade(input({ spec: { ...spec2, upgradeMode: 'stateless' } }));
    assert.deepEqual(stateless.deploy?.run, { kind: 'new' });
    const rollback = decideUpgrade(
      input({ upgrade: upgrade('Deploying'), deployment: deployed(spec2, 2), failed: true }),
    );
    assert.deepEqual(rollback.deploy, {
      spec: spec1,
      generation: 1,
      run: { kind: 'continue' },
      replacesPods: true,
    });
  });

  it('a newer spec during Savepointing is what the new version deploys', () => {
    const d = decideUpgrade(
      input({
        upgrade: upgrade('Savepointing'),
        spec: { ...spec2, image: 'img:3' },
        generation: 3,
        savepointOutcome: { id: 'upgrade-1', ok: true },
      }),
    );
    assert.equal(d.deploy?.generation, 3);
    assert.equal(d.deploy?.spec.image, 'img:3');
    assert.equal(d.upgrade?.toGeneration, 3);
  });

  it('records the stable spec once: at rest, when the deployment is stable and not yet recorded', () => {
    assert.equal(
      decideUpgrade(input({ spec: spec1, generation: 1, stable: true, lastStable: undefined })).recordStable,
      true,
    );
    assert.equal(decideUpgrade(input({ spec: spec1, generation: 1, stable: true })).recordStable, false);
    assert.equal(
      decideUpgrade(input({ spec: spec1, generation: 1, stable: false, lastStable: undefined })).recordStable,
      false,
    );
  });

  describe('warm upgrades', () => {
    it('Warming starts with the run, the slots and the savepoint chosen, and holds no pod of the old version', () => {
      const d = decideUpgrade(input(warmInput({ warmSlots: [1, 2] })));
      assert.equal(d.upgrade?.step, 'Warming');
      assert.deepEqual(d.upgrade?.warm, { runId: 'r2', slots: [1, 2] });
      assert.match(d.upgrade?.savepointId ?? '', /^upgrade-/);
      assert.equal(d.holdPods, false);
      assert.equal(d.action, undefined);
      assert.equal(d.deploy, undefined);
      assert.equal(d.requeueAfterMs, 60_000);
    });

    it('the old version stops with the savepoint chosen at the start; a timeout says so in a Warning', () => {
      const d = decideUpgrade(
        input(
          warmInput({ upgrade: warmUpgrade('Warming'), now: at(61), warmCount: { ready: 1, wanted: 2 } }),
        ),
      );
      assert.deepEqual(d.action, { kind: 'stopWithSavepoint', id: 'upgrade-1', targets });
      assert.equal(d.holdPods, true);
      assert.equal(d.events[0]?.reason, 'WarmupTimedOut');
      assert.match(d.events[0]?.message ?? '', /1 of 2 warm pod\(s\)/);
    });

    it('the savepoint complete, the new run is the one the warm pods were made for', () => {
      const d = decideUpgrade(
        input(
          warmInput({
            upgrade: warmUpgrade('Savepointing'),
            savepointOutcome: { id: 'upgrade-1', ok: true },
          }),
        ),
      );
      assert.deepEqual(d.deploy?.run, { kind: 'restore', savepointId: 'upgrade-1', runId: 'r2' });
      assert.deepEqual(d.upgrade?.warm, { runId: 'r2', slots: [1, 1] });
    });

    it('a failed savepoint falls back without the warm pods: the run continues and they are dropped', () => {
      const d = decideUpgrade(input(warmInput({ upgrade: warmUpgrade('Savepointing'), podFailed: true })));
      assert.equal(d.upgrade?.step, 'Deploying');
      assert.deepEqual(d.deploy?.run, { kind: 'continue' });
      assert.equal(d.upgrade?.warm, undefined);
    });

    it('abandoned: no deployment changes, an event says why', () => {
      const d = decideUpgrade(input(warmInput({ upgrade: warmUpgrade('Warming'), generation: 3 })));
      assert.equal(d.upgrade, undefined);
      assert.equal(d.deploy, undefined);
      assert.equal(d.events[0]?.reason, 'UpgradeAbandoned');
      assert.match(d.events[0]?.message ?? '', /spec changed again \(generation 3\)/);
    });

    it('Deploying: the tasks that fell back to the savepoint are named in status and a Warning, once', () => {
      const restores = [
        { task: '0/0', warm: true },
        { task: '0/1', warm: false, why: 'savepoint was taken by run r0, not by the warmed run r1' },
      ];
      const first = decideUpgrade(
        input(warmInput({ upgrade: warmUpgrade('Deploying'), warmRestores: restores, stable: true })),
      );
      assert.equal(first.upgrade?.step, 'Deploying');
      assert.match(
        first.upgrade?.message ?? '',
        /1 task\(s\) on their warm state, 1 from the savepoint's sections \(task 0\/1: savepoint was taken by run r0/,
      );
      assert.equal(first.events[0]?.reason, 'WarmRestoreFellBack');
      const again = decideUpgrade(
        input(warmInput({ upgrade: first.upgrade, warmRestores: restores, stable: true })),
      );
      assert.equal(again.upgrade, undefined, 'then stable: Idle');
      assert.equal(again.events[0]?.reason, 'UpgradeCompleted');
      assert.match(
        again.events[0]?.message ?? '',
        /is stable .*; restored from savepoint upgrade-1: 1 task\(s\) on their warm state/,
      );
    });

    it('Deploying: stable, but a pod has not reported its restore yet: waits for it, up to the stable timeout', () => {
      const restores = [{ task: '1/0', warm: true }];
      const upgrade = {
        ...warmUpgrade('Deploying'),
        message: 'restored from savepoint upgrade-1: 1 task(s) on their warm state',
      };
      const waiting = decideUpgrade(
        input(warmInput({ upgrade, warmRestores: restores, stable: true, unreportedPods: ['job-tm-1-1'] })),
      );
      assert.equal(waiting.upgrade?.step, 'Deploying', 'not summed up on half the reports');
      assert.deepEqual(waiting.events, []);
      const late = new Date(new Date(upgrade.stepStartedAt).getTime() + timingOf(spec2).stableTimeoutMs + 1);
      const gaveUp = decideUpgrade(
        input(
          warmInput({
            upgrade,
            warmRestores: restores,
            stable: true,
            unreportedPods: ['job-tm-1-1'],
            now: late,
          }),
        ),
      );
      assert.equal(
        gaveUp.events[0]?.reason,
        'UpgradeCompleted',
        'a pod that never answers does not hold it forever',
      );
    });
  });
});
