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
