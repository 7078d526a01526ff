import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../api/duration.ts';
import { parseSavepointRef } from '../api/savepoint-ref.ts';
import {
  type CredentialSources,
  credentialEnv,
  defaultStateCacheBytes,
  taskManagerEnv as e,
  kafkaSaslMechanisms,
  kafkaSecurityProtocols,
  localOnlyEnv,
  type OffsetOutOfRangePolicy,
  offsetOutOfRangePolicies,
  type S3AddressingStyle,
  type StateStoreKind,
  s3AddressingStyle,
  s3AddressingStyles,
  s3EndpointPattern,
  stateStoreKinds,
} from '../api/taskmanager-env.ts';
import { RuntimeError } from './errors.ts';

export type CheckpointMode = 'exactly-once' | 'at-least-once';

/** A TaskManager's settings, all from the WEIR_* environment the operator's pod spec sets. */
/** Background materialization of logged state, unless spec.checkpoints.materializationInterval says otherwise. */
export const defaultMaterializationInterval = '1m';

export interface TaskManagerConfig {
  namespace: string;
  job: string;
  runId: string;
  tasks: number[];
  parallelism: number;
  entry: string;
  args: Record<string, unknown>;
  offsetGroup: string;
  checkpoint: {
    mode: CheckpointMode;
    intervalMs: number;
    timeoutMs: number;
    tolerableFailures: number;
    retained: number;
    /** Set only when the job sets it; progressWindowMs() gives the default. */
    progressWindowMs?: number;
    /** With a changelog: how often changed state is stored as sections in the background, at most. */
    materializationIntervalMs: number;
  };
  storage:
    | {
        kind: 's3';
        url: string;
        region: string;
        endpoint?: string;
        addressingStyle: S3AddressingStyle;
        /** PEM bundle trusted in addition to the system's CAs. */
        tlsCa?: string;
        accessKeyId?: string;
        secretAccessKey?: string;
      }
    | { kind: 'local'; directory: string };
  /**
   * Where keyed state lives: `directory` holds a disk store per task (the
   * pod's state volume; outside a pod a directory of this process under the
   * system's temporary directory), and `cacheBytes` is the heap the
   * TaskManager's stores may cache, shared by its tasks.
   */
  state: {
    store: StateStoreKind;
    directory: string | undefined;
    cacheBytes: number;
    /** The state volume persists (WEIR_STATE_LOCAL_RECOVERY): a graceful stop leaves the stores to reuse. */
    localRecovery?: boolean;
  };
  kafkaBootstrap: string;
  /** What a committed offset outside its partition's log leads to (spec.kafka.offsetOutOfRange). */
  offsetOutOfRange: OffsetOutOfRangePolicy;
  /** librdkafka settings for security (protocol, SASL, TLS), applied to every Kafka client of the TaskManager. */
  kafkaSecurity: Record<string, string>;
  /** Start a new run from this savepoint (only while the run has no committed offsets). */
  restoreSavepoint?: string;
  /** Let a restore drop savepoint state of operator ids the pipeline no longer has. */
  allowNonRestoredState: boolean;
  /**
   * Where the control and metrics servers listen: undefined is every address of the
   * pod's network namespace, so the kubelet's probes and the operator (the pod IP)
   * and `kubectl port-forward` (localhost inside the pod) all reach them. Outside a
   * pod (no POD_IP) only the loopback address.
   */
  control: { host: string | undefined; port: number; token: string };
  metricsPort: number;
  /** Which pod of the job this is, for the logs' context. */
  pod: { name: string; index: number };
  /** Started as a standby (WEIR_STANDBY): its tasks run only once promoted. */
  standby: boolean;
  /** A warm upgrade's new-version standby (WEIR_WARM_FROM_RUN): the run whose state it warms from. */
  warmFromRun?: string;
}

function fail(name: string, problem: string): never {
  throw new RuntimeError('INVALID_CONFIG', `${name} ${problem}`, false);
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') fail(name, 'is required');
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, min: number, max: number, fallback?: number): number {
  const raw = env[name];
  if ((raw === undefined || raw === '') && fallback !== undefined) return fallback;
  const value = Number(required(env, name));
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(name, `must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** The longest wait Node's timers keep (a longer one fires at once): about 24.8 days. */
const maxTimerMs = 2_147_483_647;

/** A duration a timer is set from: at least 1 ms, at most maxTimerMs. */
function duration(env: NodeJS.ProcessEnv, name: string, fallback: string): number {
  let ms: number;
  try {
    ms = parseDuration(env[name] || fallback, name);
  } catch (error) {
    return fail(name, (error as Error).message);
  }
  if (ms < 1 || ms > maxTimerMs)
    fail(name, `must be from 1ms to ${maxTimerMs} ms (Node's timers), got "${env[name]}"`);
  return ms;
}

function oneOf<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = env[name] || fallback;
  if (!allowed.includes(raw as T)) fail(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

/**
 * The PEM text in `name`, if set; `withoutTls` names what makes a PEM
 * meaningless here (a connection that uses no TLS), which is then an error.
 */
function pem(env: NodeJS.ProcessEnv, name: string, withoutTls: string | undefined): string | undefined {
  const text = env[name] || undefined;
  if (text === undefined) return undefined;
  if (withoutTls !== undefined) fail(name, `is set, but ${withoutTls} uses no TLS`);
  if (!text.includes('-----BEGIN ')) fail(name, 'must hold PEM text (-----BEGIN …)');
  return text;
}

/** Two variables that only mean something together: both set, or neither. */
function together(env: NodeJS.ProcessEnv, first: string, second: string, why = ''): void {
  if (Boolean(env[first]) !== Boolean(env[second])) fail(first, `and ${second} must be set together${why}`);
}

/**
 * The librdkafka security settings of the pod's environment. Secrets arrive
 * as values of variables the kubelet filled from Secret references; they are
 * never logged (the configuration is not).
 */
function kafkaSecurity(env: NodeJS.ProcessEnv): Record<string, string> {
  const protocol = oneOf(env, e.kafkaSecurityProtocol, kafkaSecurityProtocols, 'PLAINTEXT');
  const settings: Record<string, string> = { 'security.protocol': protocol.toLowerCase() };
  if (protocol.startsWith('SASL')) {
    settings['sasl.mechanisms'] = oneOf(env, e.kafkaSaslMechanism, kafkaSaslMechanisms, 'PLAIN');
    settings['sasl.username'] = required(env, e.kafkaSaslUsername);
    settings['sasl.password'] = required(env, e.kafkaSaslPassword);
  }
  const tls: [string, string][] = [
    [e.kafkaTlsCa, 'ssl.ca.pem'],
    [e.kafkaTlsCertificate, 'ssl.certificate.pem'],
    [e.kafkaTlsPrivateKey, 'ssl.key.pem'],
  ];
  for (const [name, setting] of tls) {
    const text = pem(env, name, protocol.endsWith('SSL') ? undefined : `security protocol ${protocol}`);
    if (text) settings[setting] = text;
  }
  together(env, e.kafkaTlsCertificate, e.kafkaTlsPrivateKey, ' (mutual TLS)');
  return settings;
}

function s3Storage(env: NodeJS.ProcessEnv): TaskManagerConfig['storage'] {
  const endpoint = env[e.s3Endpoint] || undefined;
  if (endpoint !== undefined && !new RegExp(s3EndpointPattern).test(endpoint)) {
    fail(e.s3Endpoint, `must be an http:// or https:// URL, got "${endpoint}"`);
  }
  const tlsCa = pem(env, e.s3TlsCa, endpoint?.startsWith('http://') ? `endpoint ${endpoint}` : undefined);
  together(env, e.s3AccessKey, e.s3SecretKey);
  return {
    kind: 's3',
    url: required(env, e.s3Url),
    region: env[e.s3Region] || 'us-east-1',
    ...(endpoint ? { endpoint } : {}),
    addressingStyle: oneOf(
      env,
      e.s3AddressingStyle,
      s3AddressingStyles,
      s3AddressingStyle(endpoint ? { endpoint } : {}),
    ),
    ...(tlsCa ? { tlsCa } : {}),
    ...(env[e.s3AccessKey] ? { accessKeyId: env[e.s3AccessKey] } : {}),
    ...(env[e.s3SecretKey] ? { secretAccessKey: env[e.s3SecretKey] } : {}),
  };
}

/**
 * The environment with each credential read from its file in WEIR_SECRETS_DIR
 * when there is one (a pod), else from the variable (a process run by hand).
 */
function withCredentialFiles(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // The loader asks for some credentials more than once (required, then checked together): each file is read once.
  const read = new Map<string, string>();
  return new Proxy(env, {
    get(target, name) {
      if (typeof name !== 'string' || !credentialEnv.has(name)) return target[name as string];
      const variable = target[name];
      const dir = target[e.secretsDir];
      const path = dir ? join(dir, name) : undefined;
      if (path && !read.has(path) && existsSync(path)) {
        try {
          read.set(path, readFileSync(path, 'utf8'));
        } catch (error) {
          fail(name, `cannot be read from ${path}: ${(error as Error).message}`);
        }
      }
      return (path && read.get(path)) ?? variable;
    },
  });
}

/**
 * In a pod, every credential the operator mounted must be there: its Secret
 * source is optional (so the pod starts rather than hangs in
 * ContainerCreating), and a missing one fails here naming the Secret and key.
 */
function checkCredentialSources(env: NodeJS.ProcessEnv): void {
  const raw = env[e.credentialSources];
  const dir = env[e.secretsDir];
  if (!raw || !dir) return;
  let sources: CredentialSources;
  try {
    sources = JSON.parse(raw) as CredentialSources;
  } catch (error) {
    fail(e.credentialSources, `is not JSON: ${(error as Error).message}`);
  }
  for (const [variable, source] of Object.entries(sources)) {
    if (existsSync(join(dir, variable))) continue;
    throw new RuntimeError(
      'CREDENTIAL_MISSING',
      `the Secret "${source?.secret}" has no key "${source?.key}", or does not exist in the job's namespace (it holds ${variable}): create it or fix the reference in the StreamJob`,
      false,
    );
  }
}

export function loadTaskManagerConfig(given: NodeJS.ProcessEnv = process.env): TaskManagerConfig {
  checkCredentialSources(given);
  const env = withCredentialFiles(given);
  const parallelism = integer(env, e.parallelism, 1, 4096);
  const tasks = required(env, e.tasks)
    .split(',')
    .map((t) => Number(t.trim()));
  if (tasks.some((t) => !Number.isInteger(t) || t < 0 || t >= parallelism)) {
    fail(e.tasks, `must list task indexes from 0 to ${parallelism - 1}, got "${env[e.tasks]}"`);
  }
  let args: Record<string, unknown>;
  try {
    args = JSON.parse(env[e.args] || '{}') as Record<string, unknown>;
  } catch (error) {
    return fail(e.args, `is not JSON: ${(error as Error).message}`);
  }
  const mode = env[e.checkpointMode] || 'exactly-once';
  if (mode !== 'exactly-once' && mode !== 'at-least-once') {
    fail(e.checkpointMode, `must be exactly-once or at-least-once, got "${mode}"`);
  }
  const localDirectory = env[localOnlyEnv.localCheckpointDir];
  const restoreSavepoint = env[e.restoreSavepoint] || undefined;
  if (restoreSavepoint !== undefined) {
    try {
      parseSavepointRef(restoreSavepoint);
    } catch (error) {
      fail(e.restoreSavepoint, (error as Error).message);
    }
  }
  const standby = env[e.standby] || 'false';
  if (standby !== 'true' && standby !== 'false') fail(e.standby, `must be true or false, got "${standby}"`);
  if (standby === 'true' && (env[e.checkpointMode] || 'exactly-once') !== 'exactly-once')
    fail(e.standby, 'needs WEIR_CHECKPOINT_MODE exactly-once: a standby tails the changelog');
  const localRecoveryText = env[e.stateLocalRecovery] || 'false';
  if (localRecoveryText !== 'true' && localRecoveryText !== 'false')
    fail(e.stateLocalRecovery, `must be true or false, got "${localRecoveryText}"`);
  const localRecovery = localRecoveryText === 'true';
  if (localRecovery && (env[e.stateStore] || 'disk') !== 'disk')
    fail(e.stateLocalRecovery, `needs ${e.stateStore} disk: only the disk store lives on the volume`);
  const warmFromRun = env[e.warmFromRun] || undefined;
  if (warmFromRun !== undefined && (standby !== 'true' || restoreSavepoint === undefined))
    fail(e.warmFromRun, `needs ${e.standby}=true and ${e.restoreSavepoint}: it warms a new run's standbys`);
  const allowNonRestored = env[e.allowNonRestoredState] || 'false';
  if (allowNonRestored !== 'true' && allowNonRestored !== 'false') {
    fail(e.allowNonRestoredState, `must be true or false, got "${allowNonRestored}"`);
  }
  return {
    namespace: required(env, e.namespace),
    job: required(env, e.job),
    runId: required(env, e.runId),
    tasks,
    parallelism,
    entry: required(env, e.entry),
    args,
    offsetGroup: required(env, e.offsetGroup),
    checkpoint: {
      mode,
      intervalMs: duration(env, e.checkpointInterval, '10s'),
      timeoutMs: duration(env, e.checkpointTimeout, '60s'),
      tolerableFailures: integer(env, e.checkpointTolerableFailures, 0, 1000, 3),
      retained: integer(env, e.checkpointRetained, 1, 100, 3),
      ...(env[e.progressWindow] ? { progressWindowMs: duration(env, e.progressWindow, '0s') } : {}),
      materializationIntervalMs: duration(env, e.materializationInterval, defaultMaterializationInterval),
    },
    storage: localDirectory ? { kind: 'local', directory: localDirectory } : s3Storage(env),
    state: {
      store: oneOf(env, e.stateStore, stateStoreKinds, 'disk'),
      directory: env[e.stateDir] || undefined,
      cacheBytes: integer(env, e.stateCacheBytes, 0, Number.MAX_SAFE_INTEGER, defaultStateCacheBytes),
      ...(localRecovery ? { localRecovery: true } : {}),
    },
    kafkaBootstrap: required(env, e.kafkaBootstrap),
    kafkaSecurity: kafkaSecurity(env),
    offsetOutOfRange: oneOf(env, e.kafkaOffsetOutOfRange, offsetOutOfRangePolicies, 'fail'),
    ...(restoreSavepoint ? { restoreSavepoint } : {}),
    allowNonRestoredState: allowNonRestored === 'true',
    control: {
      host: env[e.podIp] ? undefined : '127.0.0.1',
      port: integer(env, e.controlPort, 0, 65535, 8081),
      token: required(env, e.controlToken),
    },
    metricsPort: integer(env, e.metricsPort, 0, 65535, 9249),
    pod: { name: env[e.podName] || hostname(), index: integer(env, e.podIndex, 0, 4095, 0) },
    standby: standby === 'true',
    ...(warmFromRun ? { warmFromRun } : {}),
  };
}
