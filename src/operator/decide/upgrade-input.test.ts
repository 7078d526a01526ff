import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { podsNotDoneRestoring } from './upgrade-input.ts';

describe('podsNotDoneRestoring (a warm hand-over is summed up once every pod said how its tasks restored)', () => {
  const live = [{ pod: 'a' }, { pod: 'b' }];
  const cases: [string, { pod: string; state: string }[], string[]][] = [
    ['no report yet', [], ['a', 'b']],
    [
      'every task of both past its restore',
      [
        { pod: 'a', state: 'running' },
        { pod: 'b', state: 'checkpointing' },
      ],
      [],
    ],
    [
      'a report taken while a stateful task restored, beside a first stage that already runs',
      [
        { pod: 'a', state: 'running' },
        { pod: 'a', state: 'restoring' },
        { pod: 'b', state: 'running' },
      ],
      ['a'],
    ],
    [
      'a task not started',
      [
        { pod: 'a', state: 'created' },
        { pod: 'b', state: 'running' },
      ],
      ['a'],
    ],
    ['one pod answered', [{ pod: 'b', state: 'running' }], ['a']],
  ];
  for (const [what, reports, expected] of cases) {
    it(what, () => assert.deepEqual(podsNotDoneRestoring(live, reports), expected));
  }
});
