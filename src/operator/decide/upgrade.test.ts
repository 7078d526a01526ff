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
    ...overrides,
  };
}

const stepAfter = (i: UpgradeInput): UpgradeStep => decideUpgrade(i).upgrade?.step ?? 'Idle';

/** One row per transition of the table, each with an input that takes it. */
const transitions: [UpgradeStep, UpgradeStep, string, Partial<UpgradeInput>][] = [
  ['Idle', 'Savepointing', 'spec change, savepoint mode, every task running', {}],
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
});
