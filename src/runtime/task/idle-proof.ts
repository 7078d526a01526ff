import type { Logger } from 'pino';
import type { PartitionRuntime } from './partition-runtime.ts';
import type { TaskConsumer } from './task-clients.ts';

/**
 * Whether this task, having read nothing since its last commit, is idle:
 * the partition leaders answer, and in every partition nothing is there that
 * it failed to read. Either its own position is at their end offset, or
 * only control records lie between: a transactional input (a repartition
 * topic, another job's output) ends in a commit marker no task ever reads,
 * which the fetches passed while every record they fetched was consumed. A
 * task stuck behind records (a dead fetch, a partition it never reads, records
 * fetched and not taken) is not idle however quiet the topic, and health by
 * progress finds it.
 */
export async function provenIdle(
  partitions: readonly PartitionRuntime[],
  consumer: TaskConsumer,
  checkpointTimeoutMs: number,
  log: Logger,
): Promise<boolean> {
  try {
    const ends = await consumer.endOffsets(
      partitions.map((p) => p.tp),
      Math.min(5_000, checkpointTimeoutMs),
    );
    // Read after the leaders answered: a record fetched since is at or past the end they gave.
    const drained = consumer.bufferedRecords() === 0;
    return partitions.every((p, i) => {
      const end = ends[i] as number;
      const fetched = consumer.fetchPosition(p.tp.topic, p.tp.partition);
      // Nothing processed yet: where the fetches are (the log's start, for a partition never read).
      const position = p.position ?? fetched;
      if (position !== undefined && position >= end) return true;
      return drained && fetched !== undefined && fetched >= end;
    });
  } catch (error) {
    log.warn({ err: error }, 'progress: the partition leaders did not answer this idle task');
    return false;
  }
}

/**
 * The records of a partition the task has yet to read: from its position to
 * the high watermark, less what its fetches passed without a record for it
 * (a transactional topic's commit markers) once nothing fetched waits.
 * Null before a fetch saw the high watermark.
 */
export function unreadRecords(
  high: number | undefined,
  position: number | undefined,
  fetched: number | undefined,
  drained: boolean,
): number | null {
  if (high === undefined) return null;
  const read = drained && fetched !== undefined ? Math.max(position ?? 0, fetched) : (position ?? 0);
  return Math.max(0, high - read);
}
