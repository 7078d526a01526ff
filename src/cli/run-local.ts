import { randomBytes } from 'node:crypto';
import { basename, extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadTaskManagerConfig, type TaskManagerConfig } from '../runtime/config.ts';
import { RuntimeError } from '../runtime/errors.ts';

export const runLocalUsage = `usage: weir run --local <job module> --bootstrap <host:port> [options]

Runs a job against a real Kafka with checkpoints in a local directory; every
task runs in this process. Stop it with Ctrl-C: it takes a last checkpoint.

options:
  --bootstrap <servers>     Kafka bootstrap servers (required)
  --checkpoint-dir <dir>    where snapshots go (default .weir/local/<job>)
  --parallelism <n>         tasks (default 1)
  --interval <duration>     checkpoint interval (default 10s)
  --mode <mode>             exactly-once (default) or at-least-once
  --args <json>             the job's args, as a StreamJob's spec.args
  --name <name>             job name for offsets and transactional ids (default: the module's file name)
  --control-port <port>     control API on 127.0.0.1 (default 8081; 0 picks one)
`;

/** The TaskManager configuration of a local run, from `weir run --local` arguments. */
export function localRunConfig(argv: string[]): TaskManagerConfig {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      local: { type: 'boolean' },
      bootstrap: { type: 'string' },
      'checkpoint-dir': { type: 'string' },
      parallelism: { type: 'string', default: '1' },
      interval: { type: 'string', default: '10s' },
      mode: { type: 'string', default: 'exactly-once' },
      args: { type: 'string', default: '{}' },
      name: { type: 'string' },
      'control-port': { type: 'string', default: '8081' },
    },
  });
  const fail = (problem: string): never => {
    throw new RuntimeError('INVALID_ARGUMENTS', `${problem}\n\n${runLocalUsage}`, false);
  };
  if (!values.local) fail('only --local runs exist; on a cluster, apply a StreamJob');
  const [entry, ...extra] = positionals;
  if (!entry || extra.length) fail('give exactly one job module');
  if (!values.bootstrap) fail('--bootstrap is required');
  const parallelism = Number(values.parallelism);
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 256)
    fail('--parallelism must be 1 to 256');
  const name = (values.name ?? basename(entry as string, extname(entry as string))).toLowerCase();
  if (!/^[a-z0-9][a-z0-9-]{0,49}$/.test(name)) fail(`job name "${name}" must be a DNS label; pass --name`);
  // The same parsing as in a pod, so a local run rejects what a cluster would.
  const env: NodeJS.ProcessEnv = {
    WEIR_NAMESPACE: 'local',
    WEIR_JOB: name,
    WEIR_RUN_ID: 'local',
    WEIR_TASKS: Array.from({ length: parallelism }, (_, i) => i).join(','),
    WEIR_PARALLELISM: String(parallelism),
    WEIR_ENTRY: resolve(entry as string),
    WEIR_ARGS: values.args,
    WEIR_OFFSET_GROUP: `weir.local.${name}.local`,
    WEIR_CHECKPOINT_MODE: values.mode,
    WEIR_CHECKPOINT_INTERVAL: values.interval,
    WEIR_LOCAL_CHECKPOINT_DIR: resolve(values['checkpoint-dir'] ?? `.weir/local/${name}`),
    WEIR_KAFKA_BOOTSTRAP: values.bootstrap,
    WEIR_CONTROL_PORT: values['control-port'],
    WEIR_METRICS_PORT: '0',
    WEIR_CONTROL_TOKEN: randomBytes(16).toString('hex'),
  };
  return loadTaskManagerConfig(env);
}
