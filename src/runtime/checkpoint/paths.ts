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
