import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { FromSchema } from './schema.ts';
import {
  defaultStateCacheSize,
  defaultStateVolumeSize,
  defaultTaskManagerHeapPercent,
  type restartStrategySchema,
  type streamJobSpecSchema,
  type streamJobStatusSchema,
} from './streamjob-schema.ts';

export const group = 'weir.dev';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;
export const kind = 'StreamJob';
export const plural = 'streamjobs';
export const singular = 'streamjob';
export const shortNames = ['sj'];
export const categories = ['weir', 'all'];

export type StreamJobSpec = FromSchema<typeof streamJobSpecSchema>;
export type StreamJobStatus = FromSchema<typeof streamJobStatusSchema>;
export type RestartStrategySpec = FromSchema<typeof restartStrategySchema>;
export type Phase = NonNullable<StreamJobStatus['phase']>;
export type Condition = NonNullable<StreamJobStatus['conditions']>[number];
export type FailureRecord = NonNullable<NonNullable<StreamJobStatus['restarts']>['lastFailure']>;

export type TaskManagerSpec = NonNullable<StreamJobSpec['taskManager']>;

/** spec.taskManager as the API server fills it in when the job sets none (its fields' defaults). */
export const taskManagerDefaults: TaskManagerSpec = {
  terminationGracePeriodSeconds: 30,
  state: { store: 'disk', volumeSize: defaultStateVolumeSize, cacheSize: defaultStateCacheSize },
  heapPercent: defaultTaskManagerHeapPercent,
};

export interface StreamJob {
  apiVersion: typeof apiVersion;
  kind: typeof kind;
  metadata: V1ObjectMeta;
  spec: StreamJobSpec;
  status?: StreamJobStatus;
}

/** Pod names are <job>-tm-<index> and must stay a DNS label (63 characters). */
export const maxJobNameLength = 50;

/** The steps of status.upgrade that are still under way (the others record how one ended). */
export const upgradeStepsUnderWay: ReadonlySet<string> = new Set(['Warming', 'Savepointing', 'Deploying']);

/** A spec recorded in status (status.deployment, status.lastStableSpec), with its generation and time. */
export type RecordedSpec = NonNullable<StreamJobStatus['deployment']>;

/**
 * The StreamJobSpec of a recorded spec. The schema keeps a recorded spec
 * as unknown fields (status must not be pruned or re-defaulted under it), so
 * its type is lost there; it was copied from an admitted spec, and carries
 * every field and default the spec had then.
 */
export function recordedSpecOf(record: RecordedSpec): StreamJobSpec {
  return record.spec as StreamJobSpec;
}

/** The spec the TaskManager pods are made from: status.deployment's, or the job's own before anything is deployed. */
export function deployedSpecOf(job: Pick<StreamJob, 'spec' | 'status'>): StreamJobSpec {
  const deployment = job.status?.deployment;
  return deployment ? recordedSpecOf(deployment) : job.spec;
}
