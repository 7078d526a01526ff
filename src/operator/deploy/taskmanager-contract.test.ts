import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { type StreamJob, taskManagerDefaults } from '../../api/streamjob.ts';
import {
  credentialEnv,
  localOnlyEnv,
  processEnv,
  secretsMountPath,
  stateVolumeMountPath,
  taskManagerEnv,
} from '../../api/taskmanager-env.ts';
import { loadTaskManagerConfig } from '../../runtime/config.ts';
import { testingSpec } from '../decide/testing-spec.ts';
import { stateClaim } from './state-claim.ts';
import { taskManagerPod } from './taskmanager-pod.ts';

const pem = (what: string) => `-----BEGIN ${what}-----\nMIIB${what}\n-----END ${what}-----\n`;
/** What the kubelet would put into each variable a Secret, ConfigMap or field reference fills. */
const secrets: Record<string, Record<string, string>> = {
  'kafka-user': { username: 'svc-orders', password: 'kafka-pass' },
  // A Strimzi KafkaUser's Secret: no username key.
  'strimzi-orders': {
    password: 'strimzi-pass',
    'sasl.jaas.config':
      'org.apache.kafka.common.security.scram.ScramLoginModule required username="strimzi-orders" password="strimzi-pass";',
  },
  'msk-user': { user: 'msk-orders', secret: 'msk-pass' },
  'kafka-ca': { 'ca.pem': pem('CERTIFICATE') },
  'kafka-client': { 'tls.crt': pem('CERTIFICATE'), 'tls.key': pem('PRIVATE KEY') },
  's3-keys': { accessKeyId: 'AKIA-TEST', secretAccessKey: 's3-secret' },
  's3-ca': { 'ca.crt': pem('CERTIFICATE') },
  'orders-weir-token': { token: 'job-token' },
};
const fields: Record<string, string> = { 'status.podIP': '10.245.0.7', 'metadata.name': 'orders-tm-1-1' };

function resolve(env: V1EnvVar[]): Record<string, string> {
  return Object.fromEntries(
    env.map((v) => {
      if (v.value !== undefined) return [v.name, v.value];
      const ref = v.valueFrom?.secretKeyRef ?? v.valueFrom?.configMapKeyRef;
      if (ref) return [v.name, secrets[ref.name ?? '']?.[ref.key] ?? `<missing ${ref.name}/${ref.key}>`];
      const field = v.valueFrom?.fieldRef?.fieldPath ?? '';
      return [v.name, fields[field] ?? `<missing field ${field}>`];
    }),
  );
}

/**
 * The credential files the pod's projected volume holds, written where the
 * kubelet would mount them (a directory of this test's), with WEIR_SECRETS_DIR
 * pointing there instead of the mount path.
 */
function resolveFiles(
  pod: V1Pod,
  env: Record<string, string>,
): { env: Record<string, string>; files: string[] } {
  const mount = pod.spec?.containers[0]?.volumeMounts?.find((m) => m.mountPath === secretsMountPath);
  const volume = pod.spec?.volumes?.find((v) => v.name === mount?.name);
  assert.ok(volume?.projected, 'the credentials are a projected volume');
  assert.equal(mount?.readOnly, true);
  assert.equal(env[taskManagerEnv.secretsDir], secretsMountPath);
  const dir = mkdtempSync(join(tmpdir(), 'weir-credentials-'));
  const files: string[] = [];
  for (const source of volume.projected.sources ?? []) {
    for (const item of source.secret?.items ?? []) {
      const data = secrets[source.secret?.name ?? '']?.[item.key];
      // The sources are optional: the kubelet leaves a missing key's file out.
      if (data === undefined) continue;
      writeFileSync(join(dir, item.path), data);
      files.push(item.path);
    }
  }
  return { env: { ...env, [taskManagerEnv.secretsDir]: dir }, files };
}

/** A job that sets every option the pod's environment carries. */
const job: StreamJob = {
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'StreamJob',
  metadata: { name: 'orders', namespace: 'shop', uid: 'u1', generation: 1 },
  spec: testingSpec({
    entry: '/opt/jobs/orders.js',
    args: { input: 'orders', window: 5 },
    parallelism: 5,
    standby: { replicas: 1 },
    taskSlots: 2,
    allowNonRestoredState: true,
    kafka: {
      bootstrapServers: 'b1:9093,b2:9093',
      securityProtocol: 'SASL_SSL',
      saslMechanism: 'SCRAM-SHA-512',
      offsetOutOfRange: 'earliest',
      secretRef: { name: 'kafka-user', passwordKey: 'password' },
      tls: {
        ca: { configMapKeyRef: { name: 'kafka-ca', key: 'ca.pem' } },
        clientCertificate: {
          secretName: 'kafka-client',
          certificateKey: 'tls.crt',
          privateKeyKey: 'tls.key',
        },
      },
    },
    checkpoints: {
      storage: {
        url: 's3://state/prod',
        region: 'eu-west-1',
        endpoint: 'https://minio.example:9000',
        addressingStyle: 'virtual',
        tls: { ca: { secretKeyRef: { name: 's3-ca', key: 'ca.crt' } } },
        credentialsSecret: {
          name: 's3-keys',
          accessKeyIdKey: 'accessKeyId',
          secretAccessKeyKey: 'secretAccessKey',
        },
      },
      interval: '15s',
      mode: 'exactly-once',
      timeout: '90s',
      progressWindow: '2m',
      materializationInterval: '30s',
      tolerableFailures: 7,
      retained: 4,
    },
    taskManager: {
      terminationGracePeriodSeconds: 30,
      state: {
        store: 'disk',
        volumeSize: '20Gi',
        cacheSize: '256Mi',
        persistentVolume: { storageClassName: 'fast-local' },
      },
      heapPercent: 60,
    },
  }),
};

describe('the operator–runtime contract: the pod environment', () => {
  const pod = taskManagerPod(job, {
    index: 1,
    slot: 1,
    standby: true,
    runId: 'r42',
    restartEpoch: 0,
    specHash: 'h',
    restoreSavepoint: 'upgrade-20261130t100000z',
    warmFromRun: 'r41',
  });
  const env = pod.spec?.containers[0]?.env ?? [];
  const { env: resolved, files } = resolveFiles(pod, resolve(env));

  it('every option of the job arrives in the runtime configuration', () => {
    const config = loadTaskManagerConfig(resolved);
    assert.deepEqual(config, {
      namespace: 'shop',
      job: 'orders',
      runId: 'r42',
      tasks: [2, 3],
      parallelism: 5,
      entry: '/opt/jobs/orders.js',
      args: { input: 'orders', window: 5 },
      offsetGroup: 'weir.shop.orders.r42',
      checkpoint: {
        mode: 'exactly-once',
        intervalMs: 15_000,
        timeoutMs: 90_000,
        tolerableFailures: 7,
        retained: 4,
        progressWindowMs: 120_000,
        materializationIntervalMs: 30_000,
      },
      storage: {
        kind: 's3',
        url: 's3://state/prod',
        region: 'eu-west-1',
        endpoint: 'https://minio.example:9000',
        addressingStyle: 'virtual',
        tlsCa: pem('CERTIFICATE'),
        accessKeyId: 'AKIA-TEST',
        secretAccessKey: 's3-secret',
      },
      state: {
        store: 'disk',
        directory: stateVolumeMountPath,
        cacheBytes: 256 * 2 ** 20,
        localRecovery: true,
      },
      kafkaBootstrap: 'b1:9093,b2:9093',
      kafkaSecurity: {
        'security.protocol': 'sasl_ssl',
        'sasl.mechanisms': 'SCRAM-SHA-512',
        'sasl.username': 'svc-orders',
        'sasl.password': 'kafka-pass',
        'ssl.ca.pem': pem('CERTIFICATE'),
        'ssl.certificate.pem': pem('CERTIFICATE'),
        'ssl.key.pem': pem('PRIVATE KEY'),
      },
      offsetOutOfRange: 'earliest',
      restoreSavepoint: 'upgrade-20261130t100000z',
      allowNonRestoredState: true,
      control: { host: undefined, port: 8081, token: 'job-token' },
      metricsPort: 9249,
      pod: { name: 'orders-tm-1-1', index: 1 },
      standby: true,
      warmFromRun: 'r41',
    });
  });

  it('the runtime reads every variable the operator sets, and the operator sets every one the runtime reads', () => {
    const read = new Set<string>();
    const watched = new Proxy(resolved, {
      get(target, name: string) {
        read.add(name);
        return target[name];
      },
    });
    loadTaskManagerConfig(watched);
    const set = new Set([...env.map((v) => v.name), ...files]);
    const forProcess = new Set<string>(Object.values(processEnv));
    const ignored = [...set].filter((name) => !read.has(name) && !forProcess.has(name));
    assert.deepEqual(ignored, [], 'set on the pod, never read by the runtime');
    const localOnly = new Set<string>(Object.values(localOnlyEnv));
    const unset = [...read].filter((name) => !set.has(name) && !localOnly.has(name));
    assert.deepEqual(unset, [], 'read by the runtime, never set on the pod');
    assert.deepEqual(
      [...set].filter((n) => !forProcess.has(n)).sort(),
      Object.values(taskManagerEnv).sort(),
      'a job with every option sets every variable of the contract',
    );
  });

  it('SASL credentials from a Strimzi KafkaUser Secret (spec.kafka.username) or from keys named in secretRef', () => {
    const sasl = (kafka: Partial<StreamJob['spec']['kafka']>) => {
      const shaped = { ...job, spec: { ...job.spec, kafka: { ...job.spec.kafka, ...kafka } } };
      const p = taskManagerPod(shaped, { index: 0, runId: 'r42', restartEpoch: 0, specHash: 'h' });
      const { kafkaSecurity } = loadTaskManagerConfig(
        resolveFiles(p, resolve(p.spec?.containers[0]?.env ?? [])).env,
      );
      return [kafkaSecurity['sasl.username'], kafkaSecurity['sasl.password']];
    };
    assert.deepEqual(
      sasl({ username: 'strimzi-orders', secretRef: { name: 'strimzi-orders', passwordKey: 'password' } }),
      ['strimzi-orders', 'strimzi-pass'],
    );
    assert.deepEqual(sasl({ secretRef: { name: 'msk-user', usernameKey: 'user', passwordKey: 'secret' } }), [
      'msk-orders',
      'msk-pass',
    ]);
    assert.throws(
      () => sasl({ secretRef: { name: 'strimzi-orders', passwordKey: 'password' } }),
      /the Secret "strimzi-orders" has no key "username"/,
      'without username, the missing key is named',
    );
  });

  it('the state volume is the pod’s own claim, sized by the spec, and the heap is capped by heapPercent', () => {
    const spec = pod.spec;
    assert.deepEqual(
      spec?.volumes?.find((v) => v.name === 'state'),
      {
        name: 'state',
        persistentVolumeClaim: { claimName: 'orders-tm-1-1-state' },
      },
    );
    assert.deepEqual(stateClaim(job, 'orders-tm-1-1')?.spec, {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '20Gi' } },
      storageClassName: 'fast-local',
    });
    const ephemeral = taskManagerPod(
      {
        ...job,
        spec: {
          ...job.spec,
          taskManager: {
            ...taskManagerDefaults,
            state: { ...taskManagerDefaults.state, volumeSize: '20Gi' },
          },
        },
      },
      { index: 0, runId: 'r42', restartEpoch: 0, specHash: 'h' },
    );
    assert.deepEqual(
      ephemeral.spec?.volumes?.find((v) => v.name === 'state'),
      { name: 'state', emptyDir: { sizeLimit: '20Gi' } },
      'without persistentVolume, an emptyDir',
    );
    assert.equal(
      stateClaim({ ...job, spec: { ...job.spec, taskManager: taskManagerDefaults } }, 'orders-tm-0'),
      undefined,
      'and no claim',
    );
    assert.deepEqual(
      spec?.containers[0]?.volumeMounts?.find((m) => m.name === 'state'),
      { name: 'state', mountPath: stateVolumeMountPath },
    );
    assert.equal(resolved[processEnv.nodeOptions], '--max-old-space-size-percentage=60');
    const onHeap = taskManagerPod(
      {
        ...job,
        spec: {
          ...job.spec,
          taskManager: { ...taskManagerDefaults, state: { ...taskManagerDefaults.state, store: 'heap' } },
        },
      },
      { index: 0, runId: 'r42', restartEpoch: 0, specHash: 'h' },
    );
    assert.equal(
      onHeap.spec?.volumes?.some((v) => v.name === 'state'),
      false,
      'no state volume for heap state',
    );
    assert.equal(
      loadTaskManagerConfig(resolveFiles(onHeap, resolve(onHeap.spec?.containers[0]?.env ?? [])).env).state
        .store,
      'heap',
    );
  });

  it('credentials and keys travel as files of Secrets, never as values in the pod spec nor as variables', () => {
    const byName = new Map(env.map((v) => [v.name, v]));
    for (const name of credentialEnv) {
      assert.equal(byName.get(name), undefined, `${name} is not an environment variable`);
      assert.ok(files.includes(name), `${name} is a file of the credentials volume`);
    }
    const volume = pod.spec?.volumes?.find((v) => v.projected);
    assert.equal(volume?.projected?.defaultMode, 0o440, 'readable by the TaskManager’s group (fsGroup) only');
    assert.equal(pod.spec?.securityContext?.fsGroup, pod.spec?.securityContext?.runAsGroup);
    const text = JSON.stringify(pod);
    for (const secret of ['kafka-pass', 's3-secret', 'job-token', 'AKIA-TEST'])
      assert.ok(!text.includes(secret));
  });

  it('a missing Secret or key does not hold the pod in ContainerCreating: the runtime names it', () => {
    const volume = pod.spec?.volumes?.find((v) => v.projected);
    for (const source of volume?.projected?.sources ?? []) assert.equal(source.secret?.optional, true);
    // The kubelet leaves out the file of a key the Secret does not have.
    rmSync(join(resolved[taskManagerEnv.secretsDir] ?? '', taskManagerEnv.s3SecretKey));
    assert.throws(
      () => loadTaskManagerConfig(resolved),
      (error: Error & { code?: string; retriable?: boolean }) => {
        assert.equal(error.code, 'CREDENTIAL_MISSING');
        assert.equal(error.retriable, false);
        assert.equal(
          error.message,
          'the Secret "s3-keys" has no key "secretAccessKey", or does not exist in the job\'s namespace (it holds WEIR_S3_SECRET_KEY): create it or fix the reference in the StreamJob',
        );
        return true;
      },
    );
  });
});

describe('Kafka and S3 settings the runtime refuses', () => {
  // Credentials as variables here (a TaskManager run by hand): no mounted files to check.
  const base: Record<string, string> = {
    ...resolve(
      taskManagerPod(
        { ...job, spec: testingSpec() },
        { index: 0, runId: 'r', restartEpoch: 0, specHash: 'h' },
      ).spec?.containers[0]?.env ?? [],
    ),
    [taskManagerEnv.credentialSources]: '',
  };
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      'an unknown S3 addressing style',
      { [taskManagerEnv.s3AddressingStyle]: 'dns' },
      /WEIR_S3_ADDRESSING_STYLE must be one of path, virtual, got "dns"/,
    ],
    [
      'an S3 CA with an http endpoint',
      { [taskManagerEnv.s3Endpoint]: 'http://minio:9000', [taskManagerEnv.s3TlsCa]: pem('CERTIFICATE') },
      /WEIR_S3_TLS_CA is set, but endpoint http:\/\/minio:9000 uses no TLS/,
    ],
    ['an S3 CA that is not PEM', { [taskManagerEnv.s3TlsCa]: 'abc' }, /WEIR_S3_TLS_CA must hold PEM text/],
    [
      'an S3 endpoint that is not a URL',
      { [taskManagerEnv.s3Endpoint]: 'minio:9000' },
      /WEIR_S3_ENDPOINT must be an http:\/\/ or https:\/\/ URL/,
    ],
    [
      'an S3 access key without its secret',
      { [taskManagerEnv.s3AccessKey]: 'AKIA' },
      /WEIR_S3_ACCESS_KEY and WEIR_S3_SECRET_KEY must be set together/,
    ],
    [
      'an unknown protocol',
      { [taskManagerEnv.kafkaSecurityProtocol]: 'TLS' },
      /WEIR_KAFKA_SECURITY_PROTOCOL must be one of/,
    ],
    [
      'SASL without a password',
      { [taskManagerEnv.kafkaSecurityProtocol]: 'SASL_SSL', [taskManagerEnv.kafkaSaslUsername]: 'u' },
      /WEIR_KAFKA_SASL_PASSWORD is required/,
    ],
    [
      'a CA with a protocol without TLS',
      { [taskManagerEnv.kafkaTlsCa]: pem('CERTIFICATE') },
      /WEIR_KAFKA_TLS_CA is set, but security protocol PLAINTEXT uses no TLS/,
    ],
    [
      'a CA that is not PEM',
      { [taskManagerEnv.kafkaSecurityProtocol]: 'SSL', [taskManagerEnv.kafkaTlsCa]: 'abc' },
      /WEIR_KAFKA_TLS_CA must hold PEM text/,
    ],
    [
      'a certificate without its key',
      {
        [taskManagerEnv.kafkaSecurityProtocol]: 'SSL',
        [taskManagerEnv.kafkaTlsCertificate]: pem('CERTIFICATE'),
      },
      /must be set together/,
    ],
  ];
  for (const [what, change, error] of cases) {
    it(what, () => {
      assert.throws(
        () => loadTaskManagerConfig({ ...base, ...change }),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'INVALID_CONFIG');
          assert.match(e.message, error);
          return true;
        },
      );
    });
  }
});
