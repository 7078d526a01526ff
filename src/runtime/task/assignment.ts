/** A source partition. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** DESIGN.md's contract: task i of N owns the partitions p of every source topic with p mod N = i. */
export function ownedPartitions(
  partitionCounts: ReadonlyMap<string, number>,
  task: number,
  parallelism: number,
): TopicPartition[] {
  const owned: TopicPartition[] = [];
  for (const [topic, count] of [...partitionCounts].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (let p = task; p < count; p += parallelism) owned.push({ topic, partition: p });
  }
  return owned;
}

export function partitionId(tp: TopicPartition): string {
  return `${tp.topic}/${tp.partition}`;
}
