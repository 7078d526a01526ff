import { RuntimeError } from '../errors.ts';

/**
 * A changelog record's key: which store of the partition and which entry.
 * The value is the entry's stored bytes (JSON, as in a snapshot section), or
 * null for an entry that was removed (a tombstone, which compaction keeps for
 * delete.retention.ms and then drops with the entries before it).
 *
 *   u8 format version (1) | u16 store name length | store name | entry key
 *
 * Both strings are UTF-8. The bytes come back from Kafka on restore, so the
 * reader trusts nothing: every length is checked against what is there, and
 * text that is not UTF-8 is refused rather than altered.
 */
export const changelogFormatVersion = 1;

/** Store names are operator ids with a suffix: far below this. */
const maxStoreNameBytes = 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeChangelogKey(store: string, key: string): Buffer {
  const name = Buffer.from(store, 'utf8');
  if (name.length > maxStoreNameBytes) {
    throw new RuntimeError(
      'CHANGELOG_STORE_NAME_TOO_LONG',
      `state store name "${store.slice(0, 80)}…" is over ${maxStoreNameBytes} bytes`,
      false,
    );
  }
  const entry = Buffer.from(key, 'utf8');
  const out = Buffer.allocUnsafe(3 + name.length + entry.length);
  out.writeUInt8(changelogFormatVersion, 0);
  out.writeUInt16BE(name.length, 1);
  name.copy(out, 3);
  entry.copy(out, 3 + name.length);
  return out;
}

/** The store and entry a changelog key names; `where` (topic, partition, offset) goes into the error. */
export function decodeChangelogKey(where: string, key: Buffer | null): { store: string; key: string } {
  const fail = (problem: string): never => {
    throw new RuntimeError('CHANGELOG_RECORD_INVALID', `changelog record ${where}: ${problem}`, false);
  };
  if (key === null) return fail('has no key');
  if (key.length < 3) return fail(`key of ${key.length} bytes is shorter than its header`);
  const version = key.readUInt8(0);
  if (version !== changelogFormatVersion) {
    return fail(`format version ${version}; this Weir reads ${changelogFormatVersion}`);
  }
  const nameLength = key.readUInt16BE(1);
  if (nameLength === 0 || nameLength > maxStoreNameBytes)
    return fail(`store name length ${nameLength} is out of bounds`);
  if (3 + nameLength > key.length)
    return fail(`store name of ${nameLength} bytes runs past the key's ${key.length}`);
  try {
    return {
      store: utf8.decode(key.subarray(3, 3 + nameLength)),
      key: utf8.decode(key.subarray(3 + nameLength)),
    };
  } catch {
    return fail('key is not UTF-8');
  }
}
