import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { type Cluster, connect, createTestNamespace, deleteNamespace } from '../../support/cluster.ts';
import { applyCrd, standinJob } from '../../support/streamjobs.ts';

type Spec = Record<string, unknown>;

/** Each case: what is wrong, how the spec is broken, and the field path the API server must name. */
const invalid: [string, (spec: Spec) => void, string][] = [
  [
    'parallelism 0',
    (s) => (s.parallelism = 0),
    'spec.parallelism: Invalid value: 0: spec.parallelism in body should be greater than or equal to 1',
  ],
  ['taskSlots 0', (s) => (s.taskSlots = 0), 'spec.taskSlots'],
  [
    'a duration that does not parse',
    (s) => ((s.checkpoints as Spec).interval = '10 seconds'),
    'spec.checkpoints.interval',
  ],
  [
    'a checkpoint timeout that does not parse',
    (s) => ((s.checkpoints as Spec).timeout = '1d'),
    'spec.checkpoints.timeout',
  ],
  [
    'a checkpoint timeout no timer keeps (600h)',
    (s) => ((s.checkpoints as Spec).timeout = '600h'),
    'spec.checkpoints.timeout: Invalid value: "600h": must be from 1s to 1h',
  ],
  [
    'a checkpoint interval of 0s',
    (s) => ((s.checkpoints as Spec).interval = '0s'),
    'spec.checkpoints.interval: Invalid value: "0s": must be from 100ms to 1h',
  ],
  [
    'checkpoints whose transaction would outlive the broker’s 15 minutes',
    (s) => Object.assign(s.checkpoints as Spec, { interval: '10m', timeout: '5m' }),
    'spec.checkpoints: Invalid value: interval × (tolerableFailures + 2) + timeout must be at most 15m',
  ],
  [
    'fixed-delay without attempts',
    (s) => (s.restartStrategy = { type: 'fixed-delay', delay: '1s' }),
    'spec.restartStrategy: Invalid value: type fixed-delay requires attempts and delay',
  ],
  [
    'failure-rate without interval',
    (s) => (s.restartStrategy = { type: 'failure-rate', maxFailures: 3, delay: '1s' }),
    'type failure-rate requires maxFailures, interval and delay',
  ],
  [
    'attempts on exponential-delay',
    (s) => (s.restartStrategy = { type: 'exponential-delay', attempts: 3 }),
    'attempts is only valid for type fixed-delay',
  ],
  [
    'multiplier on fixed-delay',
    (s) => (s.restartStrategy = { type: 'fixed-delay', attempts: 1, delay: '1s', multiplier: 3 }),
    'only valid for type exponential-delay',
  ],
  [
    'an unknown restart strategy',
    (s) => (s.restartStrategy = { type: 'sometimes' }),
    'spec.restartStrategy.type: Unsupported value: "sometimes"',
  ],
  [
    'jitter above 1',
    (s) => (s.restartStrategy = { type: 'exponential-delay', jitter: 2 }),
    'spec.restartStrategy.jitter',
  ],
  [
    'a storage URL that is not s3://bucket/prefix',
    (s) => (((s.checkpoints as Spec).storage as Spec).url = 'http://bucket/x'),
    'spec.checkpoints.storage.url',
  ],
  [
    'inline storage credentials',
    (s) => (((s.checkpoints as Spec).storage as Spec).secretAccessKey = 'hunter2'),
    'unknown field "spec.checkpoints.storage.secretAccessKey"',
  ],
  ['a missing image', (s) => delete s.image, 'spec.image: Required value'],
  [
    'an unknown failover strategy',
    (s) => (s.failoverStrategy = 'partial'),
    'spec.failoverStrategy: Unsupported value: "partial"',
  ],
  ['an unknown state', (s) => (s.state = 'paused'), 'spec.state: Unsupported value: "paused"'],
  [
    'bootstrap servers without ports',
    (s) => ((s.kafka as Spec).bootstrapServers = 'broker-a,broker-b'),
    'spec.kafka.bootstrapServers',
  ],
  [
    'standbys for an at-least-once job',
    (s) => {
      s.standby = { replicas: 1 };
      s.checkpoints = { ...(s.checkpoints as Spec), mode: 'at-least-once' };
    },
    'standby.replicas needs checkpoints.mode exactly-once',
  ],
  [
    'warm upgrades for an at-least-once job',
    (s) => {
      s.upgrade = { warmup: true };
      s.checkpoints = { ...(s.checkpoints as Spec), mode: 'at-least-once' };
    },
    'upgrade.warmup needs checkpoints.mode exactly-once',
  ],
  [
    'a persistent state volume for heap state',
    (s) => (s.taskManager = { state: { store: 'heap', persistentVolume: {} } }),
    'spec.taskManager.state: Invalid value: state.persistentVolume needs state.store disk',
  ],
  [
    'more than 3 standby replicas',
    (s) => (s.standby = { replicas: 4 }),
    'spec.standby.replicas: Invalid value: 4',
  ],
  [
    'a reserved WEIR_ environment variable',
    (s) => (s.taskManager = { env: [{ name: 'WEIR_TASKS', value: '0' }] }),
    'names starting with WEIR_ are reserved for Weir',
  ],
  [
    'a pod label under a prefix Weir sets',
    (s) => (s.taskManager = { podLabels: { 'weir.dev/job': 'other' } }),
    'label keys under app.kubernetes.io/ and weir.dev/ are set by Weir',
  ],
  [
    'an extra volume named like one of Weir’s',
    (s) => (s.taskManager = { volumes: [{ name: 'state', emptyDir: {} }] }),
    'volume names scratch, credentials, state are used by Weir',
  ],
  [
    'a volume mount over a path Weir mounts',
    (s) =>
      (s.taskManager = {
        volumes: [{ name: 'extra', emptyDir: {} }],
        volumeMounts: [{ name: 'extra', mountPath: '/var/lib/weir/state' }],
      }),
    'spec.taskManager.volumeMounts',
  ],
  [
    'a volume mount of a volume the spec does not have',
    (s) => (s.taskManager = { volumeMounts: [{ name: 'nowhere', mountPath: '/data' }] }),
    'every volumeMounts[].name must be the name of one of spec.taskManager.volumes',
  ],
  [
    'a sidecar named like the TaskManager container',
    (s) => (s.taskManager = { sidecars: [{ name: 'taskmanager', image: 'busybox' }] }),
    "the container name taskmanager is Weir's",
  ],
  [
    'a sidecar that mounts the TaskManager’s credentials',
    (s) =>
      (s.taskManager = {
        sidecars: [
          { name: 'shipper', image: 'busybox', volumeMounts: [{ name: 'credentials', mountPath: '/c' }] },
        ],
      }),
    "a sidecar may not mount the credentials volume: it holds the TaskManager's secrets",
  ],
  [
    'a topology spread constraint without its topology key',
    (s) =>
      (s.taskManager = { topologySpreadConstraints: [{ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule' }] }),
    'spec.taskManager.topologySpreadConstraints[0].topologyKey',
  ],
  [
    'an initialSavepoint that is neither an id nor a savepoint path',
    (s) => (s.initialSavepoint = 's3://weir/prod/orders/checkpoints/x/'),
    'spec.initialSavepoint',
  ],
  [
    'both initialSavepoint and initialSnapshot',
    (s) => Object.assign(s, { initialSavepoint: 'manual-1', initialSnapshot: 'before-v2' }),
    'set initialSavepoint or initialSnapshot, not both',
  ],
  [
    'an autoscaler whose minParallelism exceeds its maxParallelism',
    (s) => (s.autoscaler = { enabled: true, minParallelism: 5, maxParallelism: 2 }),
    'spec.autoscaler: Invalid value: minParallelism must be at most maxParallelism',
  ],
  [
    'an autoscaler target utilization above 1',
    (s) => (s.autoscaler = { enabled: true, targetUtilization: 1.5 }),
    'spec.autoscaler.targetUtilization',
  ],
  [
    'a savepoint history of 0',
    (s) => (s.savepoints = { historyMaxCount: 0 }),
    'spec.savepoints.historyMaxCount',
  ],
  [
    'a SASL security protocol without credentials',
    (s) => ((s.kafka as Spec).securityProtocol = 'SASL_SSL'),
    'a SASL securityProtocol needs secretRef',
  ],
  [
    'SASL credentials with a protocol without SASL',
    (s) => (s.kafka = { ...(s.kafka as Spec), securityProtocol: 'SSL', secretRef: { name: 'k' } }),
    'secretRef holds SASL credentials',
  ],
  [
    'a SASL user name without the Secret holding its password',
    (s) => (s.kafka = { ...(s.kafka as Spec), username: 'orders' }),
    'username needs secretRef',
  ],
  [
    'a SASL user name given both inline and as a Secret key',
    (s) =>
      (s.kafka = {
        ...(s.kafka as Spec),
        username: 'orders',
        secretRef: { name: 'k', usernameKey: 'user' },
      }),
    'set username or secretRef.usernameKey, not both',
  ],
  [
    'a Secret key Kubernetes would not allow',
    (s) => (s.kafka = { ...(s.kafka as Spec), secretRef: { name: 'k', passwordKey: 'pass word' } }),
    'spec.kafka.secretRef.passwordKey',
  ],
  [
    'a CA for a plaintext connection',
    (s) =>
      (s.kafka = {
        ...(s.kafka as Spec),
        securityProtocol: 'PLAINTEXT',
        tls: { ca: { secretKeyRef: { name: 'ca', key: 'ca.crt' } } },
      }),
    'tls applies to the SSL and SASL_SSL security protocols',
  ],
  [
    'a CA from both a Secret and a ConfigMap',
    (s) =>
      (s.kafka = {
        ...(s.kafka as Spec),
        securityProtocol: 'SSL',
        tls: { ca: { secretKeyRef: { name: 'ca', key: 'k' }, configMapKeyRef: { name: 'ca', key: 'k' } } },
      }),
    'spec.kafka.tls.ca: Invalid value',
  ],
  [
    'an unknown SASL mechanism',
    (s) => (s.kafka = { ...(s.kafka as Spec), saslMechanism: 'GSSAPI' }),
    'spec.kafka.saslMechanism: Unsupported value',
  ],
  [
    'an S3 CA for an http endpoint',
    (s) =>
      Object.assign((s.checkpoints as Spec).storage as Spec, {
        endpoint: 'http://minio:9000',
        tls: { ca: { configMapKeyRef: { name: 'ca', key: 'ca.crt' } } },
      }),
    'spec.checkpoints.storage: Invalid value: tls applies to an https:// endpoint',
  ],
  [
    'an unknown S3 addressing style',
    (s) => (((s.checkpoints as Spec).storage as Spec).addressingStyle = 'dns'),
    'spec.checkpoints.storage.addressingStyle: Unsupported value: "dns"',
  ],
  [
    'a periodic savepoint interval that does not parse',
    (s) => (s.savepoints = { interval: '1 day' }),
    'spec.savepoints.interval',
  ],
];

function message(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  return String(error);
}

describe('StreamJob validation by the API server', () => {
  let cluster: Cluster;
  let namespace: string;
  let api: CustomObjectsApi;
  const target = () => ({ group: 'weir.dev', version: 'v1alpha1', plural: 'streamjobs', namespace });

  before(async () => {
    cluster = connect();
    await applyCrd();
    namespace = await createTestNamespace(cluster, 'op-validation');
    api = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  });
  after(() => deleteNamespace(cluster, namespace));

  it('accepts the valid base spec (so every rejection below is due to its one change)', async () => {
    await api.createNamespacedCustomObject({
      ...target(),
      body: standinJob('valid'),
      dryRun: 'All',
      fieldValidation: 'Strict',
    });
  });

  it('accepts a Confluent Cloud–style SASL_SSL spec and mutual TLS', async () => {
    for (const kafka of [
      {
        bootstrapServers: 'pkc-abc12.eu-west-1.aws.confluent.cloud:9092',
        securityProtocol: 'SASL_SSL',
        saslMechanism: 'PLAIN',
        secretRef: { name: 'confluent-api-key' },
      },
      {
        bootstrapServers: 'kafka.internal:9093',
        securityProtocol: 'SSL',
        tls: {
          ca: { configMapKeyRef: { name: 'kafka-ca', key: 'ca.crt' } },
          clientCertificate: { secretName: 'orders-client-cert' },
        },
      },
    ]) {
      const body = standinJob('secured') as { spec: Spec };
      body.spec.kafka = kafka;
      await api.createNamespacedCustomObject({ ...target(), body, dryRun: 'All', fieldValidation: 'Strict' });
    }
  });

  for (const [what, breakIt, expected] of invalid) {
    it(`rejects ${what}, naming the field`, async () => {
      const body = standinJob('broken') as { spec: Spec };
      breakIt(body.spec);
      const error = await api
        .createNamespacedCustomObject({ ...target(), body, dryRun: 'All', fieldValidation: 'Strict' })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(error, 'the API server accepted it');
      assert.ok(message(error).includes(expected), `message was: ${message(error)}`);
    });
  }

  it('rejects a name too long for its pod names', async () => {
    const error = await api
      .createNamespacedCustomObject({ ...target(), body: standinJob('x'.repeat(51)), dryRun: 'All' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(message(error).includes('metadata.name must be at most 50 characters'), message(error));
  });

  it('rejects a change of the storage URL of an existing job', async () => {
    await api.createNamespacedCustomObject({ ...target(), body: standinJob('immutable') });
    const error = await api
      .patchNamespacedCustomObject({
        ...target(),
        name: 'immutable',
        body: [{ op: 'replace', path: '/spec/checkpoints/storage/url', value: 's3://other/prefix' }],
        dryRun: 'All',
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(
      message(error).includes(
        'spec.checkpoints.storage.url: Invalid value: "s3://other/prefix": is immutable',
      ),
      message(error),
    );
  });
});
