/**
 * The environment of a TaskManager pod: every variable the operator sets
 * (src/operator/deploy/taskmanager-pod.ts) and the runtime reads
 * (src/runtime/config.ts), named once here. The contract test builds the pod
 * of a job that sets every option and loads the runtime's configuration from
 * that pod's environment: a variable one side adds and the other ignores fails it.
 */
export const taskManagerEnv = {
  job: 'WEIR_JOB',
  namespace: 'WEIR_NAMESPACE',
  runId: 'WEIR_RUN_ID',
  podIndex: 'WEIR_POD_INDEX',
  /** "true": the pod starts as a standby and runs its tasks only once promoted (POST /v1/promote). */
  standby: 'WEIR_STANDBY',
  /**
   * A warm upgrade's new-version pod (with WEIR_STANDBY): its standbys warm
   * from this run (the old version's), and a promotion restores the new run
   * from WEIR_RESTORE_SAVEPOINT on that warm state where it can.
   */
  warmFromRun: 'WEIR_WARM_FROM_RUN',
  tasks: 'WEIR_TASKS',
  parallelism: 'WEIR_PARALLELISM',
  entry: 'WEIR_ENTRY',
  args: 'WEIR_ARGS',
  offsetGroup: 'WEIR_OFFSET_GROUP',
  checkpointMode: 'WEIR_CHECKPOINT_MODE',
  checkpointInterval: 'WEIR_CHECKPOINT_INTERVAL',
  checkpointTimeout: 'WEIR_CHECKPOINT_TIMEOUT',
  checkpointTolerableFailures: 'WEIR_CHECKPOINT_TOLERABLE_FAILURES',
  checkpointRetained: 'WEIR_CHECKPOINT_RETAINED',
  progressWindow: 'WEIR_PROGRESS_WINDOW',
  materializationInterval: 'WEIR_MATERIALIZATION_INTERVAL',
  stateStore: 'WEIR_STATE_STORE',
  stateDir: 'WEIR_STATE_DIR',
  stateCacheBytes: 'WEIR_STATE_CACHE_BYTES',
  /** "true": the state volume persists (spec.taskManager.state.persistentVolume); stores stopped gracefully are reused. */
  stateLocalRecovery: 'WEIR_STATE_LOCAL_RECOVERY',
  restoreSavepoint: 'WEIR_RESTORE_SAVEPOINT',
  allowNonRestoredState: 'WEIR_ALLOW_NON_RESTORED_STATE',
  s3Url: 'WEIR_S3_URL',
  s3Region: 'WEIR_S3_REGION',
  s3Endpoint: 'WEIR_S3_ENDPOINT',
  s3AddressingStyle: 'WEIR_S3_ADDRESSING_STYLE',
  s3TlsCa: 'WEIR_S3_TLS_CA',
  s3AccessKey: 'WEIR_S3_ACCESS_KEY',
  s3SecretKey: 'WEIR_S3_SECRET_KEY',
  kafkaBootstrap: 'WEIR_KAFKA_BOOTSTRAP',
  kafkaSecurityProtocol: 'WEIR_KAFKA_SECURITY_PROTOCOL',
  kafkaSaslMechanism: 'WEIR_KAFKA_SASL_MECHANISM',
  kafkaOffsetOutOfRange: 'WEIR_KAFKA_OFFSET_OUT_OF_RANGE',
  kafkaSaslUsername: 'WEIR_KAFKA_SASL_USERNAME',
  kafkaSaslPassword: 'WEIR_KAFKA_SASL_PASSWORD',
  kafkaTlsCa: 'WEIR_KAFKA_TLS_CA',
  kafkaTlsCertificate: 'WEIR_KAFKA_TLS_CERTIFICATE',
  kafkaTlsPrivateKey: 'WEIR_KAFKA_TLS_PRIVATE_KEY',
  controlPort: 'WEIR_CONTROL_PORT',
  metricsPort: 'WEIR_METRICS_PORT',
  controlToken: 'WEIR_CONTROL_TOKEN',
  secretsDir: 'WEIR_SECRETS_DIR',
  credentialSources: 'WEIR_CREDENTIAL_SOURCES',
  podIp: 'POD_IP',
  podName: 'POD_NAME',
} as const;

export type TaskManagerEnvName = (typeof taskManagerEnv)[keyof typeof taskManagerEnv];

/**
 * The credentials among them. A pod gets each as a file named like the
 * variable in WEIR_SECRETS_DIR (a projected volume of the Secrets, readable by
 * the TaskManager's user only), never as an environment variable, which job
 * code, its dependencies and child processes could read; the runtime reads the
 * files at start. A TaskManager run by hand (`weir run --local`, the tests'
 * processes) may still set them as variables.
 */
export const credentialEnv: ReadonlySet<string> = new Set([
  taskManagerEnv.controlToken,
  taskManagerEnv.kafkaSaslUsername,
  taskManagerEnv.kafkaSaslPassword,
  taskManagerEnv.kafkaTlsCertificate,
  taskManagerEnv.kafkaTlsPrivateKey,
  taskManagerEnv.s3AccessKey,
  taskManagerEnv.s3SecretKey,
]);

/**
 * WEIR_CREDENTIAL_SOURCES: which Secret key each credential file comes from
 * (names only, never values). The projected volume marks every source
 * optional, so a pod whose Secret or key is missing starts instead of waiting
 * in ContainerCreating with the cause only in a pod event; the runtime then
 * fails at once naming the Secret and key (CREDENTIAL_MISSING), which status
 * shows.
 */
export type CredentialSources = Record<string, { secret: string; key: string }>;

/** Where a TaskManager pod's credentials are mounted (WEIR_SECRETS_DIR). */
export const secretsMountPath = '/var/run/weir/secrets';

/**
 * Read by the runtime but never set by the operator: `weir run --local`
 * checkpoints to a directory instead of S3.
 */
/** Where keyed state lives (spec.taskManager.state.store): the task's disk store, or the heap. */
export type StateStoreKind = 'disk' | 'heap';
export const stateStoreKinds: readonly StateStoreKind[] = ['disk', 'heap'];
/** Where a TaskManager pod mounts its state volume (an emptyDir sized by spec.taskManager.state.volumeSize). */
export const stateVolumeMountPath = '/var/lib/weir/state';
/** The state cache of a TaskManager when the spec sets none: 128 MiB, shared by its tasks. */
export const defaultStateCacheBytes = 128 * 1024 * 1024;

export const localOnlyEnv = { localCheckpointDir: 'WEIR_LOCAL_CHECKPOINT_DIR' } as const;

/**
 * Set by the operator for the process, not for Weir's configuration: the
 * non-root uid has no passwd entry, and libraries that look for a home
 * directory (the AWS SDK's config loader) fail without one. NODE_OPTIONS
 * carries the heap limit (spec.taskManager.heapPercent); a NODE_OPTIONS in
 * spec.taskManager.env comes later in the list and replaces it.
 */
export const processEnv = { home: 'HOME', nodeOptions: 'NODE_OPTIONS' } as const;

export type KafkaSecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export const kafkaSecurityProtocols: readonly KafkaSecurityProtocol[] = [
  'PLAINTEXT',
  'SSL',
  'SASL_PLAINTEXT',
  'SASL_SSL',
];
export type KafkaSaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
/** What a committed offset outside its partition's log leads to (spec.kafka.offsetOutOfRange). */
export type OffsetOutOfRangePolicy = 'fail' | 'earliest' | 'latest';
export const offsetOutOfRangePolicies: readonly OffsetOutOfRangePolicy[] = ['fail', 'earliest', 'latest'];

export const kafkaSaslMechanisms: readonly KafkaSaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** An S3 endpoint: an http:// or https:// URL (the CRD's pattern, and what the runtime accepts). */
export const s3EndpointPattern = '^https?://[^\\s/]+(/[^\\s]*)?$';

export type S3AddressingStyle = 'path' | 'virtual';
export const s3AddressingStyles: readonly S3AddressingStyle[] = ['path', 'virtual'];

/** Unset: path-style with an endpoint (MinIO and most S3-compatible stores), virtual-hosted on AWS S3. */
export function s3AddressingStyle(storage: {
  endpoint?: string;
  addressingStyle?: S3AddressingStyle;
}): S3AddressingStyle {
  return storage.addressingStyle ?? (storage.endpoint ? 'path' : 'virtual');
}

/**
 * How long a running task may go without committing (or, idle, without the
 * broker confirming it has read everything) before its TaskManager fails its
 * liveness probe. Unset: two checkpoint intervals and the checkpoint timeout,
 * so one slow checkpoint never trips it.
 */
export function progressWindowMs(checkpoint: {
  intervalMs: number;
  timeoutMs: number;
  progressWindowMs?: number;
}): number {
  return checkpoint.progressWindowMs ?? 2 * checkpoint.intervalMs + checkpoint.timeoutMs;
}
