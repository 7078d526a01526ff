import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkpointIdOf,
  otherRunsInternalTopics,
  repartitionOperatorOf,
  repartitionTopic,
  snapshotKey,
  taskStatePrefix,
  transactionalId,
} from '../../api/names.ts';
import { objectsToDelete } from './retention.ts';

const prefix = taskStatePrefix('prod', 'wc', 'r1', 0, 2);
const key = (id: number, attempt = 'aa11') => snapshotKey(prefix, id, attempt);

describe('checkpoint paths', () => {
  it('follow the DESIGN.md layout and contracts', () => {
    assert.equal(key(7), 'prod/wc/runs/r1/state/s0/t2/7-aa11.snap');
    assert.equal(checkpointIdOf(key(7)), 7);
    assert.equal(checkpointIdOf(`${prefix}notes.txt`), undefined);
    assert.equal(transactionalId('prod', 'wc', 'r1', 0, 2), 'weir.prod.wc.r1.s0.t2');
  });
});

describe('objectsToDelete', () => {
  const table: [string, string[], string[], number, number, string[]][] = [
    ['keeps the retained window', [key(1), key(2), key(3)], [key(3)], 3, 2, [key(1)]],
    [
      'keeps what a live pointer references, however old',
      [key(1), key(5), key(6)],
      [key(1), key(6)],
      6,
      1,
      [key(5)],
    ],
    [
      'deletes failed attempts below the window',
      [key(4, 'dead'), key(4), key(5)],
      [key(5)],
      5,
      1,
      [key(4, 'dead'), key(4)],
    ],
    [
      'keeps objects newer than the commit (another attempt owns them)',
      [key(9, 'next'), key(8)],
      [key(8)],
      8,
      1,
      [],
    ],
    ['ignores keys that are not snapshots', [`${prefix}README`, key(1)], [], 5, 1, [key(1)]],
  ];
  for (const [what, listed, referenced, committed, retained, expected] of table) {
    it(what, () =>
      assert.deepEqual(objectsToDelete(listed, new Set(referenced), committed, retained), expected),
    );
  }
});

describe('repartition topic names', () => {
  it('are per job, run and keyBy id, and only the job’s other runs are found as garbage', () => {
    assert.equal(repartitionTopic('ns', 'wc', 'ab12', 'by-word'), 'weir.ns.wc.ab12.by-word');
    assert.equal(repartitionOperatorOf('weir.ns.wc.ab12.by-word', 'ns', 'wc', 'ab12'), 'by-word');
    assert.equal(repartitionOperatorOf('weir.ns.wc.ab12.by-word', 'ns', 'wc', 'cd34'), undefined);
    assert.equal(repartitionOperatorOf('lines', 'ns', 'wc', 'ab12'), undefined);
    assert.deepEqual(
      otherRunsInternalTopics(
        [
          'weir.ns.wc.ab12.by-word',
          'weir.ns.wc.cd34.by-word',
          'weir.ns.wc.x.cd34.by-word', // job "wc.x"
          'weir.ns.wc2.cd34.by-word', // job "wc2"
          'weir.other.wc.cd34.by-word',
          'lines',
        ],
        'ns',
        'wc',
        'ab12',
      ),
      ['weir.ns.wc.cd34.by-word'],
    );
  });
});
