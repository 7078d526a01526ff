import { snapshotKind, snapshotPlural, snapshotShortNames, snapshotSingular } from './snapshot.ts';
import { snapshotSpecSchema, snapshotStatusSchema } from './snapshot-schema.ts';
import {
  categories,
  group,
  kind,
  maxJobNameLength,
  plural,
  shortNames,
  singular,
  version,
} from './streamjob.ts';
import { streamJobSpecSchema, streamJobStatusSchema } from './streamjob-schema.ts';

/** A CRD manifest as YAML shows it (client-node's model renames the x-kubernetes-* keys). */
export interface CrdManifest {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
}

/** The StreamJob CustomResourceDefinition, rendered from the one schema definition. */
export function streamJobCrd(): CrdManifest {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${plural}.${group}`,
      labels: { 'app.kubernetes.io/name': 'weir', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group,
      scope: 'Namespaced',
      names: { kind, plural, singular, shortNames, categories, listKind: `${kind}List` },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.parallelism',
              statusReplicasPath: '.status.tasks.total',
              labelSelectorPath: '.status.selector',
            },
          },
          additionalPrinterColumns: [
            { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'The job phase.' },
            {
              name: 'Parallelism',
              type: 'integer',
              jsonPath: '.spec.parallelism',
              description: 'Tasks per stage.',
            },
            { name: 'Ready', type: 'integer', jsonPath: '.status.tasks.ready', description: 'Ready tasks.' },
            {
              name: 'Checkpoint',
              type: 'date',
              jsonPath: '.status.checkpoint.latestCompleted.time',
              description: 'Age of the latest completed checkpoint.',
            },
            {
              name: 'Lag',
              type: 'integer',
              jsonPath: '.status.checkpoint.lagRecords',
              description: "Records waiting in the tasks' input partitions.",
            },
            {
              name: 'Restarts',
              type: 'integer',
              jsonPath: '.status.restarts.count',
              description: 'Task failures.',
            },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                'StreamJob runs a stateful stream pipeline over Kafka in TaskManager pods, with checkpoints in S3.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string', description: 'The versioned schema of this object.' },
                kind: { type: 'string', description: 'The REST resource this object represents.' },
                metadata: { type: 'object' },
                spec: streamJobSpecSchema,
                status: streamJobStatusSchema,
              },
              'x-kubernetes-validations': [
                {
                  rule: `self.metadata.name.size() <= ${maxJobNameLength}`,
                  message: `metadata.name must be at most ${maxJobNameLength} characters, so that pod names (<name>-tm-<index>) stay valid`,
                },
              ],
            },
          },
        },
      ],
    },
  };
}

/** The StreamJobSnapshot CustomResourceDefinition: one savepoint of a StreamJob as a resource. */
export function streamJobSnapshotCrd(): CrdManifest {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${snapshotPlural}.${group}`,
      labels: { 'app.kubernetes.io/name': 'weir', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group,
      scope: 'Namespaced',
      names: {
        kind: snapshotKind,
        plural: snapshotPlural,
        singular: snapshotSingular,
        shortNames: snapshotShortNames,
        categories: ['weir'],
        listKind: `${snapshotKind}List`,
      },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Job', type: 'string', jsonPath: '.spec.jobName', description: 'The StreamJob.' },
            { name: 'State', type: 'string', jsonPath: '.status.state', description: 'How taking it went.' },
            { name: 'Reason', type: 'string', jsonPath: '.status.reason', description: 'Why it was taken.' },
            { name: 'Path', type: 'string', jsonPath: '.status.path', description: 'Where it is stored.' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                'StreamJobSnapshot is one savepoint of a StreamJob: creating one takes a savepoint; Weir records one for every savepoint it takes itself; deleting one deletes its objects in S3 (spec.disposeOnDelete).',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string', description: 'The versioned schema of this object.' },
                kind: { type: 'string', description: 'The REST resource this object represents.' },
                metadata: { type: 'object' },
                spec: snapshotSpecSchema,
                status: snapshotStatusSchema,
              },
            },
          },
        },
      ],
    },
  };
}
