import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideRun, type RunInput, type RunState } from './run.ts';

const state: RunState = {
  run: { id: 'r1' },
  observedInitialSavepoint: undefined,
  restartEpoch: 3,
  observedRestartNonce: 0,
  phase: 'Running',
  restarts: { count: 2, consecutive: 2, recentFailures: [] },
};
const input: RunInput = {
  initialSavepoint: undefined,
  restartNonce: 0,
  deployment: undefined,
  newRunId: () => 'r2',
};
const replace = { replacesPods: true } as const;

const cases: [string, Partial<RunState>, Partial<RunInput>, Partial<RunState>, string[]][] = [
  ['nothing changed', {}, {}, {}, []],
  [
    'a new job gets a run',
    { run: undefined, restartEpoch: 0, observedRestartNonce: undefined },
    {},
    { run: { id: 'r2' }, restartEpoch: 0, observedRestartNonce: 0 },
    [],
  ],
  [
    'restartNonce: every pod, no new run',
    {},
    { restartNonce: 1 },
    { restartEpoch: 4, observedRestartNonce: 1 },
    ['RestartRequested'],
  ],
  [
    'restartNonce revives a Failed job',
    { phase: 'Failed' },
    { restartNonce: 1 },
    {
      restartEpoch: 4,
      observedRestartNonce: 1,
      phase: 'Deploying',
      restarts: { count: 0, consecutive: 0, recentFailures: [] },
    },
    ['RestartRequested'],
  ],
  [
    'initialSavepoint: a new run from it',
    {},
    { initialSavepoint: 'manual-1' },
    {
      run: { id: 'r2', restoredFrom: 'manual-1' },
      observedInitialSavepoint: 'manual-1',
      restartEpoch: 4,
      restarts: { count: 0, consecutive: 0, recentFailures: [] },
    },
    ['RestoringFromSavepoint'],
  ],
  [
    'initialSavepoint already acted on',
    { observedInitialSavepoint: 'manual-1', run: { id: 'r1', restoredFrom: 'upgrade-9' } },
    { initialSavepoint: 'manual-1' },
    {},
    [],
  ],
  [
    'a status from before observedInitialSavepoint',
    { run: { id: 'r1', restoredFrom: 'manual-1' } },
    { initialSavepoint: 'manual-1' },
    { observedInitialSavepoint: 'manual-1' },
    [],
  ],
  [
    'a deployment that continues the run',
    {},
    { deployment: { ...replace, run: { kind: 'continue' } } },
    { restartEpoch: 4, restarts: { count: 0, consecutive: 0, recentFailures: [] } },
    [],
  ],
  [
    'a stateless deployment: a new run',
    {},
    { deployment: { ...replace, run: { kind: 'new' } } },
    { run: { id: 'r2' }, restartEpoch: 4, restarts: { count: 0, consecutive: 0, recentFailures: [] } },
    [],
  ],
  [
    'a savepoint deployment: a new run restored from it',
    { phase: 'Failed' },
    { deployment: { ...replace, run: { kind: 'restore', savepointId: 'upgrade-1' } } },
    {
      run: { id: 'r2', restoredFrom: 'upgrade-1' },
      restartEpoch: 4,
      phase: 'Deploying',
      restarts: { count: 0, consecutive: 0, recentFailures: [] },
    },
    [],
  ],
  [
    'a deployment that replaces no pods changes nothing here',
    {},
    { deployment: { replacesPods: false, run: { kind: 'continue' } } },
    {},
    [],
  ],
];

describe('decideRun', () => {
  for (const [what, from, given, changed, events] of cases) {
    it(what, () => {
      const out = decideRun({ ...state, ...from }, { ...input, ...given });
      assert.deepEqual(out.state, { ...state, ...from, ...changed });
      assert.deepEqual(
        out.events.map((e) => e.reason),
        events,
      );
    });
  }
});
