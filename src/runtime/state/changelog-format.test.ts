import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CodedError } from '../../errors.ts';
import { decodeChangelogKey, encodeChangelogKey } from './changelog-format.ts';

describe('changelog keys', () => {
  it('round-trip any store and entry, NULs and non-Latin text included', () => {
    for (const [store, key] of [
      ['count/count', '"k1"'],
      ['win/windows', 'user\u00007'],
      ['p/__timers', 'e0000000000001000\u0000"k"'],
      ['s', ''],
      ['状态', 'ключ'],
    ] as const) {
      assert.deepEqual(decodeChangelogKey('t', encodeChangelogKey(store, key)), { store, key });
    }
  });

  const invalid: [string, Buffer | null, RegExp][] = [
    ['no key', null, /has no key/],
    ['too short', Buffer.from([1, 0]), /shorter than its header/],
    ['another version', Buffer.from([9, 0, 1, 0x61]), /format version 9; this Weir reads 1/],
    ['an empty store name', Buffer.from([1, 0, 0, 0x61]), /store name length 0/],
    ['a name past the end', Buffer.from([1, 0, 5, 0x61]), /runs past the key/],
    ['a name over the bound', Buffer.from([1, 0xff, 0xff, 0x61]), /store name length 65535/],
    ['text that is not UTF-8', Buffer.from([1, 0, 1, 0x61, 0xc3, 0x28]), /not UTF-8/],
  ];
  for (const [what, bytes, message] of invalid) {
    it(`refuses ${what}, naming the record`, () => {
      assert.throws(
        () => decodeChangelogKey('weir.a.b.r.src.changelog[3]@17', bytes),
        (error: unknown) =>
          error instanceof CodedError &&
          error.code === 'CHANGELOG_RECORD_INVALID' &&
          /weir\.a\.b\.r\.src\.changelog\[3\]@17/.test(error.message) &&
          message.test(error.message),
      );
    });
  }

  it('fuzz: random and mutated keys decode or fail with the coded error, never anything else', () => {
    const valid = encodeChangelogKey('count/count', '"some-key"');
    for (let i = 0; i < 5000; i++) {
      const bytes = i % 2 ? randomBytes(i % 40) : Buffer.from(valid);
      if (i % 2 === 0) bytes[i % bytes.length] = (bytes[i % bytes.length] ?? 0) ^ (1 + (i % 255));
      try {
        decodeChangelogKey('fuzz', bytes);
      } catch (error) {
        assert.ok(error instanceof CodedError && error.code === 'CHANGELOG_RECORD_INVALID', String(error));
      }
    }
  });
});
