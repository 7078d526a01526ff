import type { Logger } from 'pino';
import type { PartitionRuntime } from './partition-runtime.ts';
import type { TaskConsumer } from './task-clients.ts';

/**
 * Whether this task, having read nothing since its last commit, is idle:
 * the partition leaders answer, and in every partition the task's own
 * position is at their end offset, so nothing is there that it failed to
 * read. A task stuck behind records (a dead fetch, a partition it never
 * reads) is not idle however quiet the topic, and health by progress finds it.
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
    return partitions.every((p, i) => {
      // Nothing processed yet: where the fetches are (the log's start, for a partition never read).
      const position = p.position ?? consumer.fetchPosition(p.tp.topic, p.tp.partition);
      return position !== undefined && position >= (ends[i] as number);
    });
  } catch (error) {
    log.warn({ err: error }, 'progress: the partition leaders did not answer this idle task');
    return false;
  }
}
