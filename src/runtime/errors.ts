import { CodedError } from '../errors.ts';

/** A TaskManager failure; retriable ones may succeed on a later attempt as they are. */
export class RuntimeError extends CodedError {}

/**
 * A snapshot object that is missing, truncated, or fails its checksum. Never
 * retriable: restoring from it again gives the same bytes, and silently
 * starting with empty state would lose data.
 */
export class SnapshotCorruptError extends RuntimeError {
  readonly objectKey: string;

  constructor(objectKey: string, problem: string, options?: { cause?: unknown }) {
    super('SNAPSHOT_CORRUPT', `snapshot object ${objectKey}: ${problem}`, false, options);
    this.objectKey = objectKey;
  }
}
