/**
 * Every name Weir's operator and runtime agree on, in one place: Kubernetes
 * objects, Kafka topics, groups and transactional ids, and the object keys of
 * the S3 layout (DESIGN.md's contracts). names.test.ts lists each for one job:
 * a name that changes breaks running jobs, so a change there is deliberate.
 */

// Kubernetes objects of a job.

/**
 * The pod of a pod index's slot: slot 0 is <job>-tm-<index>, slot k of its
 * standbys (spec.standby.replicas) <job>-tm-<index>-<k>. Which slot runs the
 * active tasks is in status.standby.activeSlots, not in the name: a promoted
 * standby keeps its name.
 */
export function taskManagerPodName(job: string, index: number, slot = 0): string {
  return slot === 0 ? `${job}-tm-${index}` : `${job}-tm-${index}-${slot}`;
}

/** The per-job Secret holding the control-channel token: <job>-weir-token, key "token". */
/** A TaskManager pod's PersistentVolumeClaim for its state (spec.taskManager.state.persistentVolume). */
export function stateClaimName(podName: string): string {
  return `${podName}-state`;
}

/**
 * The StreamJobSnapshot Weir records for a savepoint it took itself (periodic, upgrade, suspend,
 * deletion, savepointTriggerNonce): <job>-<savepoint id>. One a user creates keeps the user's name.
 */
export function snapshotNameOf(job: string, savepointId: string): string {
  return `${job}-${savepointId}`;
}

export const tokenSecretKey = 'token';
export function tokenSecretName(job: string): string {
  return `${job}-weir-token`;
}

/** The per-job NetworkPolicy that lets only the operator reach the TaskManagers' control port. */
export function taskManagerPolicyName(job: string): string {
  return `${job}-weir-taskmanagers`;
}

// Kafka.

/**
 * What every Kafka name of a job begins with (its groups, transactional ids
 * and internal topics, of every run): the prefix its ACLs are granted on.
 */
export function kafkaJobPrefix(namespace: string, job: string): string {
  return `weir.${namespace}.${job}.`;
}

/** What every Kafka name of one run begins with: weir.<namespace>.<job>.<run>. */
function kafkaRunScope(namespace: string, job: string, runId: string): string {
  return `${kafkaJobPrefix(namespace, job)}${runId}`;
}

/** The group a run's committed offsets (and the state pointers in their metadata) are stored under. */
export function offsetGroup(namespace: string, job: string, runId: string): string {
  return kafkaRunScope(namespace, job, runId);
}

/** The transactional id of a task (DESIGN.md contract). */
export function transactionalId(
  namespace: string,
  job: string,
  runId: string,
  stage: number,
  task: number,
): string {
  return `${kafkaRunScope(namespace, job, runId)}.s${stage}.t${task}`;
}

/**
 * The repartition topic of a keyBy in one run: named after the job and the
 * keyBy's operator id (never its position in the pipeline), and scoped to the
 * run, because a run restored from a savepoint must not read what an earlier
 * run wrote after that savepoint.
 */
export function repartitionTopic(namespace: string, job: string, runId: string, operatorId: string): string {
  return `${kafkaRunScope(namespace, job, runId)}.${operatorId}`;
}

/**
 * The changelog topic of a stateful stage in one run (DESIGN.md, State):
 * compacted, one partition per input partition of the stage, named after the
 * operator id the stage reads from (the source's, or its keyBy's) and scoped
 * to the run like the repartition topics, so a run restored from a savepoint
 * never replays what an earlier run logged.
 */
export function changelogTopic(namespace: string, job: string, runId: string, operatorId: string): string {
  return `${kafkaRunScope(namespace, job, runId)}.${operatorId}.changelog`;
}

/** The keyBy operator id of a repartition topic of (namespace, job, runId); undefined for any other topic. */
export function repartitionOperatorOf(
  topic: string,
  namespace: string,
  job: string,
  runId: string,
): string | undefined {
  const prefix = `${kafkaRunScope(namespace, job, runId)}.`;
  if (!topic.startsWith(prefix)) return undefined;
  const rest = topic.slice(prefix.length);
  return /^[a-z][a-z0-9-]{0,62}$/.test(rest) ? rest : undefined;
}

/**
 * The internal topics (repartition and changelog) of the job's other runs
 * among `topics`: a run never resumes after a newer one started (a rollback
 * or restore starts a new run), so they are garbage once the current run is
 * up. A job whose name extends this one's with a dot has one more name
 * segment and is not matched.
 */
export function otherRunsInternalTopics(
  topics: readonly string[],
  namespace: string,
  job: string,
  runId: string,
): string[] {
  const prefix = kafkaJobPrefix(namespace, job);
  return topics.filter((topic) => {
    if (!topic.startsWith(prefix)) return false;
    const match = /^([a-z0-9]+)\.([a-z][a-z0-9-]{0,62})(\.changelog)?$/.exec(topic.slice(prefix.length));
    return match !== null && match[1] !== runId;
  });
}

// The S3 layout, under the job's storage URL (s3://<bucket>[/<prefix>]).

/** Bucket and key prefix (empty, or ending in "/") of an s3://bucket[/prefix] URL. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) throw new Error(`storage url "${url}" is not s3://<bucket>[/<prefix>]`);
  const prefix = (match[2] ?? '').replace(/\/+$/, '');
  return { bucket: match[1] as string, prefix: prefix ? `${prefix}/` : '' };
}

/** The job's layout record (checkpoint/layout.ts): which layout's tasks may read offsets. */
export function layoutKey(namespace: string, job: string): string {
  return `${namespace}/${job}/layout.json`;
}

/** Everything one run stores: <namespace>/<job>/runs/<run>/. */
function runPrefix(namespace: string, job: string, runId: string): string {
  return `${namespace}/${job}/runs/${runId}/`;
}

/** Where Weir before layout format 2 recorded a run's parallelism. */
export function runLayoutKey(namespace: string, job: string, runId: string): string {
  return `${runPrefix(namespace, job, runId)}layout.json`;
}

/** A task's snapshots in one run. */
export function taskStatePrefix(
  namespace: string,
  job: string,
  runId: string,
  stage: number,
  task: number,
): string {
  return `${runPrefix(namespace, job, runId)}state/s${stage}/t${task}/`;
}

export function snapshotKey(taskPrefix: string, checkpointId: number, attempt: string): string {
  return `${taskPrefix}${checkpointId}-${attempt}.snap`;
}

/** The checkpoint id in a snapshot key, or undefined for a key that is not one. */
export function checkpointIdOf(key: string): number | undefined {
  const match = /\/(\d+)-[0-9a-z]+\.snap$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

/** Where a job's savepoint lives under its storage URL's prefix. */
export function savepointPrefix(namespace: string, job: string, savepointId: string): string {
  return `${namespace}/${job}/savepoints/${savepointId}/`;
}

/** A savepoint as users see it in status and name it in spec.initialSavepoint: the s3:// URL of its folder. */
export function savepointUrl(
  storageUrl: string,
  namespace: string,
  job: string,
  savepointId: string,
): string {
  const { bucket, prefix } = parseS3Url(storageUrl);
  return `s3://${bucket}/${prefix}${savepointPrefix(namespace, job, savepointId)}`;
}

/** savepointUrl of a StreamJob's savepoint (its storage URL, namespace and name). */
export function jobSavepointUrl(
  job: {
    metadata: { namespace?: string; name?: string };
    spec: { checkpoints: { storage: { url: string } } };
  },
  savepointId: string,
): string {
  return savepointUrl(
    job.spec.checkpoints.storage.url,
    job.metadata.namespace ?? '',
    job.metadata.name ?? '',
    savepointId,
  );
}

/** Where a task's part of a savepoint is stored, under the savepoint's prefix. */
export function savepointTaskPrefix(savepointPrefix: string, stage: number, task: number): string {
  return stage === 0 ? `${savepointPrefix}t${task}/` : `${savepointPrefix}s${stage}-t${task}/`;
}

/** A TaskManager's part of a savepoint's manifest, named by the lowest and highest task index it holds. */
export function manifestPartKey(
  namespace: string,
  job: string,
  savepointId: string,
  tasks: number[],
): string {
  return `${savepointPrefix(namespace, job, savepointId)}_manifest-t${Math.min(...tasks)}-t${Math.max(...tasks)}.json`;
}

export function isManifestPartKey(key: string): boolean {
  return /\/_manifest-t\d+-t\d+\.json$/.test(key);
}
