import { lateOperatorHeader, type OutputRecord } from './stage-output.ts';

/**
 * What a task's output record is, for its counters: a sink or repartition
 * record (out), a record too late for every window (late: it carries the
 * late-records header), or anything else a step sent aside (a dead letter).
 */
export function outputKind(
  out: Pick<OutputRecord, 'topic' | 'headers'>,
  sinkTopic: string,
  repartitionTopic: string | undefined,
): 'out' | 'late' | 'deadLetters' {
  if (out.topic === sinkTopic || out.topic === repartitionTopic) return 'out';
  return out.headers?.[lateOperatorHeader] !== undefined ? 'late' : 'deadLetters';
}

/** How far the slowest of the watermarks is behind `now` (never below 0); undefined while none is known. */
export function watermarkLagMs(watermarks: readonly number[], now: number): number | undefined {
  const slowest = Math.min(...watermarks);
  return Number.isFinite(slowest) ? Math.max(0, now - slowest) : undefined;
}
