import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './cluster.ts';

const root = join(import.meta.dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface OperatorProcess {
  process: ChildProcess;
  port: number;
  logFile: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  metrics(): Promise<string>;
  /** Waits for a JSON log line of this process (not of an earlier one that wrote the same file). */
  waitForLog(what: string, match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

export type LogLine = Record<string, unknown> & { msg?: string };

/**
 * Runs the operator out of cluster, as `npm run operator` does, scoped to the
 * test's namespaces and with its own lease so suites cannot interfere.
 */
export async function startOperator(options: {
  name: string;
  watchNamespaces: string[];
  leaseName: string;
  leaseNamespace: string;
  env?: Record<string, string>;
  /** The operator's entry: this checkout's source (the default, as `npm run operator`) or its build in dist/. */
  build?: 'source' | 'dist';
  /** How long its caches may take to fill before /readyz answers (the first list of every object). */
  readyTimeoutMs?: number;
  /** A command the operator runs under, e.g. one that puts it in a memory cgroup first. */
  prefix?: string[];
}): Promise<OperatorProcess> {
  const port = await freePort();
  const logDir = join(process.env.WEIR_HARNESS_LOGS ?? join(root, '.weir'), 'operator');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${options.name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  let logStart = 0;
  try {
    logStart = statSync(logFile).size;
  } catch {
    // a new file: this process's lines start at 0
  }
  const entry =
    options.build === 'dist' ? join(root, 'dist', 'cli', 'weir.js') : join(root, 'src', 'cli', 'weir.ts');
  const [command, ...args] = [...(options.prefix ?? []), process.execPath, entry, 'operator'];
  const child = spawn(command as string, args, {
    env: {
      ...process.env,
      WEIR_WATCH_NAMESPACES: options.watchNamespaces.join(','),
      WEIR_LEADER_ELECTION_ID: options.leaseName,
      WEIR_OPERATOR_NAMESPACE: options.leaseNamespace,
      WEIR_OPERATOR_HEALTH_HOST: '127.0.0.1',
      WEIR_OPERATOR_HEALTH_PORT: String(port),
      WEIR_NODE_LOST_TIMEOUT: '10s',
      WEIR_STATUS_POLL_INTERVAL: '2s',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(
    `operator ${options.name} to be ready (log: ${logFile})`,
    options.readyTimeoutMs ?? 30_000,
    async () => {
      if (child.exitCode !== null) throw new Error(`operator exited with ${child.exitCode}; see ${logFile}`);
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return response?.ok;
    },
  );
  return {
    process: child,
    port,
    logFile,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    async metrics() {
      return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    },
    async waitForLog(what, match, timeoutMs = 60_000) {
      return waitFor(`operator log: ${what} (${logFile})`, timeoutMs, async () => {
        const text = readFileSync(logFile).subarray(logStart).toString('utf8');
        for (const raw of text.split('\n')) {
          if (!raw.startsWith('{')) continue;
          const line = JSON.parse(raw) as LogLine;
          if (match(line)) return line;
        }
        return undefined;
      });
    },
  };
}

/** The operator a suite runs for its own namespace: it watches only that namespace and holds its Lease there. */
export function startNamespaceOperator(
  namespace: string,
  env?: Record<string, string>,
): Promise<OperatorProcess> {
  return startOperator({
    name: namespace,
    watchNamespaces: [namespace],
    leaseName: 'weir-operator',
    leaseNamespace: namespace,
    ...(env ? { env } : {}),
  });
}
