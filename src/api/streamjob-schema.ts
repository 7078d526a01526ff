import { podShapeProperties, podShapeValidations } from './pod-shape-schema.ts';
import { savepointRefPattern } from './savepoint-ref.ts';
import type { SchemaProps } from './schema.ts';
import { s3EndpointPattern } from './taskmanager-env.ts';

/*
 * The StreamJob schema: the single definition from which crds/streamjob.yaml
 * is rendered (npm run gen:crd) and the TypeScript types are computed.
 * Every field has a description, for `kubectl explain`.
 */

/**
 * A duration field, bounded: a timer set from it must fire when it says
 * (Node's timers fire at once past about 24.8 days), and zero is never a
 * meaningful wait. The API server names the field and the bounds.
 */
function duration(description: string, bounds: DurationBounds): DurationSchema;
function duration<D extends string>(
  description: string,
  bounds: DurationBounds,
  defaultValue: D,
): DurationSchema & { readonly default: D };
function duration(
  description: string,
  bounds: DurationBounds,
  defaultValue?: string,
): DurationSchema & { readonly default?: string } {
  // Keys in this order (default before the rule): the rendered CRD stays byte-identical.
  return {
    type: 'string',
    description: `${description} A duration such as 500ms, 10s, 1m or 1h30m, from ${bounds.min} to ${bounds.max}.`,
    pattern: '^([0-9]+(ms|s|m|h))+$',
    maxLength: 32,
    ...(defaultValue !== undefined ? { default: defaultValue } : {}),
    'x-kubernetes-validations': [
      {
        rule: `duration(self) >= duration('${bounds.min}') && duration(self) <= duration('${bounds.max}')`,
        message: `must be from ${bounds.min} to ${bounds.max}`,
      },
    ],
  };
}

interface DurationBounds {
  readonly min: string;
  readonly max: string;
}

/** A duration field's schema; its computed type is a string, present after admission when it has a default. */
interface DurationSchema {
  readonly type: 'string';
  readonly description: string;
  readonly pattern: string;
  readonly maxLength: number;
  readonly 'x-kubernetes-validations': readonly { readonly rule: string; readonly message: string }[];
}

/** Bounds of the duration fields (a week fits Node's timers; a year is only compared with ages). */
const upToADay = { min: '1s', max: '24h' } as const;
const upToAWeek = { min: '1s', max: '168h' } as const;

/** A key of a Secret or of a ConfigMap in the StreamJob namespace. */
const keyOf = (kind: 'Secret' | 'ConfigMap') =>
  ({
    type: 'object',
    description: `A key of a ${kind} in the StreamJob namespace.`,
    required: ['name', 'key'],
    properties: {
      name: { type: 'string', description: `Name of the ${kind}.`, minLength: 1, maxLength: 253 },
      key: { type: 'string', description: 'The key.', minLength: 1, maxLength: 253 },
    },
  }) as const;

/** A PEM (or other text) from a key of a Secret or of a ConfigMap: exactly one of them. */
const keySelector = (description: string) =>
  ({
    type: 'object',
    description: `${description} From a Secret or a ConfigMap (exactly one).`,
    properties: { secretKeyRef: keyOf('Secret'), configMapKeyRef: keyOf('ConfigMap') },
    'x-kubernetes-validations': [
      {
        rule: 'has(self.secretKeyRef) != has(self.configMapKeyRef)',
        message: 'set exactly one of secretKeyRef and configMapKeyRef',
      },
    ],
  }) as const;

/** What Kubernetes allows as a Secret or ConfigMap key. */
const secretKeyPattern = '^[-._a-zA-Z0-9]+$';

export const restartStrategySchema = {
  type: 'object',
  description:
    'How the job reacts when tasks fail, as in Flink: fixed-delay (a fixed number of restarts), failure-rate (at most maxFailures per interval), exponential-delay (growing back-off, reset after a stable period) or none (the first failure fails the job). The failure history is kept in status, so it survives an operator restart.',
  default: { type: 'exponential-delay' },
  required: ['type'],
  properties: {
    type: {
      type: 'string',
      description: 'The strategy: fixed-delay, failure-rate, exponential-delay or none.',
      enum: ['fixed-delay', 'failure-rate', 'exponential-delay', 'none'],
    },
    attempts: {
      type: 'integer',
      description: 'fixed-delay: how many restarts are made before the job is declared Failed.',
      minimum: 0,
      maximum: 1000000,
    },
    delay: duration('fixed-delay and failure-rate: the wait before each restart.', { min: '0s', max: '24h' }),
    maxFailures: {
      type: 'integer',
      description: 'failure-rate: the job fails when more than this many failures fall within interval.',
      minimum: 1,
      maximum: 1000000,
    },
    interval: duration('failure-rate: the sliding window in which failures are counted.', upToAWeek),
    initialDelay: duration('exponential-delay: the first back-off. Defaults to 1s.', {
      min: '0s',
      max: '24h',
    }),
    maxDelay: duration('exponential-delay: the largest back-off. Defaults to 1m.', { min: '0s', max: '24h' }),
    multiplier: {
      type: 'number',
      description:
        'exponential-delay: the factor by which the back-off grows per consecutive failure. Defaults to 2.',
      minimum: 1,
      maximum: 100,
    },
    resetAfter: duration(
      'exponential-delay: after running this long without a failure, the back-off starts again from initialDelay. Defaults to 10m.',
      upToAWeek,
    ),
    jitter: {
      type: 'number',
      description:
        'exponential-delay: the back-off is varied randomly by up to this fraction, so that many jobs do not restart in step. Defaults to 0.1.',
      minimum: 0,
      maximum: 1,
    },
  },
  'x-kubernetes-validations': [
    {
      rule: "self.type != 'fixed-delay' || (has(self.attempts) && has(self.delay))",
      message: 'type fixed-delay requires attempts and delay',
    },
    {
      rule: "self.type != 'failure-rate' || (has(self.maxFailures) && has(self.interval) && has(self.delay))",
      message: 'type failure-rate requires maxFailures, interval and delay',
    },
    {
      rule: "!has(self.attempts) || self.type == 'fixed-delay'",
      message: 'attempts is only valid for type fixed-delay',
    },
    {
      rule: "!has(self.delay) || self.type == 'fixed-delay' || self.type == 'failure-rate'",
      message: 'delay is only valid for types fixed-delay and failure-rate',
    },
    {
      rule: "(!has(self.maxFailures) && !has(self.interval)) || self.type == 'failure-rate'",
      message: 'maxFailures and interval are only valid for type failure-rate',
    },
    {
      rule: "(!has(self.initialDelay) && !has(self.maxDelay) && !has(self.multiplier) && !has(self.resetAfter) && !has(self.jitter)) || self.type == 'exponential-delay'",
      message:
        'initialDelay, maxDelay, multiplier, resetAfter and jitter are only valid for type exponential-delay',
    },
  ],
} as const satisfies SchemaProps;

/** A byte quantity in the units Kubernetes writes for sizes: 10Gi, 512Mi, 1000000. */
export const quantityBytesPattern = '^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$';
export const defaultStateVolumeSize = '10Gi';
export const defaultStateCacheSize = '128Mi';
export const defaultTaskManagerHeapPercent = 50;

const quantityMap = {
  type: 'object',
  description: 'Resource quantities by name (cpu, memory, ...).',
  additionalProperties: {
    description: 'A quantity such as 500m or 1Gi.',
    'x-kubernetes-int-or-string': true,
    pattern:
      '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
  },
} as const;

/** The largest spec.savepoints.historyMaxCount; status.savepoints may hold a few more that are still needed. */
export const savepointHistoryMaxCount = 50;

/** The most dropped savepoints waiting for deletion that status holds; beyond it the oldest are left in S3 with a Warning event. */
export const disposalQueueLimit = 50;

export const streamJobSpecSchema = {
  type: 'object',
  description: 'StreamJobSpec describes the pipeline to run and how to run it.',
  required: ['image', 'entry', 'kafka', 'checkpoints'],
  'x-kubernetes-validations': [
    {
      rule: "!has(self.standby) || !has(self.standby.replicas) || self.standby.replicas == 0 || !has(self.checkpoints.mode) || self.checkpoints.mode == 'exactly-once'",
      message:
        'standby.replicas needs checkpoints.mode exactly-once: standbys tail the changelog, which only exactly-once writes',
    },
    {
      rule: "!has(self.upgrade) || !has(self.upgrade.warmup) || !self.upgrade.warmup || !has(self.checkpoints.mode) || self.checkpoints.mode == 'exactly-once'",
      message:
        'upgrade.warmup needs checkpoints.mode exactly-once: the new version warms its state from the changelog, which only exactly-once writes',
    },
    {
      rule: '!has(self.initialSavepoint) || !has(self.initialSnapshot)',
      message: 'set initialSavepoint or initialSnapshot, not both',
    },
    {
      rule: "!has(self.autoscaler) || !self.autoscaler.enabled || self.autoscaler.mode != 'apply' || !has(oldSelf.autoscaler) || !oldSelf.autoscaler.enabled || oldSelf.autoscaler.mode != 'apply' || self.parallelism == oldSelf.parallelism",
      message:
        'parallelism cannot change while autoscaler.enabled is true in mode apply: the autoscaler sets the tasks per stage (status.autoscaler.parallelism); bound it with autoscaler.minParallelism and maxParallelism, or turn it off',
    },
  ],
  properties: {
    image: {
      type: 'string',
      description:
        'The container image holding the job code, built FROM the Weir base image. Changing it upgrades the job.',
      minLength: 1,
      maxLength: 512,
    },
    entry: {
      type: 'string',
      description:
        'The module inside the image that exports the pipeline, relative to the image working directory.',
      minLength: 1,
      maxLength: 512,
    },
    args: {
      type: 'object',
      description: 'Free-form job parameters, passed to the pipeline as JSON.',
      'x-kubernetes-preserve-unknown-fields': true,
    },
    parallelism: {
      type: 'integer',
      description:
        'The number of tasks per stage. Each task owns the source partitions p with p mod parallelism = task.',
      minimum: 1,
      maximum: 4096,
      default: 1,
    },
    taskSlots: {
      type: 'integer',
      description: 'Tasks per TaskManager pod; the job runs ceil(parallelism / taskSlots) pods.',
      minimum: 1,
      maximum: 256,
      default: 1,
    },
    kafka: {
      type: 'object',
      description: 'The Kafka cluster the job reads from and writes to.',
      required: ['bootstrapServers'],
      properties: {
        bootstrapServers: {
          type: 'string',
          description: 'Comma-separated host:port pairs of the Kafka bootstrap brokers.',
          pattern: '^[A-Za-z0-9.-]+:[0-9]{1,5}(,[A-Za-z0-9.-]+:[0-9]{1,5})*$',
          maxLength: 2048,
        },
        securityProtocol: {
          type: 'string',
          description:
            'How the TaskManagers connect: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS, as Confluent Cloud, MSK and Aiven require). Unset: SASL_SSL when secretRef is set, PLAINTEXT otherwise.',
          enum: ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'],
        },
        saslMechanism: {
          type: 'string',
          description: 'The SASL mechanism, with a SASL security protocol. Unset: PLAIN.',
          enum: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
        },
        offsetOutOfRange: {
          type: 'string',
          description:
            "What a task does when its committed offset is outside the partition's log: records were deleted by retention before the job read them (say, while it was suspended), or the log was truncated or the topic recreated. fail (unset): the task fails with KAFKA_OFFSET_OUT_OF_RANGE naming the topic, partition, offset and the log's range, and nothing is skipped or read twice. earliest or latest: the task moves to the log's first or last offset, skipping or re-reading records, and counts it in weir_task_offset_resets_total.",
          enum: ['fail', 'earliest', 'latest'],
        },
        secretRef: {
          type: 'object',
          description:
            "The Secret in the job's namespace with the SASL credentials: the password under passwordKey, and the user name under usernameKey unless spec.kafka.username gives it. Credentials are never written inline, and never appear in status, events or logs. A Strimzi KafkaUser's Secret works as it is: secretRef {name: <user>} with username: <user>.",
          required: ['name'],
          properties: {
            name: { type: 'string', description: 'Name of the Secret.', minLength: 1, maxLength: 253 },
            usernameKey: {
              type: 'string',
              description:
                'The key holding the user name (unset: username). Not allowed with spec.kafka.username.',
              minLength: 1,
              maxLength: 253,
              pattern: secretKeyPattern,
            },
            passwordKey: {
              type: 'string',
              description: 'The key holding the password.',
              default: 'password',
              minLength: 1,
              maxLength: 253,
              pattern: secretKeyPattern,
            },
          },
        },
        username: {
          type: 'string',
          description:
            'The SASL user name, when the Secret holds only the password (a Strimzi KafkaUser Secret has keys password and sasl.jaas.config, and the user name is the KafkaUser name). A user name is not a secret; the password always comes from secretRef.',
          minLength: 1,
          maxLength: 256,
        },
        tls: {
          type: 'object',
          description: 'TLS settings, with the SSL and SASL_SSL security protocols.',
          properties: {
            ca: keySelector(
              "The CA bundle (PEM) that signed the brokers' certificates. Unset: the system's trusted CAs.",
            ),
            clientCertificate: {
              type: 'object',
              description: 'A client certificate and key (PEM) for mutual TLS, from one Secret.',
              required: ['secretName'],
              properties: {
                secretName: {
                  type: 'string',
                  description: 'Name of the Secret.',
                  minLength: 1,
                  maxLength: 253,
                },
                certificateKey: {
                  type: 'string',
                  description: 'The key holding the certificate.',
                  default: 'tls.crt',
                },
                privateKeyKey: {
                  type: 'string',
                  description: 'The key holding the private key.',
                  default: 'tls.key',
                },
              },
            },
          },
        },
      },
      'x-kubernetes-validations': [
        {
          rule: "!has(self.securityProtocol) || !self.securityProtocol.startsWith('SASL') || has(self.secretRef)",
          message: 'a SASL securityProtocol needs secretRef (the Secret with username and password)',
        },
        {
          rule: "!has(self.secretRef) || !has(self.securityProtocol) || self.securityProtocol.startsWith('SASL')",
          message: 'secretRef holds SASL credentials: use securityProtocol SASL_SSL or SASL_PLAINTEXT',
        },
        {
          rule: '!has(self.username) || has(self.secretRef)',
          message: 'username needs secretRef (the Secret with the password)',
        },
        {
          rule: '!has(self.username) || !has(self.secretRef) || !has(self.secretRef.usernameKey)',
          message: 'set username or secretRef.usernameKey, not both',
        },
        {
          rule: "!has(self.tls) || (has(self.securityProtocol) && self.securityProtocol.endsWith('SSL')) || (!has(self.securityProtocol) && has(self.secretRef))",
          message: 'tls applies to the SSL and SASL_SSL security protocols',
        },
      ],
    },
    checkpoints: {
      type: 'object',
      description: 'Where and how often task state is checkpointed.',
      required: ['storage'],
      'x-kubernetes-validations': [
        {
          // A task's transaction stays open up to tolerableFailures + 2 intervals plus a timeout (the runtime's
          // transaction.timeout.ms); the broker refuses more than transaction.max.timeout.ms, 15 minutes by default.
          rule: 'duration(self.interval).getMilliseconds() * (self.tolerableFailures + 2) + duration(self.timeout).getMilliseconds() <= 900000',
          message:
            "interval × (tolerableFailures + 2) + timeout must be at most 15m, the broker's default transaction.max.timeout.ms: a longer-lived transaction would be aborted",
        },
      ],
      properties: {
        storage: {
          type: 'object',
          description: 'S3-compatible object storage for checkpoints and savepoints.',
          required: ['url'],
          properties: {
            url: {
              type: 'string',
              description:
                'The bucket and prefix, as s3://bucket/prefix. It cannot change once set: state lives there.',
              pattern: '^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\\s]*)?$',
              maxLength: 1024,
              'x-kubernetes-validations': [
                { rule: 'self == oldSelf', message: 'is immutable: the job state lives under this URL' },
              ],
            },
            endpoint: {
              type: 'string',
              description: 'The S3 endpoint URL, for S3-compatible stores such as MinIO. Empty means AWS S3.',
              pattern: s3EndpointPattern,
              maxLength: 1024,
            },
            region: { type: 'string', description: 'The S3 region.', default: 'us-east-1', maxLength: 64 },
            addressingStyle: {
              type: 'string',
              description:
                'How buckets are addressed: path (https://endpoint/bucket/key, as MinIO and most S3-compatible stores want) or virtual (https://bucket.endpoint/key, as AWS S3 prefers). Unset: path with an endpoint, virtual without.',
              enum: ['path', 'virtual'],
            },
            tls: {
              type: 'object',
              description: 'TLS settings for an https endpoint.',
              properties: {
                ca: keySelector(
                  "A CA bundle (PEM) that signed the endpoint's certificate, trusted in addition to the system's CAs.",
                ),
              },
            },
            credentialsSecret: {
              type: 'object',
              description:
                'A Secret holding the access key pair. Without it, the pods use their ambient credentials (for example IRSA). Credentials are never written inline.',
              required: ['name'],
              properties: {
                name: { type: 'string', description: 'Name of the Secret.', minLength: 1, maxLength: 253 },
                accessKeyIdKey: {
                  type: 'string',
                  description: 'The key of the access key id in the Secret.',
                  default: 'accessKeyId',
                },
                secretAccessKeyKey: {
                  type: 'string',
                  description: 'The key of the secret access key in the Secret.',
                  default: 'secretAccessKey',
                },
              },
            },
          },
          'x-kubernetes-validations': [
            {
              rule: "!has(self.tls) || !has(self.endpoint) || self.endpoint.startsWith('https://')",
              message: 'tls applies to an https:// endpoint',
            },
          ],
        },
        interval: duration('How often each task checkpoints.', { min: '100ms', max: '1h' }, '10s'),
        mode: {
          type: 'string',
          description:
            'exactly-once commits outputs, offsets and state atomically in a Kafka transaction; at-least-once uses plain offset commits.',
          enum: ['exactly-once', 'at-least-once'],
          default: 'exactly-once',
        },
        timeout: duration('A checkpoint that takes longer than this fails.', { min: '1s', max: '1h' }, '60s'),
        progressWindow: duration(
          "Health by progress: a running task that has not committed for this long (an idle task counts as committed once its partition leaders confirm that nothing new arrived) fails its TaskManager's liveness probe; the pod fails and the restart strategy replaces it. Unset: two intervals plus the timeout.",
          upToADay,
        ),
        materializationInterval: duration(
          "Exactly-once jobs with keyed state log each checkpoint's state changes to a compacted changelog topic inside the checkpoint's Kafka transaction, and store the state in S3 in the background: this is how often each task does so at most. Shorter means shorter restores (less changelog to replay) and more S3 writes. Unset: 1m.",
          { min: '1s', max: '24h' },
        ),
        tolerableFailures: {
          type: 'integer',
          description: 'Consecutive checkpoint failures tolerated before the task is failed.',
          minimum: 0,
          maximum: 1000,
          default: 3,
        },
        retained: {
          type: 'integer',
          description:
            'Completed checkpoints kept per task; older ones are deleted when nothing refers to them.',
          minimum: 1,
          maximum: 100,
          default: 3,
        },
      },
    },
    restartStrategy: restartStrategySchema,
    failoverStrategy: {
      type: 'string',
      description:
        'Which tasks restart after a failure: region restarts only the failed pod (tasks are independent regions, joined only through Kafka); full restarts every pod.',
      enum: ['region', 'full'],
      default: 'region',
    },
    autoscaler: {
      type: 'object',
      description:
        "Sets the tasks per stage from what the TaskManagers measure: each stage's input rate, busy time and backlog (after DS2, Kalavri et al., OSDI 2018). The parallelism is the smallest that lets every stage take its input rate plus its backlog within catchUpDuration at targetUtilization, judged by the busiest task; it scales up at once, down only after scaleDownDelay, never during a restore, an upgrade or a savepoint, nor within stabilization of the last scaling. Scaling is the last-state rescale (state moves with its partitions, exactly once). status.autoscaler gives the measurements, the recommendation and the reason in words. In mode apply, spec.parallelism cannot change: the autoscaler holds the job's parallelism in status.autoscaler.parallelism, and turning it off returns the job to spec.parallelism.",
      properties: {
        enabled: { type: 'boolean', description: 'Whether the autoscaler runs.', default: false },
        mode: {
          type: 'string',
          description:
            'apply: the job is rescaled to the recommendation. recommend: status.autoscaler shows the recommendation and its reason, and nothing changes (watch it before you trust it).',
          enum: ['apply', 'recommend'],
          default: 'apply',
        },
        targetUtilization: {
          type: 'number',
          description:
            'The share of its time the busiest task of a stage should be busy at the parallelism chosen (0.1 to 1): the headroom left for bursts.',
          minimum: 0.1,
          maximum: 1,
          default: 0.7,
        },
        minParallelism: {
          type: 'integer',
          description: 'The fewest tasks per stage the autoscaler sets.',
          minimum: 1,
          maximum: 4096,
          default: 1,
        },
        maxParallelism: {
          type: 'integer',
          description:
            "The most tasks per stage the autoscaler sets; unset, the widest source's partition count (more tasks than partitions would idle).",
          minimum: 1,
          maximum: 4096,
        },
        metricsWindow: duration(
          'How far back the measurements a decision uses reach; a decision needs at least half of it measured since the job last started or scaled.',
          { min: '10s', max: '1h' },
          '5m',
        ),
        stabilization: duration(
          'No decision within this long after a scaling (or a deployment): the measurements settle first.',
          { min: '0s', max: '1h' },
          '5m',
        ),
        scaleDownDelay: duration(
          'A lower recommendation must hold this long before the job scales down.',
          { min: '0s', max: '24h' },
          '10m',
        ),
        catchUpDuration: duration(
          'The backlog (records waiting in the input) must be read within this long at the parallelism chosen.',
          { min: '10s', max: '24h' },
          '5m',
        ),
      },
      'x-kubernetes-validations': [
        {
          rule: '!has(self.maxParallelism) || self.minParallelism <= self.maxParallelism',
          message: 'minParallelism must be at most maxParallelism',
        },
      ],
    },
    standby: {
      type: 'object',
      description:
        "Standby tasks: warm copies of every task's state on other TaskManager pods, kept up to date from the changelog and promoted when the active pod fails, so recovery does not wait for the state to download. Needs checkpoints.mode exactly-once (the changelog); a stage without state has nothing to warm. Changing it adds or removes standby pods only.",
      properties: {
        replicas: {
          type: 'integer',
          description:
            'Standby pods per TaskManager pod (each runs the same task indexes, tailing their changelogs). 0 turns standbys off. Each costs a pod with its own state volume and the CPU to apply every changelog record.',
          minimum: 0,
          maximum: 3,
          default: 0,
        },
      },
    },
    upgradeMode: {
      type: 'string',
      description:
        "How a change of image, entry, args, kafka, checkpoints or taskManager is rolled out. savepoint: every task stops with a savepoint, then the new version starts as a new run restored from exactly it. last-state: the tasks stop and the new version resumes from the last committed checkpoint. stateless: the new version starts as a new run without state, from the sources' start position. A change of only parallelism or taskSlots always uses last-state.",
      enum: ['savepoint', 'last-state', 'stateless'],
      default: 'savepoint',
    },
    upgrade: {
      type: 'object',
      description: 'How upgrades are carried out, and when a new version is rolled back.',
      default: {},
      properties: {
        stableTimeout: duration(
          'How long a new version has to become stable (every task Ready, a checkpoint completed after it started, no failure since) before it is rolled back.',
          upToADay,
          '5m',
        ),
        rollback: {
          type: 'boolean',
          description:
            'Roll back to the last stable spec when a new version is not stable within stableTimeout or its restart strategy gives up. The spec is not rewritten: status.upgrade, the Ready condition and a RolledBack event say what happened; the next spec change starts a new upgrade.',
          default: true,
        },
        savepointTimeout: duration(
          'How long the TaskManagers may take to stop with the upgrade savepoint before it counts as failed.',
          upToADay,
          '2m',
        ),
        savepointFallback: {
          type: 'boolean',
          description:
            'When the TaskManagers cannot take the upgrade savepoint, upgrade from the last committed checkpoint instead (a Warning event says so). When false the upgrade stops, a condition says why, and the current version keeps running.',
          default: true,
        },
        warmup: {
          type: 'boolean',
          description:
            "Warm upgrades (savepoint mode): before the old version stops, the new version's TaskManager pods start beside it and warm their state from its snapshots and changelog; the old version then stops with its savepoint and the new one continues on its warm state after replaying only the changelog written since, instead of downloading and loading the savepoint. Costs a second set of pods (and their state) while it warms. Where the warm state cannot stand for the savepoint (changed operator ids, the old version committed after it), the new version restores from the savepoint's sections as without warmup, and its TaskManagers' status says why. Needs checkpoints.mode exactly-once. A rescale (a change of parallelism or taskSlots alone) is not warmed.",
          default: false,
        },
        warmupTimeout: duration(
          "With warmup, how long the new version's pods may take to become Ready (state loaded, at most 10,000 changelog records behind) before the old version is stopped anyway; the new version then replays what it lacks, or restores cold.",
          upToADay,
          '5m',
        ),
        fallbackMaxCheckpointAge: duration(
          'With savepointFallback, the oldest last committed checkpoint the fallback may use (status.checkpoint.latestCompleted.time); an older one stops the upgrade as if savepointFallback were false. Unset: any age.',
          { min: '1s', max: '8760h' },
        ),
      },
    },
    state: {
      type: 'string',
      description: 'running runs the job; suspended removes its pods and keeps its status and history.',
      enum: ['running', 'suspended'],
      default: 'running',
    },
    restartNonce: {
      type: 'integer',
      description: 'Change this value to restart every task of the job once.',
      default: 0,
    },
    savepointTriggerNonce: {
      type: 'integer',
      description:
        'Change this value to take a savepoint of the running job now; status.savepoints lists it once complete.',
      default: 0,
    },
    initialSavepoint: {
      type: 'string',
      description:
        "The savepoint to start from: the id of a savepoint of this job (see status.savepoints, or the FinalSavepointCompleted event of a deleted job of the same name), or the s3://<bucket>[/<prefix>]/<namespace>/<job>/savepoints/<id>/ path of a savepoint of any job, read with this job's storage endpoint and credentials. Setting or changing it starts a new run whose tasks restore from that savepoint; removing it changes nothing.",
      pattern: savepointRefPattern,
      maxLength: 1024,
    },
    initialSnapshot: {
      type: 'string',
      description:
        'The StreamJobSnapshot in this namespace to start from, by name (of this job or of any other; it must be Completed). Like initialSavepoint, setting or changing it starts a new run whose tasks restore from that savepoint; until the snapshot is Completed, a job that has not run yet waits, and a running one keeps running as it is. A snapshot named here is never deleted from S3.',
      minLength: 1,
      maxLength: 253,
      pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
    },
    allowNonRestoredState: {
      type: 'boolean',
      description:
        'When restoring from initialSavepoint, drop savepoint state of operator ids the pipeline no longer has instead of refusing to start.',
      default: false,
    },
    savepoints: {
      type: 'object',
      description:
        'Periodic savepoints, the savepoint history kept in status and S3, and a final savepoint on deletion.',
      default: {},
      properties: {
        interval: duration(
          'Take a savepoint (reason periodic) this long after the newest savepoint, failed savepoint or deployment, while the job is Running. Unset: no periodic savepoints.',
          upToAWeek,
        ),
        historyMaxCount: {
          type: 'integer',
          description:
            'How many completed savepoints status.savepoints keeps; older ones are deleted from S3. Never dropped: the newest, and any an upgrade, rollback or the current run (a resume from suspend among them) may restore from.',
          minimum: 1,
          maximum: savepointHistoryMaxCount,
          default: 10,
        },
        historyMaxAge: duration(
          'Savepoints older than this are dropped from the history and deleted from S3, with the same exceptions as historyMaxCount. Unset: any age.',
          { min: '1m', max: '8760h' },
        ),
        onDeletion: {
          type: 'boolean',
          description:
            'Deleting the StreamJob first stops its running tasks with a savepoint (reason deletion), kept in S3 with every other savepoint and checkpoint. The operator holds the deletion with the finalizer weir.dev/final-savepoint until the savepoint completes, fails or times out (upgrade.savepointTimeout).',
          default: false,
        },
      },
    },
    taskManager: {
      type: 'object',
      description: 'Settings of the TaskManager pods.',
      properties: {
        resources: {
          type: 'object',
          description:
            'Compute resources of the TaskManager container. Unset: requests cpu 100m and memory 1Gi, limit memory 1Gi (small jobs; size production jobs yourself). The heap limit is heapPercent of the memory limit.',
          properties: {
            requests: { ...quantityMap, description: 'Minimum resources, used by the scheduler.' },
            limits: { ...quantityMap, description: 'Maximum resources.' },
          },
        },
        env: {
          type: 'array',
          description:
            'Extra environment variables for the TaskManager container (WEIR_* names are reserved).',
          maxItems: 128,
          items: {
            type: 'object',
            description: 'An environment variable, as in a container spec.',
            required: ['name'],
            properties: {
              name: {
                type: 'string',
                description: 'The variable name.',
                pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
                'x-kubernetes-validations': [
                  {
                    rule: "!self.startsWith('WEIR_')",
                    message: 'names starting with WEIR_ are reserved for Weir',
                  },
                ],
              },
              value: { type: 'string', description: 'A literal value.' },
              valueFrom: {
                type: 'object',
                description:
                  'A source for the value (secretKeyRef, configMapKeyRef, fieldRef), as in a container spec.',
                'x-kubernetes-preserve-unknown-fields': true,
              },
            },
          },
        },
        nodeSelector: {
          type: 'object',
          description: 'Node labels the TaskManager pods must match.',
          additionalProperties: { type: 'string', description: 'A label value.' },
        },
        tolerations: {
          type: 'array',
          description: 'Tolerations of the TaskManager pods, as in a pod spec.',
          items: {
            type: 'object',
            description: 'A toleration.',
            'x-kubernetes-preserve-unknown-fields': true,
          },
        },
        serviceAccountName: {
          type: 'string',
          description:
            'The ServiceAccount of the pods. TaskManagers need no Kubernetes API access; no token is mounted.',
          maxLength: 253,
        },
        state: {
          type: 'object',
          description:
            'Where the keyed state of the TaskManagers lives while the job runs (the changelog in Kafka and the snapshots in S3 are its record either way).',
          default: {},
          'x-kubernetes-validations': [
            {
              rule: "!has(self.persistentVolume) || !has(self.store) || self.store == 'disk'",
              message:
                'state.persistentVolume needs state.store disk: only the disk store lives on the volume',
            },
          ],
          properties: {
            store: {
              type: 'string',
              description:
                "disk: each task keeps its state in an embedded LMDB store on the pod's state volume, with the entries last used cached in the heap (up to cacheSize), so state may be far larger than the heap. heap: all state in the JavaScript heap (faster for small state; the state must fit in it).",
              enum: ['disk', 'heap'],
              default: 'disk',
            },
            volumeSize: {
              type: 'string',
              description:
                'The size limit of the state volume (an emptyDir) of each TaskManager pod, for store: disk. A pod whose state outgrows it is evicted by the kubelet and restarted like any failed pod. Size it at about twice the state the pod holds (LMDB reuses freed pages, but a background snapshot keeps old pages alive while it reads).',
              pattern: quantityBytesPattern,
              default: defaultStateVolumeSize,
            },
            cacheSize: {
              type: 'string',
              description:
                "The heap each TaskManager may use to cache state entries, shared by its tasks, for store: disk. Keep it well within the heap (heapPercent of the memory limit), which also holds records in flight and the job's own objects.",
              pattern: quantityBytesPattern,
              default: defaultStateCacheSize,
            },
            persistentVolume: {
              type: 'object',
              description:
                "Local recovery: the state volume of each TaskManager pod is a PersistentVolumeClaim of its own (<pod>-state, volumeSize, ReadWriteOnce; deleted with the StreamJob) instead of an emptyDir. A TaskManager that stops gracefully (a pod deleted or drained, a suspend, a last-state upgrade or rescale) leaves its tasks' stores on it with a record of the commit they stand on; a pod of the same name that comes back on the volume reuses a store whose partitions' committed offsets still match that record, and downloads nothing. A store left by a crash, or by a commit since, is discarded and the task restores from S3 and the changelog as without it.",
              properties: {
                storageClassName: {
                  type: 'string',
                  description: "The claims' storage class; unset, the cluster's default class.",
                  maxLength: 253,
                },
              },
            },
          },
        },
        heapPercent: {
          type: 'integer',
          description:
            "The JavaScript heap limit of the TaskManager, as a share of the container's memory limit (Node's --max-old-space-size-percentage; without a memory limit, of the node's memory). Memory above it is left to buffers, the Kafka client and the state store's pages.",
          minimum: 10,
          maximum: 90,
          default: defaultTaskManagerHeapPercent,
        },
        terminationGracePeriodSeconds: {
          type: 'integer',
          description: 'How long a TaskManager may take to finish or abort its transaction on shutdown.',
          minimum: 1,
          maximum: 3600,
          default: 30,
        },
        ...podShapeProperties,
      },
      'x-kubernetes-validations': [...podShapeValidations],
    },
  },
} as const satisfies SchemaProps;

export const timestamp = (description: string) =>
  ({ type: 'string', format: 'date-time', description }) as const;

export const savepointReason = {
  type: 'string',
  description:
    'Why the savepoint was taken: manual (savepointTriggerNonce), periodic (savepoints.interval), upgrade (a savepoint upgrade stopped the old version with it), suspend (state: suspended stopped the job with it; resuming restores from it) or deletion (savepoints.onDeletion stopped the job with it as it was deleted).',
  enum: ['manual', 'periodic', 'upgrade', 'suspend', 'deletion'],
} as const;

const recordedSpec = (description: string) =>
  ({
    type: 'object',
    description,
    required: ['spec', 'generation', 'time'],
    properties: {
      spec: {
        type: 'object',
        description: 'The StreamJob spec, as it was.',
        'x-kubernetes-preserve-unknown-fields': true,
      },
      generation: { type: 'integer', description: 'The generation of that spec.' },
      time: timestamp('When it was recorded.'),
    },
  }) as const;

const failureRecord = {
  type: 'object',
  description: 'One task failure.',
  required: ['time', 'pod', 'reason'],
  properties: {
    time: timestamp('When the failure was observed.'),
    pod: { type: 'string', description: 'The failed pod.' },
    reason: { type: 'string', description: 'Why it failed, e.g. PodFailed, PodDeleted, NodeLost.' },
    message: { type: 'string', description: 'Details, such as the exit code.' },
  },
} as const;

export const streamJobStatusSchema = {
  type: 'object',
  description: 'StreamJobStatus is the observed state of the job, written by the operator.',
  properties: {
    phase: {
      type: 'string',
      description:
        'Deploying, Running, Upgrading (an upgrade stops the old version or starts the new one), Restarting, Suspended or Failed.',
      enum: ['Deploying', 'Running', 'Upgrading', 'Restarting', 'Suspended', 'Failed'],
    },
    observedGeneration: { type: 'integer', description: 'The spec generation this status describes.' },
    conditions: {
      type: 'array',
      description: 'Ready, Progressing and Degraded, each with the generation it describes.',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: {
        type: 'object',
        description: 'A condition, following the Kubernetes API conventions.',
        required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
        properties: {
          type: { type: 'string', description: 'Ready, Progressing or Degraded.' },
          status: {
            type: 'string',
            description: 'True, False or Unknown.',
            enum: ['True', 'False', 'Unknown'],
          },
          observedGeneration: {
            type: 'integer',
            description: 'The spec generation the condition was set for.',
          },
          lastTransitionTime: timestamp('When the status last changed.'),
          reason: { type: 'string', description: 'A CamelCase reason for the status.' },
          message: { type: 'string', description: 'A human-readable explanation.' },
        },
      },
    },
    tasks: {
      type: 'object',
      description: 'Task counts.',
      required: ['ready', 'total'],
      properties: {
        ready: { type: 'integer', description: 'Tasks in Ready TaskManager pods.' },
        total: { type: 'integer', description: 'Tasks the job runs (its parallelism).' },
        pods: { type: 'integer', description: 'TaskManager pods the job runs.' },
      },
    },
    selector: {
      type: 'string',
      description: 'The label selector of the TaskManager pods (for the scale subresource).',
    },
    run: {
      type: 'object',
      description: 'The current run: one lineage of committed state.',
      required: ['id'],
      properties: {
        id: { type: 'string', description: 'The run id, also the pod label weir.dev/run.' },
        restoredFrom: {
          type: 'string',
          description: 'The savepoint the run started from (spec.initialSavepoint), if any.',
        },
      },
    },
    specHash: { type: 'string', description: 'A hash of the spec fields that shape the pods.' },
    deployment: recordedSpec(
      'The spec the TaskManager pods are made from. It follows spec through the upgrade steps, and stays behind it while an upgrade is stopped or rolled back.',
    ),
    lastStableSpec: recordedSpec(
      'The most recent deployed spec that became stable (every task Ready, a checkpoint completed after it started, no failure since): what a rollback returns to.',
    ),
    upgrade: {
      type: 'object',
      description:
        'The upgrade in progress, or how the last one ended. Each step is written here before it is acted on, so an operator restarted at any point finishes the same upgrade once.',
      required: ['step', 'mode', 'fromGeneration', 'toGeneration', 'startedAt', 'stepStartedAt'],
      properties: {
        step: {
          type: 'string',
          description:
            "Warming (upgrade.warmup: the new version's pods warm their state beside the old version), Savepointing (the old version stops with a savepoint), Deploying (the new version starts and must become stable), or how it ended without completing: Aborted (no savepoint and no fallback; the old version runs) or RolledBack (the new version was not stable; the last stable spec runs).",
          enum: ['Warming', 'Savepointing', 'Deploying', 'Aborted', 'RolledBack'],
        },
        warm: {
          type: 'object',
          description:
            "A warm upgrade's new version, chosen when Warming starts: the run it starts as and the slot of each TaskManager pod index its pods take (the old version's pods keep theirs).",
          required: ['runId', 'slots'],
          properties: {
            runId: { type: 'string', description: 'The run the new version starts as.' },
            slots: {
              type: 'array',
              description:
                "The new version's slot for each pod index; it becomes status.standby.activeSlots.",
              items: { type: 'integer', minimum: 0, description: 'A slot.' },
            },
          },
        },
        mode: {
          type: 'string',
          description: 'How the new version gets its state: savepoint, last-state or stateless.',
          enum: ['savepoint', 'last-state', 'stateless'],
        },
        fromGeneration: { type: 'integer', description: 'The generation being upgraded from.' },
        toGeneration: { type: 'integer', description: 'The generation being upgraded to.' },
        savepointId: {
          type: 'string',
          description: 'The upgrade savepoint the new version restores from (savepoint mode).',
        },
        suspend: {
          type: 'boolean',
          description:
            'The job is being suspended (state: suspended): it stops with the savepoint, which its resume restores from.',
        },
        startedAt: timestamp('When the upgrade started.'),
        stepStartedAt: timestamp('When the current step started.'),
        message: { type: 'string', description: 'Why the upgrade took the path it did.' },
      },
    },
    restartEpoch: {
      type: 'integer',
      description: 'Bumped to replace every pod (full failover, restartNonce); pods carry it as a label.',
    },
    observedRestartNonce: { type: 'integer', description: 'The last restartNonce acted upon.' },
    lastOffsetResetTime: timestamp(
      'When the latest offset reset by spec.kafka.offsetOutOfRange that an OffsetReset event announced happened.',
    ),
    observedInitialSavepoint: {
      type: 'string',
      description: 'The last spec.initialSavepoint acted upon (a new run was started from it).',
    },
    observedSavepointTriggerNonce: {
      type: 'integer',
      description: 'The last savepointTriggerNonce acted upon.',
    },
    savepointInProgress: {
      type: 'object',
      description:
        'A savepoint being taken, recorded before the TaskManagers are asked, so an operator restart finishes it.',
      required: ['id', 'reason', 'startedAt'],
      properties: {
        id: { type: 'string', description: 'The savepoint id.' },
        reason: savepointReason,
        startedAt: timestamp('When it was requested.'),
        snapshot: {
          type: 'string',
          description: 'The StreamJobSnapshot a user created to ask for it, if any.',
        },
      },
    },
    savepoints: {
      type: 'array',
      description:
        'Completed savepoints, newest last: spec.savepoints.historyMaxCount of them, and any older one still needed (the one an upgrade or the current run restores from).',
      maxItems: savepointHistoryMaxCount + 3,
      items: {
        type: 'object',
        description: 'A complete savepoint: every task wrote its part of the manifest.',
        required: ['id', 'path', 'time', 'reason'],
        properties: {
          id: { type: 'string', description: 'The savepoint id, for spec.initialSavepoint.' },
          path: {
            type: 'string',
            description: 'Where it is stored: s3://<bucket>/<prefix>/<ns>/<job>/savepoints/<id>/.',
          },
          time: timestamp('When it completed.'),
          reason: savepointReason,
          snapshot: {
            type: 'string',
            description:
              'The StreamJobSnapshot a user created to ask for it; absent, Weir records it as <job>-<id>.',
          },
        },
      },
    },
    finalSavepoint: {
      type: 'object',
      description:
        'The final savepoint a deletion is stopping the job with (spec.savepoints.onDeletion), recorded before the TaskManagers are asked.',
      required: ['id', 'startedAt'],
      properties: {
        id: { type: 'string', description: 'The savepoint id.' },
        startedAt: timestamp('When it was requested.'),
      },
    },
    savepointsToDispose: {
      type: 'array',
      description:
        'Savepoints dropped from the history whose objects are still in S3. A TaskManager of the job deletes them (the operator holds no storage credentials), so they wait while no task runs.',
      maxItems: disposalQueueLimit,
      items: {
        type: 'object',
        description: 'A savepoint waiting to be deleted.',
        required: ['id', 'path'],
        properties: {
          id: { type: 'string', description: 'The savepoint id.' },
          path: { type: 'string', description: 'Where it is stored.' },
        },
      },
    },
    lastSavepointDisposalFailure: {
      type: 'object',
      description: 'The most recent failed attempt to delete dropped savepoints; retried a minute later.',
      required: ['time', 'message'],
      properties: {
        time: timestamp('When it failed.'),
        message: { type: 'string', description: 'Why it failed.' },
      },
    },
    autoscaler: {
      type: 'object',
      description:
        'What the autoscaler (spec.autoscaler) measured and decided: the measurements it used, its recommendation with the reason in words, the parallelism it holds (mode apply) and when it last scaled.',
      properties: {
        parallelism: {
          type: 'integer',
          description:
            'The tasks per stage the autoscaler holds the job at (mode apply); spec.parallelism is used while it is unset.',
        },
        recommendation: {
          type: 'object',
          description: 'The parallelism the latest measurements call for, and why.',
          required: ['parallelism', 'reason', 'time'],
          properties: {
            parallelism: { type: 'integer', description: 'Tasks per stage.' },
            reason: {
              type: 'string',
              description:
                'Why, in one sentence: e.g. "stage 0 busiest task 97% busy at 41000 rec/s, lag growing 8000 rec/s; 3 → 5 tasks to read 1200000 records within 5m".',
            },
            time: timestamp('When it was made.'),
          },
        },
        lastScaleTime: timestamp('When the autoscaler last rescaled the job.'),
        lastScaleUp: {
          type: 'object',
          description:
            'The latest scale-up and the records per second the stage that asked for it processed before it: a later scale-up waits unless that one raised them.',
          properties: {
            from: { type: 'integer', description: 'Tasks per stage before.' },
            to: { type: 'integer', description: 'Tasks per stage after.' },
            stage: { type: 'integer', description: 'The stage that set the parallelism.' },
            recordsPerSecond: {
              type: 'integer',
              description: 'What that stage processed per second before.',
            },
          },
        },
        scaleDownSince: timestamp(
          'Since when the recommendation has been below the current parallelism (a scale-down waits scaleDownDelay from here).',
        ),
        measurements: {
          type: 'object',
          description: 'The measurements of the latest decision, per stage, over the metrics window.',
          properties: {
            windowSeconds: { type: 'integer', description: 'How much time the measurements cover.' },
            time: timestamp(
              'When they were taken: status takes new figures when the recommendation changes, and once a minute otherwise.',
            ),
            stages: {
              type: 'array',
              description: 'One entry per stage.',
              maxItems: 64,
              items: {
                type: 'object',
                description: "A stage's measurements.",
                properties: {
                  stage: { type: 'integer', description: 'The stage index.' },
                  tasks: { type: 'integer', description: 'Tasks measured.' },
                  recordsPerSecond: {
                    type: 'integer',
                    description: 'Records the stage processed per second.',
                  },
                  busiestTask: { type: 'string', description: 'The busiest task (s<stage>-t<index>).' },
                  busiestBusyPercent: { type: 'integer', description: 'Its share of time busy, in percent.' },
                  backpressurePercent: {
                    type: 'integer',
                    description:
                      "The stage's share of time waiting for its output, in percent (busiest task).",
                  },
                  recordsPerBusySecond: {
                    type: 'integer',
                    description: 'The true processing rate of one task: records per busy second.',
                  },
                  lagRecords: { type: 'integer', description: 'Records waiting in the stage input.' },
                  lagRecordsPerSecond: {
                    type: 'integer',
                    description: 'How fast the backlog grows (negative: shrinks).',
                  },
                },
              },
            },
          },
        },
      },
    },
    lastSavepointFailure: {
      type: 'object',
      description: 'The most recent savepoint that failed.',
      required: ['id', 'time', 'message'],
      properties: {
        id: { type: 'string', description: 'The savepoint id.' },
        snapshot: { type: 'string', description: 'The StreamJobSnapshot that asked for it, if any.' },
        time: timestamp('When it failed.'),
        message: { type: 'string', description: 'Why it failed.' },
      },
    },
    standby: {
      type: 'object',
      description:
        'Which slot of each TaskManager pod index runs the active tasks; the others run standbys. A promotion moves it before the standby is told.',
      properties: {
        activeSlots: {
          type: 'array',
          description:
            'Indexed by pod index: the slot whose pod runs the active tasks (0 is <job>-tm-<index>, k is <job>-tm-<index>-<k>). Absent entries are 0.',
          items: { type: 'integer', description: 'A slot.', minimum: 0, maximum: 3 },
          maxItems: 10000,
        },
        ready: {
          type: 'integer',
          description:
            'Standby pods Ready: their snapshots loaded and at most 10,000 changelog records behind, so a promotion replays little.',
        },
        total: {
          type: 'integer',
          description: 'Standby pods wanted: spec.standby.replicas per TaskManager pod.',
        },
      },
    },
    pods: {
      type: 'array',
      description: 'The TaskManager pods the operator currently counts as live; one missing is a failure.',
      'x-kubernetes-list-type': 'set',
      items: { type: 'string', description: 'A pod name.' },
    },
    checkpoint: {
      type: 'object',
      description:
        'Checkpoint progress, read from the TaskManagers over their control channel while the job runs.',
      properties: {
        latestCompleted: {
          type: 'object',
          description:
            "The slowest task's progress: by `time`, everything each task had read was committed (a task with nothing new to commit counts as up to date).",
          properties: {
            id: {
              type: 'integer',
              description:
                "The lowest checkpoint id the tasks' state stands on (each task numbers its own; 0 before its first).",
            },
            time: timestamp("The time up to which every task's input is committed."),
          },
        },
        consecutiveFailures: {
          type: 'integer',
          description: 'Checkpoint failures since the last success, of the task with the most.',
        },
        lagRecords: {
          type: 'integer',
          description:
            "Records waiting in the tasks' input partitions (the sources' topics and the repartition topics), summed over every task as it last reported; absent while a task's lag is not known.",
        },
      },
    },
    restarts: {
      type: 'object',
      description: 'Failure history, read by the restart strategy.',
      properties: {
        count: { type: 'integer', description: 'Task failures since the spec last changed.' },
        consecutive: {
          type: 'integer',
          description: 'Failures since the back-off was last reset (exponential-delay).',
        },
        recentFailures: {
          type: 'array',
          description: 'The most recent failures, newest last (bounded).',
          maxItems: 100,
          items: failureRecord,
        },
        lastFailure: failureRecord,
        lastRestartAt: timestamp('When pods were last recreated after a failure.'),
        nextRestartAt: timestamp('When the pending restart is due.'),
        pendingPods: {
          type: 'array',
          description: 'Pods waiting for the pending restart.',
          items: { type: 'string', description: 'A pod name.' },
        },
      },
    },
  },
} as const satisfies SchemaProps;
