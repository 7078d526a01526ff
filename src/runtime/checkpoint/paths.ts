/** Object keys under the job's storage prefix, as DESIGN.md's S3 layout fixes them. */
export function taskStatePrefix(
  namespace: string,
  job: string,
  runId: string,
  stage: number,
  task: number,
): string {
  return `${namespace}/${job}/runs/${runId}/state/s${stage}/t${task}/`;
}

export function snapshotKey(taskPrefix: string, checkpointId: number, attempt: string): string {
  return `${taskPrefix}${checkpointId}-${attempt}.snap`;
}

/** The checkpoint id in a snapshot key, or undefined for a key that is not one. */
export function checkpointIdOf(key: string): number | undefined {
  const match = /\/(\d+)-[0-9a-z]+\.snap$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

/** The transactional id of a task (DESIGN.md contract). */
export function transactionalId(
  namespace: string,
  job: string,
  runId: string,
  stage: number,
  task: number,
): string {
  return `weir.${namespace}.${job}.${runId}.s${stage}.t${task}`;
}

/**
 * The repartition topic of a keyBy in one run: named after the job and the
 * keyBy's operator id (never its position in the pipeline), and scoped to the
 * run, because a run restored from a savepoint must not read what an earlier
 * run wrote after that savepoint.
 */
export function repartitionTopic(namespace: string, job: string, runId: string, operatorId: string): string {
  return `weir.${namespace}.${job}.${runId}.${operatorId}`;
}

/** The keyBy operator id of a repartition topic of (namespace, job, runId); undefined for any other topic. */
export function repartitionOperatorOf(
  topic: string,
  namespace: string,
  job: string,
  runId: string,
): string | undefined {
  const prefix = `weir.${namespace}.${job}.${runId}.`;
  if (!topic.startsWith(prefix)) return undefined;
  const rest = topic.slice(prefix.length);
  return /^[a-z][a-z0-9-]{0,62}$/.test(rest) ? rest : undefined;
}

/**
 * The repartition topics of the job's other runs among `topics`: a run never
 * resumes after a newer one started (a rollback or restore starts a new run),
 * so they are garbage once the current run is up. A job whose name extends
 * this one's with a dot has one more name segment and is not matched.
 */
export function otherRunsRepartitionTopics(
  topics: readonly string[],
  namespace: string,
  job: string,
  runId: string,
): string[] {
  const prefix = `weir.${namespace}.${job}.`;
  return topics.filter((topic) => {
    if (!topic.startsWith(prefix)) return false;
    const match = /^([a-z0-9]+)\.([a-z][a-z0-9-]{0,62})$/.exec(topic.slice(prefix.length));
    return match !== null && match[1] !== runId;
  });
}

/** Where a task's part of a savepoint is stored, under the savepoint's prefix. */
export function savepointTaskPrefix(savepointPrefix: string, stage: number, task: number): string {
  return stage === 0 ? `${savepointPrefix}t${task}/` : `${savepointPrefix}s${stage}-t${task}/`;
}
