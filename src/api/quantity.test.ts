import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quantityBytes } from './quantity.ts';
import { quantityBytesPattern } from './streamjob-schema.ts';

describe('quantityBytes', () => {
  const cases: [string, number][] = [
    ['0', 0],
    ['1048576', 1_048_576],
    ['128Mi', 128 * 2 ** 20],
    ['10Gi', 10 * 2 ** 30],
    ['2Ti', 2 * 2 ** 40],
    ['64Ki', 65_536],
    ['500M', 500_000_000],
    ['3G', 3e9],
    ['7k', 7000],
  ];
  for (const [text, bytes] of cases)
    it(`${text} is ${bytes} bytes, and the CRD's pattern admits it`, () => {
      assert.equal(quantityBytes(text, 'spec.x'), bytes);
      assert.match(text, new RegExp(quantityBytesPattern));
    });

  for (const bad of ['', '1.5Gi', '10gb', '-1Mi', '10 Gi', '99999999999Ti'])
    it(`refuses "${bad}", naming the field`, () => {
      assert.throws(
        () => quantityBytes(bad, 'spec.taskManager.state.cacheSize'),
        /spec\.taskManager\.state\.cacheSize: /,
      );
    });
});
