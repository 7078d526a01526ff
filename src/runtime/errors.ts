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

/**
 * A task's transactional producer was fenced: a newer attempt of the same task
 * initialised its transactional id, so this process is a zombie (it was
 * partitioned or paused while its replacement started). Nothing it has open
 * can commit any more, and the replacement owns the task's partitions and
 * state, so it stops: retrying would only be fenced again.
 */
export function fencedTaskError(task: number, error: unknown): RuntimeError | undefined {
  const coded = error as { code?: unknown; message?: unknown };
  if (coded?.code !== 'KAFKA_FENCED') return undefined;
  const detail = typeof coded.message === 'string' ? ` (${coded.message})` : '';
  return new RuntimeError(
    'TASK_FENCED',
    `task ${task} was fenced: a newer attempt of it took over its transactional id, so this TaskManager is a zombie whose replacement already runs; it commits nothing more and exits${detail}`,
    false,
    { cause: error },
  );
}
