import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobToken } from './job-token.ts';

const key = Buffer.alloc(32, 7);
const identity = { namespace: 'team-a', name: 'wordcount', uid: '0b6c4f4e-1111-2222-3333-444455556666' };
const job = { metadata: identity };
const withMeta = (fields: Partial<typeof identity>) => ({ metadata: { ...identity, ...fields } });

describe('jobToken', () => {
  it('is a stable 256-bit hex value for the same key and job', () => {
    const token = jobToken(key, job);
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.equal(jobToken(Buffer.from(key), withMeta({})), token);
  });

  it('differs when any part of the job or the key differs', () => {
    const base = jobToken(key, job);
    const variants = [
      jobToken(key, withMeta({ namespace: 'team-b' })),
      jobToken(key, withMeta({ name: 'wordcount2' })),
      jobToken(key, withMeta({ uid: '0b6c4f4e-1111-2222-3333-444455556667' })),
      jobToken(Buffer.alloc(32, 8), job),
      // Field boundaries are unambiguous: moving a character across them changes the token.
      jobToken(key, withMeta({ namespace: 'team-aw', name: 'ordcount' })),
    ];
    assert.equal(new Set([base, ...variants]).size, variants.length + 1);
  });

  it('refuses a key shorter than 32 bytes', () => {
    assert.throws(() => jobToken(Buffer.alloc(31), job), /at least 32 bytes, got 31/);
  });
});
