import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const initScript = join(dirname(fileURLToPath(import.meta.url)), 'container-init.sh');

export interface ContainerLaunch {
  netns: string;
  binds: { hostPath: string; mountPath: string; readOnly: boolean }[];
  readOnlyRoot: boolean;
  user?: { uid: number; gid: number };
  workingDir: string;
  argv: string[];
  env: Record<string, string>;
  logFile: string;
}

export interface ContainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One run of a container: a process group whose leader is the container's
 * command, in the pod's network namespace and a private mount namespace.
 */
export class ContainerProcess {
  readonly pid: number;
  readonly exited: Promise<ContainerExit>;
  private readonly child: ChildProcess;
  private done = false;

  constructor(launch: ContainerLaunch) {
    const args = ['netns', 'exec', launch.netns, '/bin/sh', initScript];
    for (const bind of launch.binds) {
      args.push(bind.readOnly ? '--bind-ro' : '--bind', bind.hostPath, bind.mountPath);
    }
    if (launch.readOnlyRoot) args.push('--ro-root');
    if (launch.user) args.push('--user', `${launch.user.uid}:${launch.user.gid}`);
    args.push('--cwd', launch.workingDir, '--', ...launch.argv);
    mkdirSync(dirname(launch.logFile), { recursive: true });
    const log = openSync(launch.logFile, 'a');
    try {
      this.child = spawn('ip', args, { env: launch.env, stdio: ['ignore', log, log], detached: true });
    } finally {
      closeSync(log);
    }
    if (this.child.pid === undefined) throw new Error(`could not start ${launch.argv[0]}`);
    this.pid = this.child.pid;
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.done = true;
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return !this.done;
  }

  /** SIGTERM to the container's main process, then SIGKILL to its whole group after the grace period. */
  async stop(graceMs: number): Promise<ContainerExit> {
    if (this.done) return this.exited;
    this.signal('SIGTERM', false);
    const timer = setTimeout(() => this.signal('SIGKILL', true), Math.max(0, graceMs));
    const exit = await this.exited;
    clearTimeout(timer);
    this.signal('SIGKILL', true);
    return exit;
  }

  kill(): void {
    this.signal('SIGKILL', true);
  }

  private signal(signal: NodeJS.Signals, group: boolean): void {
    try {
      process.kill(group ? -this.pid : this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}
