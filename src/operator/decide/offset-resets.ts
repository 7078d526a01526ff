import type { OffsetResetReport } from '../../api/control-api.ts';
import type { EventSpec } from './events.ts';

/** A pass announces at most this many resets one by one; the rest in one event. */
const maxEventsPerPass = 5;

function describe(task: { stage?: number; task: number }, reset: OffsetResetReport): string {
  const who = `task ${task.task}${task.stage ? ` of stage ${task.stage}` : ''}`;
  const where = `${reset.topic}/${reset.partition}`;
  if (reset.reason === 'truncated') {
    return `${who}: ${where} was truncated under its position ${reset.from} (an unclean leader election); reading on from ${reset.to}, where the log diverged (spec.kafka.offsetOutOfRange: ${reset.policy})`;
  }
  const what =
    reset.to > reset.from
      ? `${reset.to - reset.from} offsets skipped`
      : `${reset.from - reset.to} offsets read again`;
  return `${who}: ${where} offset ${reset.from} was outside the partition's log; reading from the ${reset.policy} offset ${reset.to}, ${what} (spec.kafka.offsetOutOfRange: ${reset.policy})`;
}

/**
 * Warning events for the offset resets the tasks report that no event has
 * announced yet (those after `announcedUpTo`, status.lastOffsetResetTime), and
 * the new value of that mark. A task reports its latest resets on every poll,
 * so the mark keeps one reset from being announced twice; a reset reported
 * by a pod the operator could not reach is announced when it is next read.
 */
export function offsetResetEvents(
  announcedUpTo: string | undefined,
  reports: readonly { stage?: number; task: number; offsetResets?: readonly OffsetResetReport[] }[],
): { events: EventSpec[]; announcedUpTo: string | undefined } {
  const mark = announcedUpTo ? new Date(announcedUpTo).getTime() : Number.NEGATIVE_INFINITY;
  const fresh = reports
    .flatMap((task) => (task.offsetResets ?? []).map((reset) => ({ task, reset })))
    .filter(({ reset }) => reset.at.getTime() > mark)
    .sort((a, b) => a.reset.at.getTime() - b.reset.at.getTime());
  if (!fresh.length) return { events: [], announcedUpTo };
  const events: EventSpec[] = fresh
    .slice(0, maxEventsPerPass)
    .map(({ task, reset }) => ({ type: 'Warning', reason: 'OffsetReset', message: describe(task, reset) }));
  const rest = fresh.length - maxEventsPerPass;
  if (rest > 0) {
    events.push({
      type: 'Warning',
      reason: 'OffsetReset',
      message: `${rest} more partitions were moved by spec.kafka.offsetOutOfRange (see the TaskManagers' KAFKA_OFFSET_RESET log lines)`,
    });
  }
  const last = fresh.at(-1)?.reset.at as Date;
  return { events, announcedUpTo: last.toISOString() };
}
