import { CodedError } from '../errors.ts';

/**
 * An object's bytes: one buffer, or its parts in order (a background
 * snapshot keeps its sections as the encoder's chunks, so the object is never
 * copied whole into one buffer).
 */
export type ObjectBytes = Buffer | readonly Buffer[];

/** The length of an object's bytes. */
export function objectLength(bytes: ObjectBytes): number {
  if (Buffer.isBuffer(bytes)) return bytes.length;
  let length = 0;
  for (const part of bytes as readonly Buffer[]) length += part.length;
  return length;
}

export interface PutOptions {
  signal?: AbortSignal;
  /** Called as a large object's parts are stored, with the bytes stored so far. */
  onProgress?: (storedBytes: number, totalBytes: number) => void;
}

/**
 * Where snapshot objects and savepoint manifests live. Keys are relative to
 * the job's storage prefix. Implementations: S3 (clusters) and a local
 * directory (`weir run --local`).
 */
export interface CheckpointStorage {
  /** Human-readable location of a key, for error messages (s3://bucket/prefix/key, or a path). */
  describe(key: string): string;
  /** Stores the object whole or not at all; an aborted `signal` abandons the write (and any parts already sent). */
  put(key: string, bytes: ObjectBytes, options?: PutOptions): Promise<void>;
  /** The whole object, or the byte range [start, start + length). Missing objects throw ObjectMissingError. */
  get(key: string, range?: { start: number; length: number }): Promise<Buffer>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Fails with a coded error naming the cause when the storage cannot be used (at start, before any task runs). */
  check(): Promise<void>;
}

/** A referenced object that does not exist: restoring without it would lose state, so it is never retriable. */
export class ObjectMissingError extends CodedError {
  readonly location: string;

  constructor(location: string, options?: { cause?: unknown }) {
    super('SNAPSHOT_MISSING', `snapshot object ${location} does not exist`, false, options);
    this.location = location;
  }
}

/** A storage request that failed in transit or on the server: a later attempt may succeed. */
export class StorageUnavailableError extends CodedError {
  constructor(operation: string, location: string, cause: unknown) {
    super(
      'STORAGE_UNAVAILABLE',
      `${operation} ${location}: ${(cause as Error)?.message ?? String(cause)}`,
      true,
      { cause },
    );
  }
}

/** Keys are relative and made of plain segments, so no key can escape its job's prefix. */
export function checkKey(key: string): void {
  if (key === '' || key.startsWith('/') || key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new CodedError('STORAGE_KEY_INVALID', `invalid storage key "${key}"`, false);
  }
}
