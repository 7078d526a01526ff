import { savepointIdPattern } from './savepoint-ref.ts';
import { maxJobNameLength } from './streamjob.ts';
import { savepointReason, timestamp } from './streamjob-schema.ts';

/*
 * The StreamJobSnapshot schema: one resource per savepoint of a StreamJob,
 * whether a user asked for it (by creating the resource) or Weir took it
 * (periodic, upgrade, suspend, deletion, savepointTriggerNonce). The CRD
 * YAML and the TypeScript types are computed from it, as for StreamJob.
 */

/** How many times a failed savepoint of a snapshot is tried again, at most. */
export const snapshotBackoffLimitMax = 10;

export const snapshotSpecSchema = {
  type: 'object',
  description:
    'Which StreamJob the snapshot is of, and what happens to its objects in S3 when the resource is deleted.',
  required: ['jobName'],
  properties: {
    jobName: {
      type: 'string',
      description:
        'The StreamJob in this namespace the savepoint is (or was) taken of. It cannot change once set.',
      minLength: 1,
      maxLength: maxJobNameLength,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      'x-kubernetes-validations': [
        { rule: 'self == oldSelf', message: 'jobName cannot change; create another StreamJobSnapshot' },
      ],
    },
    savepointId: {
      type: 'string',
      description:
        'Set by Weir on the snapshots it records for savepoints it took itself: the id of an existing savepoint of jobName. Leave it out to have a new savepoint taken. It cannot change once set.',
      pattern: savepointIdPattern.source,
      maxLength: 63,
      'x-kubernetes-validations': [
        { rule: 'self == oldSelf', message: 'savepointId cannot change; create another StreamJobSnapshot' },
      ],
    },
    disposeOnDelete: {
      type: 'boolean',
      description:
        "Whether deleting this resource also deletes the savepoint's objects from S3 (through a running TaskManager of the job, which holds the credentials). A snapshot a StreamJob still restores from, or names in spec.initialSnapshot, is never deleted from S3: its deletion waits until nothing refers to it.",
      default: true,
    },
    backoffLimit: {
      type: 'integer',
      description: 'How many times a failed savepoint is tried again before the snapshot is Failed.',
      minimum: 0,
      maximum: snapshotBackoffLimitMax,
      default: 1,
    },
  },
} as const;

export const snapshotStatusSchema = {
  type: 'object',
  description: 'Where the savepoint is, how it was taken, and how taking it went.',
  properties: {
    state: {
      type: 'string',
      description:
        'Pending (waiting for the job to run every task), InProgress (the TaskManagers are writing it), Completed (every task wrote its part; path says where) or Failed (error says why; it is not tried again).',
      enum: ['Pending', 'InProgress', 'Completed', 'Failed'],
    },
    jobUid: {
      type: 'string',
      description:
        'The uid of the StreamJob the snapshot belongs to: a later StreamJob of the same name does not manage it.',
    },
    savepointId: { type: 'string', description: 'The savepoint id, within its job.' },
    path: {
      type: 'string',
      description:
        'Where the savepoint is stored: s3://<bucket>/<prefix>/<ns>/<job>/savepoints/<id>/. Any StreamJob restores from it with spec.initialSnapshot naming this resource, or spec.initialSavepoint set to this path.',
    },
    reason: savepointReason,
    triggerTime: timestamp('When the TaskManagers were last asked to take it.'),
    completionTime: timestamp('When it completed.'),
    failures: { type: 'integer', description: 'How many times taking it failed.' },
    lastFailedSavepointId: {
      type: 'string',
      description: 'The savepoint id of the latest failed attempt (each attempt has its own id).',
    },
    error: { type: 'string', description: 'Why the latest attempt failed.' },
    message: {
      type: 'string',
      description:
        'What the snapshot waits for, in one sentence (a job that is not running, a deletion held by a reference).',
    },
    observedGeneration: { type: 'integer', description: 'The generation this status describes.' },
  },
} as const;
