import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testingSpec } from './testing-spec.ts';
import { type JobTiming, timingOf } from './timing.ts';

describe('timingOf', () => {
  const spec = testingSpec({});
  const cases: [string, Parameters<typeof timingOf>[0], Partial<JobTiming>][] = [
    [
      "the schema's defaults",
      spec,
      {
        checkpointIntervalMs: 10_000,
        checkpointTimeoutMs: 60_000,
        progressWindowMs: 80_000,
        stableTimeoutMs: 300_000,
        savepointTimeoutMs: 120_000,
        savepointRequestTimeoutMs: 90_000,
        triggeredSavepointTimeoutMs: 180_000,
        fallbackMaxCheckpointAgeMs: undefined,
        savepointIntervalMs: undefined,
        savepointHistoryMaxAgeMs: undefined,
      },
    ],
    [
      'the window defaults to two intervals plus the timeout, as the TaskManager does',
      { ...spec, checkpoints: { ...spec.checkpoints, interval: '2s', timeout: '1m' } },
      { checkpointIntervalMs: 2_000, progressWindowMs: 64_000 },
    ],
    [
      'a window that is set',
      { ...spec, checkpoints: { ...spec.checkpoints, progressWindow: '45s' } },
      { progressWindowMs: 45_000 },
    ],
    [
      'optional durations that are set',
      {
        ...spec,
        upgrade: { ...spec.upgrade, fallbackMaxCheckpointAge: '1h' },
        savepoints: { ...spec.savepoints, interval: '30m', historyMaxAge: '168h' },
      },
      {
        fallbackMaxCheckpointAgeMs: 3_600_000,
        savepointIntervalMs: 1_800_000,
        savepointHistoryMaxAgeMs: 604_800_000,
      },
    ],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      const timing = timingOf(input);
      for (const [key, value] of Object.entries(expected)) {
        assert.equal(timing[key as keyof JobTiming], value, key);
      }
    });
  }

  it('names the field of a duration it cannot parse', () => {
    assert.throws(
      () => timingOf({ ...spec, upgrade: { ...spec.upgrade, stableTimeout: 'soon' } }),
      /spec\.upgrade\.stableTimeout/,
    );
  });
});
