import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Phase } from '../../api/streamjob.ts';
import { decidePhase, type PhaseInput } from './phase.ts';

const running: PhaseInput = {
  failed: false,
  suspended: false,
  upgradeStep: 'Idle',
  readyPods: 2,
  wantedPods: 2,
  restartPending: false,
  restartedNow: false,
  podsOnUnreadyNodes: 0,
  previous: 'Running',
};

const cases: [string, Partial<PhaseInput>, Phase][] = [
  ['every pod Ready', {}, 'Running'],
  ['Failed wins over everything', { failed: true, suspended: true, upgradeStep: 'Savepointing' }, 'Failed'],
  ['suspended', { suspended: true, readyPods: 0 }, 'Suspended'],
  ['stopping with the upgrade savepoint, pods still Ready', { upgradeStep: 'Savepointing' }, 'Upgrading'],
  ['new version starting', { upgradeStep: 'Deploying', readyPods: 0, previous: 'Upgrading' }, 'Upgrading'],
  ['new version Ready, not yet stable', { upgradeStep: 'Deploying' }, 'Running'],
  ['a restart waiting out its delay', { restartPending: true, readyPods: 1 }, 'Restarting'],
  ['a failure counted now', { restartedNow: true, readyPods: 1 }, 'Restarting'],
  ['recreated pods not Ready yet', { readyPods: 1, previous: 'Restarting' }, 'Restarting'],
  [
    'a failed new version restarting',
    { upgradeStep: 'Deploying', readyPods: 1, restartPending: true },
    'Restarting',
  ],
  ['a new job', { readyPods: 0, previous: undefined }, 'Deploying'],
  ['a pod on a NotReady node, marked not Ready', { readyPods: 1, podsOnUnreadyNodes: 1 }, 'Restarting'],
  ['a pod on a NotReady node, still marked Ready', { podsOnUnreadyNodes: 1 }, 'Restarting'],
  [
    'a NotReady node while deploying',
    { readyPods: 0, previous: 'Deploying', podsOnUnreadyNodes: 2 },
    'Restarting',
  ],
  ['a NotReady node while suspended', { suspended: true, readyPods: 0, podsOnUnreadyNodes: 1 }, 'Suspended'],
];

describe('decidePhase', () => {
  for (const [what, change, phase] of cases) {
    it(`${what}: ${phase}`, () => assert.equal(decidePhase({ ...running, ...change }), phase));
  }
});
