import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { parseDuration } from '../api/duration.ts';

export interface OperatorConfig {
  /** Empty means every namespace. */
  watchNamespaces: string[];
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  healthHost: string;
  healthPort: number;
  concurrency: number;
  nodeLostTimeoutMs: number;
  /** The Secret in leaseNamespace holding the key job control tokens are derived from. */
  controlKeySecret: string;
  /** How often a Running job's TaskManagers are asked for their checkpoint progress. */
  statusPollIntervalMs: number;
  /** Leader election: how long a lease holds, how long the leader tries to renew, how often replicas try. */
  lease: LeaseTimings;
  logLevel: string;
  /**
   * Whether each job gets a NetworkPolicy letting only the operator's pods
   * (these labels, in leaseNamespace) reach its TaskManagers' control port.
   */
  networkPolicy: { enabled: boolean; operatorPodLabels: Record<string, string> };
}

export interface LeaseTimings {
  durationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  readonly retriable = false;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function pollInterval(env: NodeJS.ProcessEnv): number {
  const ms = parseDuration(env.WEIR_STATUS_POLL_INTERVAL || '30s', 'WEIR_STATUS_POLL_INTERVAL');
  if (ms < 1000)
    throw new ConfigError(
      `WEIR_STATUS_POLL_INTERVAL must be at least 1s, got "${env.WEIR_STATUS_POLL_INTERVAL}"`,
    );
  return ms;
}

/**
 * The lease timings, held to client-go's rules so that a leader always
 * gives up before its lease can pass to a standby: duration > renew deadline
 * > 1.2 × retry period (the jitter client-go allows a retry). The Lease
 * object holds whole seconds, so the duration is too.
 */
function leaseTimings(env: NodeJS.ProcessEnv): LeaseTimings {
  const read = (name: string, fallback: string) => ({
    name,
    raw: env[name] || fallback,
    ms: parseDuration(env[name] || fallback, name),
  });
  const duration = read('WEIR_LEASE_DURATION', '15s');
  const renew = read('WEIR_LEASE_RENEW_DEADLINE', '10s');
  const retry = read('WEIR_LEASE_RETRY_PERIOD', '2s');
  if (duration.ms < 1000 || duration.ms % 1000 !== 0)
    throw new ConfigError(
      `WEIR_LEASE_DURATION must be a whole number of seconds, at least 1s, got "${duration.raw}"`,
    );
  if (renew.ms >= duration.ms)
    throw new ConfigError(
      `WEIR_LEASE_RENEW_DEADLINE (${renew.raw}) must be shorter than WEIR_LEASE_DURATION (${duration.raw})`,
    );
  if (retry.ms < 100 || retry.ms * 1.2 >= renew.ms)
    throw new ConfigError(
      `WEIR_LEASE_RETRY_PERIOD (${retry.raw}) must be at least 100ms and, times 1.2, shorter than WEIR_LEASE_RENEW_DEADLINE (${renew.raw})`,
    );
  return { durationMs: duration.ms, renewDeadlineMs: renew.ms, retryPeriodMs: retry.ms };
}

const labelKey =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const labelValue = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/**
 * WEIR_NETWORK_POLICY (true or false; the chart sets true unless
 * networkPolicy.enabled is false) and WEIR_OPERATOR_POD_LABELS, the
 * operator pods' labels as `key=value,...`, which the policy admits.
 */
function networkPolicy(env: NodeJS.ProcessEnv): OperatorConfig['networkPolicy'] {
  const raw = env.WEIR_NETWORK_POLICY || 'false';
  if (raw !== 'true' && raw !== 'false') {
    throw new ConfigError(`WEIR_NETWORK_POLICY must be true or false, got "${raw}"`);
  }
  const operatorPodLabels: Record<string, string> = {};
  for (const pair of (env.WEIR_OPERATOR_POD_LABELS ?? '').split(',').filter((p) => p.trim())) {
    const [key = '', value = '', ...rest] = pair.trim().split('=');
    if (rest.length || !labelKey.test(key) || !labelValue.test(value)) {
      throw new ConfigError(
        `WEIR_OPERATOR_POD_LABELS must be key=value pairs separated by commas; "${pair}" is not one`,
      );
    }
    operatorPodLabels[key] = value;
  }
  if (raw === 'true' && Object.keys(operatorPodLabels).length === 0) {
    throw new ConfigError(
      "WEIR_NETWORK_POLICY=true needs WEIR_OPERATOR_POD_LABELS (the operator pods' labels, key=value,...): without them the policy would admit every pod of the operator's namespace or none",
    );
  }
  return { enabled: raw === 'true', operatorPodLabels };
}

/** Operator settings, from WEIR_OPERATOR_* environment variables (the Helm chart sets them). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const namespaces = (env.WEIR_WATCH_NAMESPACES ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const leaseName = env.WEIR_LEADER_ELECTION_ID || 'weir-operator';
  return {
    watchNamespaces: namespaces,
    leaseNamespace: env.WEIR_OPERATOR_NAMESPACE || env.POD_NAMESPACE || 'default',
    leaseName,
    identity: `${env.POD_NAME || hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    healthHost: env.WEIR_OPERATOR_HEALTH_HOST || '0.0.0.0',
    healthPort: integer(env, 'WEIR_OPERATOR_HEALTH_PORT', 8080, 0, 65535),
    concurrency: integer(env, 'WEIR_OPERATOR_CONCURRENCY', 8, 1, 256),
    nodeLostTimeoutMs: parseDuration(env.WEIR_NODE_LOST_TIMEOUT || '30s', 'WEIR_NODE_LOST_TIMEOUT'),
    controlKeySecret: env.WEIR_CONTROL_KEY_SECRET || `${leaseName}-control-key`,
    statusPollIntervalMs: pollInterval(env),
    lease: leaseTimings(env),
    logLevel: env.WEIR_LOG_LEVEL || 'info',
    networkPolicy: networkPolicy(env),
  };
}
