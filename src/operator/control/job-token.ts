import { createHmac } from 'node:crypto';

/** The job a token belongs to: a StreamJob, or anything with its identifying metadata. */
export interface TokenSubject {
  metadata: { namespace?: string; name?: string; uid?: string };
}

/** Shortest operator key accepted: an HMAC key below the digest size weakens every token derived from it. */
export const minimumControlKeyBytes = 32;

/**
 * The control-channel token of one job, derived from the operator's key.
 * Deriving instead of storing lets the operator create the job's token
 * Secret without ever being allowed to read Secrets back: any replica with
 * the key can recompute the token to call the TaskManagers. The uid makes a
 * recreated job with the same name get a different token.
 */
export function jobToken(key: Buffer, subject: TokenSubject): string {
  if (key.length < minimumControlKeyBytes) {
    throw new RangeError(`control key must be at least ${minimumControlKeyBytes} bytes, got ${key.length}`);
  }
  const { namespace, name, uid } = subject.metadata;
  return createHmac('sha256', key)
    .update(`weir.dev/control-token/v1\0${namespace ?? ''}\0${name ?? ''}\0${uid ?? ''}`)
    .digest('hex');
}
