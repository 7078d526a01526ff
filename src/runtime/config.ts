import { parseDuration } from '../api/duration.ts';
import { parseSavepointRef } from '../api/savepoint-ref.ts';
import { RuntimeError } from './errors.ts';

export type CheckpointMode = 'exactly-once' | 'at-least-once';

/** A TaskManager's settings, all from the WEIR_* environment the operator's pod spec sets. */
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
  };
  storage:
    | {
        kind: 's3';
        url: string;
        region: string;
        endpoint?: string;
        accessKeyId?: string;
        secretAccessKey?: string;
      }
    | { kind: 'local'; directory: string };
  kafkaBootstrap: string;
  /** Start a new run from this savepoint (only while the run has no committed offsets). */
  restoreSavepoint?: string;
  /** Let a restore drop savepoint state of operator ids the pipeline no longer has. */
  allowNonRestoredState: boolean;
  control: { host: string; port: number; token: string };
  metricsPort: number;
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

function duration(env: NodeJS.ProcessEnv, name: string, fallback: string): number {
  try {
    return parseDuration(env[name] || fallback, name);
  } catch (error) {
    return fail(name, (error as Error).message);
  }
}

export function loadTaskManagerConfig(env: NodeJS.ProcessEnv = process.env): TaskManagerConfig {
  const parallelism = integer(env, 'WEIR_PARALLELISM', 1, 4096);
  const tasks = required(env, 'WEIR_TASKS')
    .split(',')
    .map((t) => Number(t.trim()));
  if (tasks.some((t) => !Number.isInteger(t) || t < 0 || t >= parallelism)) {
    fail('WEIR_TASKS', `must list task indexes from 0 to ${parallelism - 1}, got "${env.WEIR_TASKS}"`);
  }
  let args: Record<string, unknown>;
  try {
    args = JSON.parse(env.WEIR_ARGS || '{}') as Record<string, unknown>;
  } catch (error) {
    return fail('WEIR_ARGS', `is not JSON: ${(error as Error).message}`);
  }
  const mode = env.WEIR_CHECKPOINT_MODE || 'exactly-once';
  if (mode !== 'exactly-once' && mode !== 'at-least-once') {
    fail('WEIR_CHECKPOINT_MODE', `must be exactly-once or at-least-once, got "${mode}"`);
  }
  const localDirectory = env.WEIR_LOCAL_CHECKPOINT_DIR;
  const restoreSavepoint = env.WEIR_RESTORE_SAVEPOINT || undefined;
  if (restoreSavepoint !== undefined) {
    try {
      parseSavepointRef(restoreSavepoint);
    } catch (error) {
      fail('WEIR_RESTORE_SAVEPOINT', (error as Error).message);
    }
  }
  const allowNonRestored = env.WEIR_ALLOW_NON_RESTORED_STATE || 'false';
  if (allowNonRestored !== 'true' && allowNonRestored !== 'false') {
    fail('WEIR_ALLOW_NON_RESTORED_STATE', `must be true or false, got "${allowNonRestored}"`);
  }
  return {
    namespace: required(env, 'WEIR_NAMESPACE'),
    job: required(env, 'WEIR_JOB'),
    runId: required(env, 'WEIR_RUN_ID'),
    tasks,
    parallelism,
    entry: required(env, 'WEIR_ENTRY'),
    args,
    offsetGroup: required(env, 'WEIR_OFFSET_GROUP'),
    checkpoint: {
      mode,
      intervalMs: duration(env, 'WEIR_CHECKPOINT_INTERVAL', '10s'),
      timeoutMs: duration(env, 'WEIR_CHECKPOINT_TIMEOUT', '60s'),
      tolerableFailures: integer(env, 'WEIR_CHECKPOINT_TOLERABLE_FAILURES', 0, 1000, 3),
      retained: integer(env, 'WEIR_CHECKPOINT_RETAINED', 1, 100, 3),
    },
    storage: localDirectory
      ? { kind: 'local', directory: localDirectory }
      : {
          kind: 's3',
          url: required(env, 'WEIR_S3_URL'),
          region: env.WEIR_S3_REGION || 'us-east-1',
          ...(env.WEIR_S3_ENDPOINT ? { endpoint: env.WEIR_S3_ENDPOINT } : {}),
          ...(env.WEIR_S3_ACCESS_KEY ? { accessKeyId: env.WEIR_S3_ACCESS_KEY } : {}),
          ...(env.WEIR_S3_SECRET_KEY ? { secretAccessKey: env.WEIR_S3_SECRET_KEY } : {}),
        },
    kafkaBootstrap: required(env, 'WEIR_KAFKA_BOOTSTRAP'),
    ...(restoreSavepoint ? { restoreSavepoint } : {}),
    allowNonRestoredState: allowNonRestored === 'true',
    control: {
      host: env.POD_IP || '127.0.0.1',
      port: integer(env, 'WEIR_CONTROL_PORT', 0, 65535, 8081),
      token: required(env, 'WEIR_CONTROL_TOKEN'),
    },
    metricsPort: integer(env, 'WEIR_METRICS_PORT', 0, 65535, 9249),
  };
}
