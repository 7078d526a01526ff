import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { FromSchema } from './schema.ts';
import { type snapshotSpecSchema, snapshotStatusSchema } from './snapshot-schema.ts';
import type { apiVersion } from './streamjob.ts';

/** StreamJobSnapshot: one savepoint of a StreamJob as a resource (src/api/snapshot-schema.ts). */
export const snapshotKind = 'StreamJobSnapshot';
export const snapshotPlural = 'streamjobsnapshots';
export const snapshotSingular = 'streamjobsnapshot';
export const snapshotShortNames = ['sjs'];

export type StreamJobSnapshotSpec = FromSchema<typeof snapshotSpecSchema>;
export type StreamJobSnapshotStatus = FromSchema<typeof snapshotStatusSchema>;
export type SnapshotState = NonNullable<StreamJobSnapshotStatus['state']>;

export interface StreamJobSnapshot {
  apiVersion: typeof apiVersion;
  kind: typeof snapshotKind;
  metadata: V1ObjectMeta;
  spec: StreamJobSnapshotSpec;
  status?: StreamJobSnapshotStatus;
}

/**
 * Holds a snapshot's deletion until its savepoint is deleted from S3 (spec.disposeOnDelete)
 * and no StreamJob refers to it any more.
 */
export const snapshotFinalizer = 'weir.dev/snapshot-disposal';

/** Every field of a snapshot's status, from its schema: what a status write sets or clears. */
export const snapshotStatusFields = Object.keys(
  snapshotStatusSchema.properties,
) as (keyof StreamJobSnapshotStatus)[];
