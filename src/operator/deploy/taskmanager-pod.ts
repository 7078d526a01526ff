import type { V1Affinity, V1EnvVar, V1Pod, V1Secret, V1VolumeProjection } from '@kubernetes/client-node';
import {
  labels,
  managedBy,
  ports,
  taskManagerComponent,
  terminationMessagePath,
} from '../../api/constants.ts';
import {
  offsetGroup,
  stateClaimName,
  taskManagerPodName,
  tokenSecretKey,
  tokenSecretName,
} from '../../api/names.ts';
import { taskManagerContainerName } from '../../api/pod-shape-schema.ts';
import { quantityBytes } from '../../api/quantity.ts';
import {
  apiVersion,
  kind,
  type StreamJob,
  type StreamJobSpec,
  type TaskManagerSpec,
  taskManagerDefaults,
} from '../../api/streamjob.ts';
import {
  type CredentialSources,
  credentialEnv,
  processEnv,
  s3AddressingStyle,
  secretsMountPath,
  stateVolumeMountPath,
  taskManagerEnv,
} from '../../api/taskmanager-env.ts';
import { shapePod } from './pod-shape.ts';

export interface PodIdentity {
  index: number;
  /** Which of the index's slots (spec.standby): 0 unless standbys run. */
  slot?: number;
  /** Created to run standby tasks until promoted. */
  standby?: boolean;
  runId: string;
  restartEpoch: number;
  specHash: string;
  /** The savepoint the run starts from (status.run.restoredFrom). */
  restoreSavepoint?: string;
  /** A warm upgrade's new-version pod (made from spec, not status.deployment): the old run it warms from. */
  warmFromRun?: string;
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

/** The security protocol a job's Kafka settings mean (unset: SASL_SSL with credentials, PLAINTEXT without). */
export function kafkaSecurityProtocol(kafka: StreamJobSpec['kafka']): string {
  return kafka.securityProtocol ?? (kafka.secretRef ? 'SASL_SSL' : 'PLAINTEXT');
}

const value = (name: string, v: string): V1EnvVar => ({ name, value: v });
const fromSecret = (name: string, secret: string, key: string): V1EnvVar => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key } },
});

type KeySelector = NonNullable<NonNullable<StreamJobSpec['kafka']['tls']>['ca']>;

/** A variable from the Secret or ConfigMap key a selector names (none without one). */
function fromKeySelector(name: string, selector: KeySelector | undefined): V1EnvVar[] {
  if (selector?.secretKeyRef)
    return [fromSecret(name, selector.secretKeyRef.name, selector.secretKeyRef.key)];
  if (selector?.configMapKeyRef) {
    const { name: configMap, key } = selector.configMapKeyRef;
    return [{ name, valueFrom: { configMapKeyRef: { name: configMap, key } } }];
  }
  return [];
}

/** Kafka security: credentials and keys only ever travel as Secret (or ConfigMap) references, never as values. */
function kafkaEnv(kafka: StreamJobSpec['kafka']): V1EnvVar[] {
  const e = taskManagerEnv;
  const protocol = kafkaSecurityProtocol(kafka);
  const env: V1EnvVar[] = [
    value(e.kafkaBootstrap, kafka.bootstrapServers),
    value(e.kafkaSecurityProtocol, protocol),
    value(e.kafkaOffsetOutOfRange, kafka.offsetOutOfRange ?? 'fail'),
  ];
  if (protocol.startsWith('SASL') && kafka.secretRef) {
    env.push(
      value(e.kafkaSaslMechanism, kafka.saslMechanism ?? 'PLAIN'),
      kafka.username
        ? value(e.kafkaSaslUsername, kafka.username)
        : fromSecret(e.kafkaSaslUsername, kafka.secretRef.name, kafka.secretRef.usernameKey ?? 'username'),
      fromSecret(e.kafkaSaslPassword, kafka.secretRef.name, kafka.secretRef.passwordKey ?? 'password'),
    );
  }
  env.push(...fromKeySelector(e.kafkaTlsCa, kafka.tls?.ca));
  const client = kafka.tls?.clientCertificate;
  if (client) {
    env.push(
      fromSecret(e.kafkaTlsCertificate, client.secretName, client.certificateKey),
      fromSecret(e.kafkaTlsPrivateKey, client.secretName, client.privateKeyKey),
    );
  }
  return env;
}

/**
 * The credentials among the variables, taken out: each becomes a file of the
 * same name in the projected volume at secretsMountPath (credentialEnv).
 */
function credentialFiles(env: V1EnvVar[]): { env: V1EnvVar[]; files: V1VolumeProjection[] } {
  const files: V1VolumeProjection[] = [];
  const rest: V1EnvVar[] = [];
  const sources: CredentialSources = {};
  for (const variable of env) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref && credentialEnv.has(variable.name)) {
      // Optional: a missing Secret or key leaves the file out, and the runtime names it (CredentialSources).
      files.push({
        secret: { name: ref.name ?? '', items: [{ key: ref.key, path: variable.name }], optional: true },
      });
      sources[variable.name] = { secret: ref.name ?? '', key: ref.key };
    } else rest.push(variable);
  }
  if (files.length) rest.push(value(taskManagerEnv.credentialSources, JSON.stringify(sources)));
  return { env: rest, files };
}

function weirEnv(job: StreamJob, identity: PodIdentity): V1EnvVar[] {
  const { spec } = job;
  const e = taskManagerEnv;
  const name = job.metadata.name ?? '';
  const namespace = job.metadata.namespace ?? '';
  const storage = spec.checkpoints.storage;
  const env: V1EnvVar[] = [
    value(e.job, name),
    value(e.namespace, namespace),
    value(e.runId, identity.runId),
    value(e.podIndex, String(identity.index)),
    ...(identity.standby ? [value(e.standby, 'true')] : []),
    value(e.tasks, tasksOfPod(identity.index, spec.parallelism, spec.taskSlots).join(',')),
    value(e.parallelism, String(spec.parallelism)),
    value(e.entry, spec.entry),
    value(e.args, JSON.stringify(spec.args ?? {})),
    value(e.offsetGroup, offsetGroup(namespace, name, identity.runId)),
    value(e.checkpointMode, spec.checkpoints.mode),
    value(e.checkpointInterval, spec.checkpoints.interval),
    value(e.checkpointTimeout, spec.checkpoints.timeout),
    value(e.checkpointTolerableFailures, String(spec.checkpoints.tolerableFailures)),
    value(e.checkpointRetained, String(spec.checkpoints.retained)),
    ...(spec.checkpoints.progressWindow ? [value(e.progressWindow, spec.checkpoints.progressWindow)] : []),
    ...(spec.checkpoints.materializationInterval
      ? [value(e.materializationInterval, spec.checkpoints.materializationInterval)]
      : []),
    // Honoured by the TaskManager only while the run has no committed offsets: failovers resume the run.
    ...(identity.restoreSavepoint ? [value(e.restoreSavepoint, identity.restoreSavepoint)] : []),
    ...(identity.warmFromRun ? [value(e.warmFromRun, identity.warmFromRun)] : []),
    value(e.allowNonRestoredState, String(spec.allowNonRestoredState)),
    value(e.s3Url, storage.url),
    value(e.s3Region, storage.region),
    ...(storage.endpoint ? [value(e.s3Endpoint, storage.endpoint)] : []),
    value(e.s3AddressingStyle, s3AddressingStyle(storage)),
    ...fromKeySelector(e.s3TlsCa, storage.tls?.ca),
    ...kafkaEnv(spec.kafka),
    ...stateEnv(spec.taskManager ?? taskManagerDefaults),
    value(e.controlPort, String(ports.control)),
    value(e.metricsPort, String(ports.metrics)),
    value(processEnv.home, '/tmp'),
    { name: e.podIp, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: e.podName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    fromSecret(e.controlToken, tokenSecretName(name), tokenSecretKey),
    value(e.secretsDir, secretsMountPath),
  ];
  if (storage.credentialsSecret) {
    const secret = storage.credentialsSecret;
    env.push(
      fromSecret(e.s3AccessKey, secret.name, secret.accessKeyIdKey),
      fromSecret(e.s3SecretKey, secret.name, secret.secretAccessKeyKey),
    );
  }
  return env;
}

/** Where state lives, its cache, and the heap limit that cache must fit in (spec.taskManager.state, heapPercent). */
function stateEnv(tm: TaskManagerSpec): V1EnvVar[] {
  const e = taskManagerEnv;
  return [
    value(e.stateStore, tm.state.store),
    ...(tm.state.store === 'disk'
      ? [
          value(e.stateDir, stateVolumeMountPath),
          ...(tm.state.persistentVolume ? [value(e.stateLocalRecovery, 'true')] : []),
          value(
            e.stateCacheBytes,
            String(quantityBytes(tm.state.cacheSize, 'spec.taskManager.state.cacheSize')),
          ),
        ]
      : []),
    value(processEnv.nodeOptions, `--max-old-space-size-percentage=${tm.heapPercent}`),
  ];
}

/**
 * Resources of a TaskManager whose spec sets none: a CPU share to be
 * scheduled by, and a memory limit, so that heapPercent caps the heap at a
 * share of it rather than of the node's memory. Sized for small jobs; a
 * production job sets its own (docs/operating.md, Sizing).
 */
export const defaultTaskManagerResources = {
  requests: { cpu: '100m', memory: '1Gi' },
  limits: { memory: '1Gi' },
} as const;

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
 * configuration arrives through WEIR_* variables, so the pod needs no API
 * access. spec.taskManager's pod shaping is merged in (pod-shape.ts).
 */
export function taskManagerPod(job: StreamJob, identity: PodIdentity): V1Pod {
  return shapePod(weirPod(job, identity), job.spec.taskManager ?? taskManagerDefaults);
}

/** The pod as Weir needs it, before the user's shaping. */
function weirPod(job: StreamJob, identity: PodIdentity): V1Pod {
  const name = job.metadata.name ?? '';
  const tm = job.spec.taskManager ?? taskManagerDefaults;
  const onDisk = tm.state.store === 'disk';
  const credentials = credentialFiles(weirEnv(job, identity));
  const podLabels = {
    [labels.name]: 'weir',
    [labels.instance]: name,
    [labels.component]: taskManagerComponent,
    [labels.managedBy]: managedBy,
    [labels.job]: name,
    [labels.podIndex]: String(identity.index),
    ...(identity.slot ? { [labels.slot]: String(identity.slot) } : {}),
    ...(identity.standby ? { [labels.standbyAtStart]: 'true' } : {}),
    [labels.run]: identity.runId,
    [labels.specHash]: identity.specHash,
    [labels.restartEpoch]: String(identity.restartEpoch),
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: taskManagerPodName(name, identity.index, identity.slot ?? 0),
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
      ...(job.spec.standby?.replicas || identity.warmFromRun
        ? { affinity: apartFromItsSlots(name, identity.index) }
        : {}),
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
          name: taskManagerContainerName,
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
          env: [...credentials.env, ...((tm.env ?? []) as V1EnvVar[])],
          resources: tm.resources
            ? quantities(tm.resources)
            : {
                requests: { ...defaultTaskManagerResources.requests },
                limits: { ...defaultTaskManagerResources.limits },
              },
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
          volumeMounts: [
            { name: 'scratch', mountPath: '/tmp' },
            { name: 'credentials', mountPath: secretsMountPath, readOnly: true },
            ...(onDisk ? [{ name: 'state', mountPath: stateVolumeMountPath }] : []),
          ],
        },
      ],
      volumes: [
        { name: 'scratch', emptyDir: {} },
        ...(onDisk
          ? [
              tm.state.persistentVolume
                ? {
                    name: 'state',
                    persistentVolumeClaim: {
                      claimName: stateClaimName(taskManagerPodName(name, identity.index, identity.slot ?? 0)),
                    },
                  }
                : { name: 'state', emptyDir: { sizeLimit: tm.state.volumeSize } },
            ]
          : []),
        // Owner root, group fsGroup (the TaskManager's), read by the group only.
        { name: 'credentials', projected: { defaultMode: 0o440, sources: credentials.files } },
      ],
    },
  };
}

/**
 * With standbys, the pods of one index (its active and standby slots) prefer
 * different nodes: a standby on the active pod's node is lost with it. A
 * preference, not a rule, so a cluster with fewer nodes than slots still runs
 * the job (the standby then guards against a process failure only).
 */
function apartFromItsSlots(job: string, index: number): V1Affinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: { [labels.job]: job, [labels.podIndex]: String(index) } },
          },
        },
      ],
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
