import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { type StreamJobSpec, taskManagerDefaults } from '../../api/streamjob.ts';
import { type DiffType, diffSpecs, specHashOf } from './spec-diff.ts';
import { testingSpec } from './testing-spec.ts';

const base = testingSpec({ args: { a: 1, b: { c: 2 } } });

const cases: [string, Partial<StreamJobSpec>, DiffType, string[]][] = [
  ['nothing', {}, 'ignore', []],
  [
    'the restart strategy',
    { restartStrategy: { type: 'fixed-delay', attempts: 3, delay: '1s' } },
    'ignore',
    [],
  ],
  ['the nonces and state', { restartNonce: 2, savepointTriggerNonce: 5, state: 'suspended' }, 'ignore', []],
  [
    'upgrade settings and mode',
    {
      upgradeMode: 'stateless',
      upgrade: {
        stableTimeout: '5m',
        rollback: false,
        savepointTimeout: '2m',
        savepointFallback: false,
        warmup: true,
        warmupTimeout: '1m',
      },
    },
    'ignore',
    [],
  ],
  ['args key order only', { args: { b: { c: 2 }, a: 1 } }, 'ignore', []],
  ['parallelism', { parallelism: 4 }, 'scale', ['parallelism']],
  ['taskSlots', { taskSlots: 2 }, 'scale', ['taskSlots']],
  ['the image', { image: 'img:2' }, 'upgrade', ['image']],
  ['args', { args: { a: 2, b: { c: 2 } } }, 'upgrade', ['args']],
  [
    'the checkpoint interval',
    { checkpoints: { ...base.checkpoints, interval: '5s' } },
    'upgrade',
    ['checkpoints'],
  ],
  [
    'the image and parallelism: the larger class',
    { image: 'img:2', parallelism: 3 },
    'upgrade',
    ['parallelism', 'image'],
  ],
  [
    'a taskManager of nothing but its defaults where there was none',
    { taskManager: structuredClone(taskManagerDefaults) },
    'ignore',
    [],
  ],
  [
    'a taskManager with one setting of its own',
    { taskManager: { ...structuredClone(taskManagerDefaults), heapPercent: 60 } },
    'upgrade',
    ['taskManager'],
  ],
  [
    'allowNonRestoredState false → true',
    { allowNonRestoredState: true },
    'upgrade',
    ['allowNonRestoredState'],
  ],
];

describe('diffSpecs', () => {
  for (const [what, change, type, fields] of cases) {
    it(`${what}: ${type}`, () => {
      const diff = diffSpecs(base, { ...base, ...change });
      assert.equal(diff.type, type);
      assert.deepEqual(diff.fields, fields);
    });
  }
});

/** The formula the pods of running jobs were labelled with before spec-diff.ts existed. */
function earlierHashOf(spec: StreamJobSpec): string {
  const shaping = {
    image: spec.image,
    entry: spec.entry,
    args: spec.args,
    parallelism: spec.parallelism,
    taskSlots: spec.taskSlots,
    kafka: spec.kafka,
    checkpoints: spec.checkpoints,
    taskManager: spec.taskManager,
  };
  return createHash('sha256').update(JSON.stringify(shaping)).digest('hex').slice(0, 10);
}

describe('specHashOf', () => {
  it('is the hash earlier Weir versions computed (an operator upgrade restarts no job)', () => {
    const earlier = earlierHashOf(base);
    // Pinned as a literal too: a change of testingSpec or of the formula that moved both sides alike would
    // still change every running job's pod hash, and restart them all at the operator's upgrade.
    assert.equal(earlier, 'f041b85847');
    assert.equal(specHashOf(base), earlier);
    assert.equal(specHashOf({ ...base, restartNonce: 9, upgradeMode: 'stateless' }), earlier);
    assert.notEqual(specHashOf({ ...base, allowNonRestoredState: true }), earlier);
    // A taskManager of only defaults makes the pods a job without one has (taskManagerOf in spec-diff.ts).
    assert.equal(specHashOf({ ...base, taskManager: structuredClone(taskManagerDefaults) }), earlier);
  });

  it('is unchanged for a taskManager with settings of its own (their pods keep their hash)', () => {
    const taskManager = { ...structuredClone(taskManagerDefaults), nodeSelector: { disk: 'ssd' } };
    const shaped = { ...base, taskManager };
    assert.equal(specHashOf(shaped), earlierHashOf(shaped));
  });
});
