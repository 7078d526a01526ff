import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { repositoryRoot } from './cli.ts';
import { requireEnv } from './cluster.ts';

export interface TaskManagerSettings {
  job: string;
  runId: string;
  input: string;
  output: string;
  parallelism: number;
  tasks: number[];
  mode?: 'exactly-once' | 'at-least-once';
  interval?: string;
  timeout?: string;
  tolerableFailures?: number;
  s3Endpoint?: string;
  deadLetterTopic?: string;
  token?: string;
  /** The job module under src/jobs (keyed-count unless set). */
  entry?: 'keyed-count' | 'keyed-count-sum';
  /** spec.checkpoints.materializationInterval (the runtime's default unless set). */
  materializationInterval?: string;
  /**
   * spec.checkpoints.progressWindow: 60s unless set. These tests judge what the
   * tasks commit, not their liveness; with the runtime's default (2 intervals
   * plus the timeout, 5.6 s here) a commit slowed by the suites running side by
   * side made a TaskManager end NO_PROGRESS at a SIGTERM meant as a graceful stop.
   */
  progressWindow?: string;
}

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** The environment the operator gives a TaskManager pod, for a TaskManager run as a process on this host. */
export function taskManagerEnv(s: TaskManagerSettings, namespace = 'e2e'): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    WEIR_NAMESPACE: namespace,
    WEIR_JOB: s.job,
    WEIR_RUN_ID: s.runId,
    WEIR_TASKS: s.tasks.join(','),
    WEIR_PARALLELISM: String(s.parallelism),
    WEIR_ENTRY: `${repositoryRoot}/src/jobs/${s.entry ?? 'keyed-count'}.ts`,
    WEIR_ARGS: JSON.stringify({
      input: s.input,
      output: s.output,
      ...(s.deadLetterTopic ? { deadLetterTopic: s.deadLetterTopic } : {}),
    }),
    WEIR_OFFSET_GROUP: `weir.${namespace}.${s.job}.${s.runId}`,
    WEIR_CHECKPOINT_MODE: s.mode ?? 'exactly-once',
    WEIR_CHECKPOINT_INTERVAL: s.interval ?? '300ms',
    WEIR_CHECKPOINT_TIMEOUT: s.timeout ?? '5s',
    WEIR_CHECKPOINT_TOLERABLE_FAILURES: String(s.tolerableFailures ?? 3),
    WEIR_CHECKPOINT_RETAINED: '2',
    WEIR_PROGRESS_WINDOW: s.progressWindow ?? '60s',
    ...(s.materializationInterval ? { WEIR_MATERIALIZATION_INTERVAL: s.materializationInterval } : {}),
    WEIR_S3_URL: `s3://${requireEnv('WEIR_S3_BUCKET')}/e2e-runtime`,
    WEIR_S3_ENDPOINT: s.s3Endpoint ?? requireEnv('WEIR_S3_ENDPOINT'),
    WEIR_S3_REGION: 'us-east-1',
    WEIR_S3_ACCESS_KEY: requireEnv('WEIR_S3_ACCESS_KEY'),
    WEIR_S3_SECRET_KEY: requireEnv('WEIR_S3_SECRET_KEY'),
    WEIR_KAFKA_BOOTSTRAP: requireEnv('WEIR_KAFKA_BOOTSTRAP'),
    WEIR_CONTROL_PORT: '0',
    WEIR_METRICS_PORT: '0',
    WEIR_CONTROL_TOKEN: s.token ?? randomBytes(16).toString('hex'),
  };
}

/** `weir taskmanager` as a child process, with its pino log lines parsed as they arrive. */
export class TaskManagerProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly exited: Promise<number | null>;
  private readonly waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  stderr = '';
  /** The signal that ended the process, if one did. */
  exitSignal: string | undefined;

  /** How the process ended and what it said last: the message of an assertion on its exit. */
  exitReport(): string {
    const last = this.lines.slice(-8).map((l) => JSON.stringify(l));
    return [
      this.exitSignal ? `ended by ${this.exitSignal}` : `exit code ${this.child.exitCode}`,
      `stderr: ${this.stderr.trim() || '(none)'}`,
      'last log lines:',
      ...last,
    ].join('\n');
  }

  /** `root`: the checkout whose `weir` runs (another commit's, for a benchmark's A/B). */
  constructor(env: NodeJS.ProcessEnv, root = repositoryRoot) {
    this.child = spawn(process.execPath, [`${root}/src/cli/weir.ts`, 'taskmanager'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exitSignal = signal ?? undefined;
        resolve(signal ? null : code);
      }),
    );
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { level: 30, msg: text };
      }
      this.lines.push(line);
      for (const w of this.waiters.splice(0)) {
        if (w.match(line)) w.resolve(line);
        else this.waiters.push(w);
      }
    });
  }

  /** The first log line (already seen or still to come) that matches, bounded by time. */
  waitForLog(what: string, match: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const tail = this.lines.slice(-5).map((l) => l.msg);
        reject(
          new Error(
            `timed out after ${timeoutMs}ms waiting for log "${what}"; last: ${JSON.stringify(tail)} ${this.stderr}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void this.exited.then(() =>
        setTimeout(() => {
          clearTimeout(timer);
          reject(
            new Error(
              `process exited before log "${what}"; last: ${JSON.stringify(this.lines.slice(-3))} ${this.stderr}`,
            ),
          );
        }, 50),
      );
    });
  }

  /** Waits for the next line matching after now (ignores earlier ones). */
  waitForNextLog(what: string, match: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const from = this.lines.length;
    return this.waitForLog(what, (l) => this.lines.indexOf(l) >= from && match(l), timeoutMs);
  }

  async controlUrl(): Promise<string> {
    const serving = await this.waitForLog('serving', (l) => l.msg === 'serving');
    const address = (serving.control as { address: string; port: number }) ?? { address: '', port: 0 };
    return `http://${address.address}:${address.port}`;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

export function count(lines: LogLine[], msg: string): number {
  return lines.filter((l) => l.msg === msg).length;
}

/** The TaskManager processes a suite started, so its after() hook can kill whatever is left. */
export class TaskManagers {
  private readonly started: TaskManagerProcess[] = [];

  start(settings: TaskManagerSettings, extraEnv: NodeJS.ProcessEnv = {}): TaskManagerProcess {
    const tm = new TaskManagerProcess({ ...taskManagerEnv(settings), ...extraEnv });
    this.started.push(tm);
    return tm;
  }

  killAll(): void {
    for (const tm of this.started) tm.signal('SIGKILL');
  }
}
