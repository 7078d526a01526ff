import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';

export const repositoryRoot = join(import.meta.dirname, '..', '..');

/** Runs a command-line tool; a non-zero exit throws with the tool's stderr in the message. */
export function runTool(
  tool: string,
  args: string[],
  options: { allowFailure?: boolean; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      args,
      {
        cwd: repositoryRoot,
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 120_000,
        ...(options.env ? { env: options.env } : {}),
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        if (code !== 0 && !options.allowFailure) {
          reject(new Error(`${tool} ${args.join(' ')} exited ${code}: ${stderr.trim() || error?.message}`));
          return;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export async function kubectl(...args: string[]): Promise<string> {
  return (await runTool('kubectl', args)).stdout;
}

export async function helm(...args: string[]): Promise<string> {
  return (await runTool('helm', args)).stdout;
}

/**
 * `kubectl port-forward` to a pod's port from a free local port, as a user reaches a
 * TaskManager's metrics or control API; resolves once kubectl says it forwards.
 */
export function portForward(
  namespace: string,
  pod: string,
  port: number,
  timeoutMs = 30_000,
): Promise<{ url: string; close: () => void }> {
  const child = spawn('kubectl', ['port-forward', '-n', namespace, `pod/${pod}`, `:${port}`], {
    cwd: repositoryRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const close = () => void child.kill('SIGTERM');
  let output = '';
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      close();
      reject(new Error(`kubectl port-forward ${namespace}/${pod} :${port} ${why}: ${output.trim()}`));
    };
    const timer = setTimeout(() => fail(`did not forward within ${timeoutMs}ms`), timeoutMs);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const forwarding = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(output);
      if (!forwarding) return;
      clearTimeout(timer);
      resolve({ url: `http://127.0.0.1:${forwarding[1]}`, close });
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => fail(`exited ${code}`));
  });
}
