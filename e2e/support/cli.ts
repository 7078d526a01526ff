import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const repositoryRoot = join(import.meta.dirname, '..', '..');

/** Runs a command-line tool; a non-zero exit throws with the tool's stderr in the message. */
export function runTool(
  tool: string,
  args: string[],
  options: { allowFailure?: boolean; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      args,
      { cwd: repositoryRoot, maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000 },
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
