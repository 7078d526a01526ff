import { createHmac } from 'node:crypto';

export interface TokenSubject {
  namespace: string;
  name: string;
  uid: string;
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
  return createHmac('sha256', key)
    .update(`weir.dev/control-token/v1\0${subject.namespace}\0${subject.name}\0${subject.uid}`)
    .digest('hex');
}
