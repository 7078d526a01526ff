#!/usr/bin/env node
/**
 * The `weir` command: the one entrypoint of the Weir image. The operator
 * Deployment runs `weir operator`; TaskManager pods run `weir taskmanager`.
 */
import { readFileSync } from 'node:fs';

interface Command {
  summary: string;
  run: (args: string[]) => Promise<void>;
}

const commands: Record<string, Command> = {
  operator: {
    summary: 'run the StreamJob operator (settings from WEIR_* environment variables)',
    run: async () => {
      await import('../operator/main.ts');
    },
  },
  version: {
    summary: 'print the Weir version',
    run: async () => {
      process.stdout.write(`weir ${packageVersion()}\n`);
    },
  },
};

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return manifest.version ?? 'unknown';
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: weir <command> [arguments]\n\ncommands:\n${lines.join('\n')}\n`;
}

const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
  process.stdout.write(usage());
} else {
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`weir: unknown command "${name}"\n\n${usage()}`);
    process.exitCode = 2;
  } else {
    await command.run(rest);
  }
}
