import type { Condition } from '../../api/streamjob.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/**
 * Sets one condition with the generation it describes. lastTransitionTime
 * moves only when the status flips, as the API conventions ask.
 */
export function setCondition(
  conditions: Condition[],
  next: { type: string; status: ConditionStatus; reason: string; message: string },
  generation: number,
  now: Date,
): Condition[] {
  const previous = conditions.find((c) => c.type === next.type);
  const lastTransitionTime =
    previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString();
  const updated: Condition = { ...next, observedGeneration: generation, lastTransitionTime };
  return [...conditions.filter((c) => c.type !== next.type), updated].sort((a, b) =>
    a.type.localeCompare(b.type),
  );
}
