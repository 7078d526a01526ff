import type { JoinInput } from '../../sdk/joins.ts';
import type { JobDefinition, StageDefinition } from '../../sdk/pipeline.ts';

/**
 * The joins of the stage after the first keyBy: the first stage reads their
 * topics and sends each record on through the keyBy's repartition topic,
 * re-keyed with its key format, so it meets the stream it joins in the same
 * partition of the next stage.
 */
export function forwardedJoins(job: JobDefinition, stage: StageDefinition): readonly JoinInput[] {
  if (stage.index !== 0 || stage.output.kind !== 'repartition') return [];
  return job.stages[1]?.joins ?? [];
}

/** The join inputs a stage's tasks read from Kafka themselves: its own (first stage) and those it forwards. */
export function joinInputsRead(job: JobDefinition, stage: StageDefinition): readonly JoinInput[] {
  const own = stage.input.kind === 'source' ? stage.joins : [];
  const forwarded = forwardedJoins(job, stage);
  return forwarded.length ? [...own, ...forwarded] : own;
}
