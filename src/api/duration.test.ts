import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from './duration.ts';

describe('parseDuration', () => {
  const cases: [string, number][] = [
    ['500ms', 500],
    ['10s', 10_000],
    ['1m', 60_000],
    ['1h30m', 5_400_000],
    ['1m30s250ms', 90_250],
  ];
  for (const [text, ms] of cases) it(`${text} → ${ms}ms`, () => assert.equal(parseDuration(text, 'f'), ms));
  for (const bad of ['', '10', 's', '1d', '1.5s', ' 1s', '1s ']) {
    it(`rejects "${bad}" naming the field`, () =>
      assert.throws(() => parseDuration(bad, 'spec.x'), /^Error: spec\.x: /));
  }
});
