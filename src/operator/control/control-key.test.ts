import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { controlKeyContent } from './control-key.ts';

const where = 'weir-system/weir-control-key';

describe('controlKeyContent', () => {
  const cases: { name: string; data?: Record<string, string>; expect: 'empty' | number | RegExp }[] = [
    { name: 'no data at all (as the chart creates it)', expect: 'empty' },
    { name: 'an empty key', data: { key: '' }, expect: 'empty' },
    { name: 'other keys only', data: { other: 'eA==' }, expect: 'empty' },
    { name: 'a 32-byte key', data: { key: Buffer.alloc(32, 1).toString('base64') }, expect: 32 },
    { name: 'a 64-byte key', data: { key: Buffer.alloc(64, 1).toString('base64') }, expect: 64 },
    {
      name: 'a short key is refused, naming the Secret',
      data: { key: Buffer.alloc(16, 1).toString('base64') },
      expect: /^Secret weir-system\/weir-control-key: data.key holds 16 bytes; at least 32/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const secret = c.data ? { data: c.data } : {};
      if (c.expect instanceof RegExp) {
        assert.throws(
          () => controlKeyContent(secret, where),
          (error: Error & { code?: string }) => {
            assert.match(error.message, c.expect as RegExp);
            assert.equal(error.code, 'CONTROL_KEY_INVALID');
            return true;
          },
        );
        return;
      }
      const content = controlKeyContent(secret, where);
      if (c.expect === 'empty') assert.deepEqual(content, { kind: 'empty' });
      else assert.equal(content.kind === 'key' && content.key.length, c.expect);
    });
  }
});
