import { join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { StreamJob, StreamJobSpec } from '../../src/api/streamjob.ts';
import { kubectl, repositoryRoot } from './cli.ts';
import { type Cluster, waitFor } from './cluster.ts';
import { podKafkaBootstrap, podS3Endpoint } from './pod-services.ts';

export async function applyCrd(): Promise<void> {
  await kubectl('apply', '--server-side', '--force-conflicts', '-f', join(repositoryRoot, 'crds'));
  await kubectl(
    'wait',
    '--for=condition=Established',
    '--timeout=30s',
    'crd/streamjobs.weir.dev',
    'crd/streamjobsnapshots.weir.dev',
  );
}

export type StreamJobInput = Omit<Partial<StreamJobSpec>, 'checkpoints' | 'kafka' | 'taskManager'> & {
  checkpoints?: Record<string, unknown>;
  kafka?: Record<string, unknown>;
  taskManager?: Record<string, unknown>;
};

/** A minimal valid StreamJob for the stand-in TaskManager image. */
export function standinJob(name: string, spec: StreamJobInput = {}): Record<string, unknown> {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'StreamJob',
    metadata: { name },
    spec: {
      image: 'weir-test/taskmanager-standin:e2e',
      entry: 'dist/jobs/standin.js',
      kafka: { bootstrapServers: podKafkaBootstrap() },
      checkpoints: { storage: { url: 's3://weir/e2e', endpoint: podS3Endpoint() } },
      ...spec,
    },
  };
}

/**
 * A StreamJob running one of Weir's own jobs (`src/jobs/<job>.ts`, in the image as `dist/jobs/<job>.js`) in
 * pods of `weir:dev` (the image built from the Dockerfile), checkpointing to the harness MinIO through the `minio` Secret (createMinioSecret). `spec` adds or
 * overrides fields.
 */
export function weirDevJob(
  name: string,
  job: string,
  options: {
    args: Record<string, unknown>;
    storageUrl: string;
    interval: string;
    spec?: Record<string, unknown>;
  },
): Record<string, unknown> {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'StreamJob',
    metadata: { name },
    spec: {
      image: 'weir:dev',
      entry: `/opt/weir/dist/jobs/${job}.js`,
      args: options.args,
      kafka: { bootstrapServers: podKafkaBootstrap() },
      checkpoints: {
        storage: {
          url: options.storageUrl,
          endpoint: podS3Endpoint(),
          credentialsSecret: { name: 'minio' },
        },
        interval: options.interval,
      },
      ...options.spec,
    },
  };
}

/**
 * The autoscaled load job of the autoscaler suite and bench: a keyed count and sum whose records each cost
 * `workMicros` of CPU (so one task's capacity is known), one task to start with, checkpointing every second.
 */
export function autoscaledCountSumJob(
  name: string,
  options: {
    input: string;
    output: string;
    workMicros: number;
    storageUrl: string;
    autoscaler: Record<string, unknown>;
  },
): Record<string, unknown> {
  const { input, output, workMicros } = options;
  return weirDevJob(name, 'keyed-count-sum', {
    args: { input, output, version: 'v1', workMicros },
    storageUrl: options.storageUrl,
    interval: '1s',
    spec: { parallelism: 1, taskSlots: 1, autoscaler: { enabled: true, ...options.autoscaler } },
  });
}

export class StreamJobs {
  private readonly api: CustomObjectsApi;
  private readonly namespace: string;

  constructor(cluster: Cluster, namespace: string) {
    this.api = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
    this.namespace = namespace;
  }

  create(body: Record<string, unknown>): Promise<StreamJob> {
    return this.api.createNamespacedCustomObject({
      group: 'weir.dev',
      version: 'v1alpha1',
      plural: 'streamjobs',
      namespace: this.namespace,
      body,
    }) as Promise<StreamJob>;
  }

  async list(): Promise<StreamJob[]> {
    const list = (await this.api.listNamespacedCustomObject({
      group: 'weir.dev',
      version: 'v1alpha1',
      plural: 'streamjobs',
      namespace: this.namespace,
    })) as { items: StreamJob[] };
    return list.items;
  }

  get(name: string): Promise<StreamJob> {
    return this.api.getNamespacedCustomObject({
      group: 'weir.dev',
      version: 'v1alpha1',
      plural: 'streamjobs',
      namespace: this.namespace,
      name,
    }) as Promise<StreamJob>;
  }

  /** A JSON merge patch of the spec. */
  async patchSpec(name: string, spec: Record<string, unknown>): Promise<void> {
    await kubectl(
      'patch',
      'streamjob',
      name,
      '-n',
      this.namespace,
      '--type=merge',
      '-p',
      JSON.stringify({ spec }),
    );
  }

  async delete(name: string): Promise<void> {
    await this.api.deleteNamespacedCustomObject({
      group: 'weir.dev',
      version: 'v1alpha1',
      plural: 'streamjobs',
      namespace: this.namespace,
      name,
    });
  }

  /** Waits until the job's status satisfies `check`, and returns the job. */
  async waitFor(
    name: string,
    what: string,
    check: (job: StreamJob) => boolean,
    timeoutMs = 60_000,
  ): Promise<StreamJob> {
    let last: StreamJob | undefined;
    return waitFor(
      `streamjob ${name}: ${what}`,
      timeoutMs,
      async () => {
        last = await this.get(name);
        return check(last) ? last : undefined;
      },
      () => JSON.stringify(last?.status ?? {}),
    );
  }
}
