import type { StageDefinition } from '../../sdk/pipeline.ts';
import { RuntimeError } from '../errors.ts';
import type { PartitionRuntime } from './partition-runtime.ts';

/**
 * Whether the stage reads its joins' other inputs itself, beside its source, keeping their state with the source's
 * partitions (after a keyBy they arrive through the repartition topic instead: stage-executor.ts).
 */
export function readsJoinInputs(
  stage: StageDefinition,
): stage is StageDefinition & { input: Extract<StageDefinition['input'], { kind: 'source' }> } {
  return stage.joins.length > 0 && stage.input.kind === 'source';
}

/**
 * A join keeps its state with the stage's source partition: partition p of
 * a join input maps to source partition p, which the same task owns (task i
 * owns p mod N = i of every topic) and commits in the same transaction.
 */
export function joinHomes(
  stage: StageDefinition,
  partitions: readonly PartitionRuntime[],
): Map<PartitionRuntime, PartitionRuntime> {
  const homes = new Map<PartitionRuntime, PartitionRuntime>();
  if (!readsJoinInputs(stage)) return homes;
  const source = stage.input.source.topics[0] as string;
  const joined = new Set(stage.joins.map((j) => j.topic));
  const byId = new Map(partitions.map((p) => [p.id, p]));
  for (const p of partitions) {
    if (!joined.has(p.tp.topic)) continue;
    const home = byId.get(`${source}/${p.tp.partition}`);
    if (!home) {
      throw new RuntimeError(
        'JOIN_NOT_COPARTITIONED',
        `the task owns ${p.id} but not ${source}/${p.tp.partition}, where its join keeps state`,
        false,
      );
    }
    homes.set(p, home);
  }
  return homes;
}

/**
 * Checked before a task reads anything: every join input has as many
 * partitions as the source, or a key would meet its other side's records in
 * another partition, and another task, and never join.
 */
export function checkCopartitioned(stage: StageDefinition, counts: ReadonlyMap<string, number>): void {
  if (stage.input.kind !== 'source') return;
  const source = stage.input.source.topics[0] as string;
  const want = counts.get(source);
  for (const j of stage.joins) {
    const have = counts.get(j.topic);
    if (have !== want) {
      throw new RuntimeError(
        'JOIN_NOT_COPARTITIONED',
        `join "${j.joinId}": topic ${j.topic} ("${j.id}") has ${have} partitions and the source topic ${source} has ${want}; a join needs both sides co-partitioned (the same partition count and key), so give ${j.topic} ${want} partitions, or join after a keyBy, which sends both sides through one repartition topic`,
        false,
      );
    }
  }
}
