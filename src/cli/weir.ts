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

/** A warning on the way out, in the TaskManager's JSON log format (the pino logger is out of reach here). */
function warnLine(msg: string): void {
  process.stdout.write(`${JSON.stringify({ level: 40, time: Date.now(), name: 'weir-taskmanager', msg })}\n`);
}

const commands: Record<string, Command> = {
  operator: {
    summary: 'run the StreamJob operator (settings from WEIR_* environment variables)',
    run: async () => {
      const { startOperator } = await import('../operator/main.ts');
      await startOperator();
    },
  },
  taskmanager: {
    summary: 'run TaskManager tasks (settings from the WEIR_* environment the operator sets on its pods)',
    run: async () => {
      const { loadTaskManagerConfig } = await import('../runtime/config.ts');
      const { runTaskManager } = await import('../runtime/main.ts');
      const { exitTaskManager } = await import('../runtime/exit.ts');
      await exitTaskManager(await runTaskManager(loadTaskManagerConfig()), warnLine);
    },
  },
  run: {
    summary: 'run a job locally: weir run --local <job module> --bootstrap <servers> (see weir run --help)',
    run: async (args) => {
      const { localRunConfig, runLocalUsage } = await import('./run-local.ts');
      if (args.includes('--help') || args.includes('-h')) {
        process.stdout.write(runLocalUsage);
        return;
      }
      const config = localRunConfig(args);
      const { runTaskManager } = await import('../runtime/main.ts');
      process.stderr.write(
        `control API token: ${config.control.token} (its address is in the "serving" log line)\n`,
      );
      const { exitTaskManager } = await import('../runtime/exit.ts');
      await exitTaskManager(await runTaskManager(config), warnLine);
    },
  },
  'kafka-acls': {
    summary: 'print the Kafka ACLs a job needs, as kafka-acls.sh commands (see weir kafka-acls --help)',
    run: async (args) => {
      const { kafkaAclsOutput, kafkaAclsUsage } = await import('./kafka-acls.ts');
      process.stdout.write(
        args.includes('--help') || args.includes('-h') ? kafkaAclsUsage : kafkaAclsOutput(args),
      );
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
    try {
      await command.run(rest);
    } catch (error) {
      // Coded errors (bad configuration, a job module that does not load) are the user's to fix: say what, not where.
      const coded = error as { code?: string; message?: string };
      if (name === 'taskmanager') {
        const { terminationMessage, writeTerminationMessage } = await import(
          '../runtime/termination-message.ts'
        );
        writeTerminationMessage(terminationMessage(error));
      }
      process.stderr.write(
        `weir ${name}: ${coded.code ? `${coded.code}: ` : ''}${coded.message ?? String(error)}\n`,
      );
      process.exitCode = coded.code ? 2 : 1;
    }
  }
}
