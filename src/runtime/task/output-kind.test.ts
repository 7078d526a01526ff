import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outputKind, watermarkLagMs } from './output-kind.ts';
import { lateOperatorHeader } from './stage-output.ts';

describe('a task output’s kind, for its counters', () => {
  const cases: [string, { topic: string; headers?: Record<string, string> }, string][] = [
    ['a sink record', { topic: 'sums' }, 'out'],
    ['a repartition record', { topic: 'weir.ns.job.r1.by-key' }, 'out'],
    [
      'a record too late for every window',
      { topic: 'late', headers: { [lateOperatorHeader]: 'hourly' } },
      'late',
    ],
    [
      'a poison record to the dead-letter topic',
      { topic: 'dead', headers: { 'weir.error': 'x' } },
      'deadLetters',
    ],
  ];
  for (const [name, out, kind] of cases)
    it(name, () => assert.equal(outputKind(out, 'sums', 'weir.ns.job.r1.by-key'), kind));
});

describe('watermark lag', () => {
  it('is the slowest partition’s, never negative, and unknown until every partition has a watermark', () => {
    assert.equal(watermarkLagMs([9_000, 7_000], 10_000), 3_000);
    assert.equal(watermarkLagMs([12_000], 10_000), 0);
    assert.equal(watermarkLagMs([Number.NEGATIVE_INFINITY, 7_000], 10_000), undefined);
    assert.equal(watermarkLagMs([], 10_000), undefined);
  });
});
