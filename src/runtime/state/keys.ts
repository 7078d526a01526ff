/**
 * The string a key is stored under in keyed state: a string key as it is, a
 * byte key as base64, anything else as JSON; keyOfStateKey reads it back
 * (timers fire for a stored key, and the operator's callbacks get it typed).
 */
export function stateKey(key: unknown): string {
  if (typeof key === 'string') return key;
  if (Buffer.isBuffer(key)) return `b64:${key.toString('base64')}`;
  return `json:${JSON.stringify(key)}`;
}

export function keyOfStateKey(stored: string): unknown {
  if (stored.startsWith('b64:')) return Buffer.from(stored.slice(4), 'base64');
  if (stored.startsWith('json:')) return JSON.parse(stored.slice(5)) as unknown;
  return stored;
}
