import type { V1EnvVar, V1Pod, V1Secret } from '@kubernetes/client-node';
import {
  labels,
  managedBy,
  offsetGroup,
  ports,
  taskManagerComponent,
  taskManagerPodName,
  terminationMessagePath,
  tokenSecretKey,
  tokenSecretName,
} from '../../api/constants.ts';
import { apiVersion, kind, type StreamJob, type StreamJobSpec } from '../../api/streamjob.ts';

export interface PodIdentity {
  index: number;
  runId: string;
  restartEpoch: number;
  specHash: string;
  /** The savepoint the run starts from (status.run.restoredFrom). */
  restoreSavepoint?: string;
}

/** Task indexes run by pod `index`: a contiguous block of taskSlots, the last one possibly shorter. */
export function tasksOfPod(index: number, parallelism: number, taskSlots: number): number[] {
  const first = index * taskSlots;
  const last = Math.min(parallelism, first + taskSlots);
  return Array.from({ length: Math.max(0, last - first) }, (_, i) => first + i);
}

export function podCount(parallelism: number, taskSlots: number): number {
  return Math.ceil(parallelism / taskSlots);
}

export function ownerReference(job: StreamJob) {
  return {
    apiVersion,
    kind,
    name: job.metadata.name ?? '',
    uid: job.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function jobSelector(jobName: string): string {
  return `${labels.job}=${jobName}`;
}

function weirEnv(job: StreamJob, identity: PodIdentity): V1EnvVar[] {
  const { spec } = job;
  const name = job.metadata.name ?? '';
  const namespace = job.metadata.namespace ?? '';
  const storage = spec.checkpoints.storage;
  const env: V1EnvVar[] = [
    { name: 'WEIR_JOB', value: name },
    { name: 'WEIR_NAMESPACE', value: namespace },
    { name: 'WEIR_RUN_ID', value: identity.runId },
    { name: 'WEIR_POD_INDEX', value: String(identity.index) },
    { name: 'WEIR_TASKS', value: tasksOfPod(identity.index, spec.parallelism, spec.taskSlots).join(',') },
    { name: 'WEIR_PARALLELISM', value: String(spec.parallelism) },
    { name: 'WEIR_ENTRY', value: spec.entry },
    { name: 'WEIR_ARGS', value: JSON.stringify(spec.args ?? {}) },
    { name: 'WEIR_OFFSET_GROUP', value: offsetGroup(namespace, name, identity.runId) },
    { name: 'WEIR_CHECKPOINT_MODE', value: spec.checkpoints.mode },
    { name: 'WEIR_CHECKPOINT_INTERVAL', value: spec.checkpoints.interval },
    { name: 'WEIR_CHECKPOINT_TIMEOUT', value: spec.checkpoints.timeout },
    { name: 'WEIR_CHECKPOINT_TOLERABLE_FAILURES', value: String(spec.checkpoints.tolerableFailures) },
    { name: 'WEIR_CHECKPOINT_RETAINED', value: String(spec.checkpoints.retained) },
    // Honoured by the TaskManager only while the run has no committed offsets: failovers resume the run.
    ...(identity.restoreSavepoint
      ? [{ name: 'WEIR_RESTORE_SAVEPOINT', value: identity.restoreSavepoint }]
      : []),
    { name: 'WEIR_ALLOW_NON_RESTORED_STATE', value: String(spec.allowNonRestoredState) },
    { name: 'WEIR_S3_URL', value: storage.url },
    { name: 'WEIR_S3_REGION', value: storage.region },
    ...(storage.endpoint ? [{ name: 'WEIR_S3_ENDPOINT', value: storage.endpoint }] : []),
    { name: 'WEIR_KAFKA_BOOTSTRAP', value: spec.kafka.bootstrapServers },
    { name: 'WEIR_CONTROL_PORT', value: String(ports.control) },
    { name: 'WEIR_METRICS_PORT', value: String(ports.metrics) },
    // The non-root uid has no passwd entry, and libraries that look for a home directory (the AWS SDK's
    // config loader) fail without one; /tmp is the pod's writable emptyDir.
    { name: 'HOME', value: '/tmp' },
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    {
      name: 'WEIR_CONTROL_TOKEN',
      valueFrom: { secretKeyRef: { name: tokenSecretName(name), key: tokenSecretKey } },
    },
  ];
  // Credentials only ever travel as Secret references, never as values.
  if (storage.credentialsSecret) {
    const secret = storage.credentialsSecret;
    env.push(
      {
        name: 'WEIR_S3_ACCESS_KEY',
        valueFrom: { secretKeyRef: { name: secret.name, key: secret.accessKeyIdKey } },
      },
      {
        name: 'WEIR_S3_SECRET_KEY',
        valueFrom: { secretKeyRef: { name: secret.name, key: secret.secretAccessKeyKey } },
      },
    );
  }
  if (spec.kafka.secretRef) {
    const secret = spec.kafka.secretRef.name;
    env.push(
      { name: 'WEIR_KAFKA_SASL_USERNAME', valueFrom: { secretKeyRef: { name: secret, key: 'username' } } },
      { name: 'WEIR_KAFKA_SASL_PASSWORD', valueFrom: { secretKeyRef: { name: secret, key: 'password' } } },
      {
        name: 'WEIR_KAFKA_SASL_MECHANISM',
        valueFrom: { secretKeyRef: { name: secret, key: 'mechanism', optional: true } },
      },
    );
  }
  return env;
}

function quantities(resources: NonNullable<NonNullable<StreamJobSpec['taskManager']>['resources']>) {
  const asStrings = (map: Record<string, string | number> | undefined) =>
    map ? Object.fromEntries(Object.entries(map).map(([k, v]) => [k, String(v)])) : undefined;
  const requests = asStrings(resources.requests);
  const limits = asStrings(resources.limits);
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

/**
 * The TaskManager pod for one index of a job. The container runs the image's
 * entrypoint (the Weir base image's `weir` command) with `taskmanager`; all
 * configuration arrives through WEIR_* variables, so the pod needs no API access.
 */
export function taskManagerPod(job: StreamJob, identity: PodIdentity): V1Pod {
  const name = job.metadata.name ?? '';
  const tm: NonNullable<StreamJobSpec['taskManager']> = job.spec.taskManager ?? {
    terminationGracePeriodSeconds: 30,
  };
  const podLabels = {
    [labels.name]: 'weir',
    [labels.instance]: name,
    [labels.component]: taskManagerComponent,
    [labels.managedBy]: managedBy,
    [labels.job]: name,
    [labels.podIndex]: String(identity.index),
    [labels.run]: identity.runId,
    [labels.specHash]: identity.specHash,
    [labels.restartEpoch]: String(identity.restartEpoch),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: taskManagerPodName(name, identity.index),
      namespace: job.metadata.namespace,
      labels: podLabels,
      ownerReferences: [ownerReference(job)],
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      ...(tm.serviceAccountName ? { serviceAccountName: tm.serviceAccountName } : {}),
      terminationGracePeriodSeconds: tm.terminationGracePeriodSeconds,
      ...(tm.nodeSelector ? { nodeSelector: tm.nodeSelector } : {}),
      ...(tm.tolerations ? { tolerations: tm.tolerations } : {}),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        fsGroup: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'taskmanager',
          image: job.spec.image,
          args: ['taskmanager'],
          // The runtime writes its exit cause there; a crash before it can (a job module that does not even
          // parse) still leaves the tail of its log.
          terminationMessagePath,
          terminationMessagePolicy: 'FallbackToLogsOnError',
          ports: [
            { name: 'control', containerPort: ports.control, protocol: 'TCP' },
            { name: 'metrics', containerPort: ports.metrics, protocol: 'TCP' },
          ],
          env: [...weirEnv(job, identity), ...((tm.env ?? []) as V1EnvVar[])],
          ...(tm.resources ? { resources: quantities(tm.resources) } : {}),
          readinessProbe: {
            httpGet: { path: '/readyz', port: 'control' },
            periodSeconds: 2,
            failureThreshold: 3,
          },
          livenessProbe: {
            httpGet: { path: '/healthz', port: 'control' },
            initialDelaySeconds: 5,
            periodSeconds: 5,
            failureThreshold: 3,
          },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
          volumeMounts: [{ name: 'scratch', mountPath: '/tmp' }],
        },
      ],
      volumes: [{ name: 'scratch', emptyDir: {} }],
    },
  };
}

/** The per-job Secret with the control-channel token; the token value comes from the caller. */
export function tokenSecret(job: StreamJob, token: string): V1Secret {
  const name = job.metadata.name ?? '';
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: tokenSecretName(name),
      namespace: job.metadata.namespace,
      labels: { [labels.job]: name, [labels.managedBy]: managedBy, [labels.name]: 'weir' },
      ownerReferences: [ownerReference(job)],
    },
    stringData: { [tokenSecretKey]: token },
  };
}
