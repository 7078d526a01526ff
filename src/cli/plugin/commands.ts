import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { parseDuration } from '../../api/duration.ts';
import { taskManagerPodName } from '../../api/names.ts';
import type { StreamJob } from '../../api/streamjob.ts';
import { CodedError } from '../../errors.ts';
import { runningState, snapshotState, suspendedState, type WaitState, waitFor } from './actions.ts';
import type { PluginKube } from './kube.ts';
import { describe, rollbackStatus, statusTable, summarize } from './render.ts';

export const usage = `usage: kubectl weir <command> [JOB] [options]

commands:
  status                 the StreamJobs with phase, parallelism, checkpoint age, lag, restarts, last failure
  describe JOB           the job's rollout, checkpoints, savepoints, failures, TaskManagers and events
  savepoint JOB          take a savepoint now: creates a StreamJobSnapshot of the job
  suspend JOB            stop the job with a savepoint and remove its pods (spec.state: suspended)
  resume JOB             run a suspended job again, from its savepoint (spec.state: running)
  restart JOB            restart every task once (spec.restartNonce)
  rollback-status JOB    how the latest change rolled out: deployed, in progress, rolled back
  logs JOB               the TaskManagers' logs (--task N: the pod that runs task N)

options:
  -n, --namespace NS     the namespace (default: the kubeconfig context's)
  -A, --all-namespaces   status: every namespace
  -o, --output FORMAT    status, describe, rollback-status: json or yaml
  --wait                 savepoint, suspend, resume, restart: wait until done, showing progress
  --name NAME            savepoint: the StreamJobSnapshot's name (default: <job>-snapshot-<random>)
  --keep-on-delete       savepoint: deleting the StreamJobSnapshot leaves its objects in S3
  --timeout DURATION     how long --wait waits (default 5m)
  --task N               logs: only the pod running task N
  --tail N               logs: the last N lines of each pod
`;

export interface PluginIo {
  out: (text: string) => void;
  /** Progress and notes, apart from the result (stderr). */
  err: (text: string) => void;
  now: () => Date;
}

const commands = [
  'status',
  'describe',
  'savepoint',
  'suspend',
  'resume',
  'restart',
  'rollback-status',
  'logs',
];

function usageError(problem: string): never {
  throw new CodedError('INVALID_ARGUMENTS', `${problem}\n\n${usage}`, false);
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A', default: false },
      output: { type: 'string', short: 'o' },
      wait: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '5m' },
      task: { type: 'string' },
      tail: { type: 'string' },
      name: { type: 'string' },
      'keep-on-delete': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, job, ...extra] = positionals;
  if (values.help || command === undefined || command === 'help') return { help: true as const };
  if (!commands.includes(command)) usageError(`unknown command "${command}"`);
  if (command === 'status' ? job !== undefined : job === undefined || extra.length > 0)
    usageError(command === 'status' ? 'status takes no job name' : `${command} takes exactly one job name`);
  if ((values.name !== undefined || values['keep-on-delete']) && command !== 'savepoint')
    usageError('--name and --keep-on-delete go with savepoint');
  if (values.name !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(values.name))
    usageError(
      `--name "${values.name}" is not a valid resource name (lower-case letters, digits, "-" and ".")`,
    );
  if (values.output !== undefined && values.output !== 'json' && values.output !== 'yaml')
    usageError(`--output must be json or yaml, not "${values.output}"`);
  const count = (flag: 'task' | 'tail') => {
    const text = values[flag];
    if (text === undefined) return undefined;
    if (!/^[0-9]{1,9}$/.test(text)) usageError(`--${flag} must be a whole number, not "${text}"`);
    return Number(text);
  };
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(values.timeout, '--timeout');
  } catch (error) {
    usageError((error as Error).message);
  }
  return {
    help: false as const,
    command,
    job: job ?? '',
    namespace: values.namespace,
    allNamespaces: values['all-namespaces'],
    output: values.output as 'json' | 'yaml' | undefined,
    wait: values.wait,
    timeoutMs,
    task: count('task'),
    tail: count('tail'),
    name: values.name,
    keepOnDelete: values['keep-on-delete'],
  };
}

const formatted = (value: unknown, output: 'json' | 'yaml') =>
  output === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value);

/** Runs one command line; the exit code is its result (0 done, 1 the job or the request failed). */
export async function runPlugin(argv: string[], connect: () => PluginKube, io: PluginIo): Promise<number> {
  const args = parse(argv);
  if (args.help) {
    io.out(usage);
    return 0;
  }
  // Only now: help and a wrong command line need no cluster.
  const kube = connect();
  const namespace = args.namespace ?? kube.defaultNamespace;
  if (args.command === 'status') {
    const jobs = await kube.listJobs(args.allNamespaces ? undefined : namespace);
    const summaries = jobs.map((j) => summarize(j, io.now()));
    if (args.output) io.out(formatted(summaries, args.output));
    else if (summaries.length === 0)
      io.err(`No StreamJobs found in ${args.allNamespaces ? 'any namespace' : `namespace ${namespace}`}.\n`);
    else io.out(`${statusTable(summaries, args.allNamespaces)}\n`);
    return 0;
  }
  const job = await kube.getJob(namespace, args.job);
  switch (args.command) {
    case 'describe': {
      const [pods, events, snapshots] = await Promise.all([
        kube.pods(job),
        kube.events(job),
        kube.snapshots(job),
      ]);
      const reports = await Promise.all(
        pods
          .filter((p) => p.status?.phase === 'Running')
          .map(async (p) => {
            const pod = p.metadata?.name ?? '';
            try {
              return { pod, report: await kube.taskManagerReport(namespace, pod) };
            } catch (error) {
              return { pod, error: (error as Error).message };
            }
          }),
      );
      if (args.output)
        io.out(
          formatted(
            {
              ...summarize(job, io.now()),
              status: job.status ?? {},
              pods: pods.map((p) => ({
                name: p.metadata?.name,
                phase: p.status?.phase,
                node: p.spec?.nodeName,
              })),
              snapshots: snapshots.map((s) => ({ name: s.metadata.name, ...(s.status ?? {}) })),
              reports,
              events: events.map((e) => ({ type: e.type, reason: e.reason, message: e.message })),
            },
            args.output,
          ),
        );
      else io.out(`${describe(job, { pods, events, snapshots, reports }, io.now())}\n`);
      return 0;
    }
    case 'rollback-status':
      if (args.output)
        io.out(
          formatted(
            {
              generation: job.metadata.generation,
              deployed: job.status?.deployment?.generation ?? null,
              lastStable: job.status?.lastStableSpec?.generation ?? null,
              upgrade: job.status?.upgrade ?? null,
            },
            args.output,
          ),
        );
      else io.out(`${rollbackStatus(job)}\n`);
      return 0;
    case 'logs':
      return logs(kube, job, args, io);
    case 'savepoint':
      return takeSnapshot(kube, job, args, io);
    default:
      return change(kube, job, args.command, args, io);
  }
}

async function logs(
  kube: PluginKube,
  job: StreamJob,
  args: { task?: number | undefined; tail?: number | undefined },
  io: PluginIo,
): Promise<number> {
  const name = job.metadata.name ?? '';
  const namespace = job.metadata.namespace ?? '';
  const { parallelism, taskSlots } = job.spec;
  const pods = Math.ceil(parallelism / taskSlots);
  const slot = (index: number) => job.status?.standby?.activeSlots?.[index] ?? 0;
  if (args.task !== undefined && args.task >= parallelism)
    throw new CodedError(
      'INVALID_ARGUMENTS',
      `--task ${args.task}: the job has tasks 0 to ${parallelism - 1}`,
      false,
    );
  const indexes = args.task !== undefined ? [Math.floor(args.task / taskSlots)] : [...Array(pods).keys()];
  for (const index of indexes) {
    const pod = taskManagerPodName(name, index, slot(index));
    const text = await kube.podLog(namespace, pod, args.tail);
    if (indexes.length === 1) io.out(text);
    else for (const line of text.split('\n').filter(Boolean)) io.out(`[${pod}] ${line}\n`);
  }
  return 0;
}

/** The spec change each action makes, and what --wait waits for. */
function plan(command: string, job: StreamJob): { spec: Record<string, unknown>; note: string } {
  switch (command) {
    case 'restart': {
      const nonce = (job.spec.restartNonce ?? 0) + 1;
      return { spec: { restartNonce: nonce }, note: `restart requested (restartNonce ${nonce})` };
    }
    case 'suspend':
      if (job.spec.state === 'suspended') return { spec: {}, note: 'already suspended' };
      return { spec: { state: 'suspended' }, note: 'suspend requested' };
    default:
      if (job.spec.state !== 'suspended') return { spec: {}, note: 'not suspended' };
      return { spec: { state: 'running' }, note: 'resume requested' };
  }
}

async function change(
  kube: PluginKube,
  read: StreamJob,
  command: string,
  args: { wait: boolean; timeoutMs: number },
  io: PluginIo,
): Promise<number> {
  let job = read;
  let planned = plan(command, job);
  for (let attempt = 1; Object.keys(planned.spec).length > 0; attempt++) {
    try {
      job = await kube.patchSpec(job, planned.spec);
      break;
    } catch (error) {
      // Someone changed the job in between: read it again and make the change on top (a few times at most).
      if (!(error instanceof CodedError) || error.code !== 'CONFLICT' || attempt === 3) throw error;
      job = await kube.getJob(job.metadata.namespace ?? '', job.metadata.name ?? '');
      planned = plan(command, job);
    }
  }
  io.err(`streamjob ${job.metadata.namespace}/${job.metadata.name}: ${planned.note}\n`);
  if (!args.wait) return 0;
  const generation = job.metadata.generation ?? 0;
  const state: (j: StreamJob) => WaitState =
    command === 'suspend'
      ? (j) => suspendedState(j, generation)
      : (j) => runningState(j, generation, command === 'restart' ? job.spec.restartNonce : undefined);
  const started = io.now().getTime();
  const reread = () => kube.getJob(job.metadata.namespace ?? '', job.metadata.name ?? '');
  const outcome = await waitFor(reread, `${command} ${job.metadata.name}`, state, {
    timeoutMs: args.timeoutMs,
    onProgress: (p) => io.err(`  ${Math.round((io.now().getTime() - started) / 1000)}s: ${p}\n`),
  });
  io.out(`${outcome.result}\n`);
  return outcome.failed ? 1 : 0;
}

/** savepoint: a StreamJobSnapshot of the job, and with --wait its progress until Completed or Failed. */
async function takeSnapshot(
  kube: PluginKube,
  job: StreamJob,
  args: { wait: boolean; timeoutMs: number; name?: string | undefined; keepOnDelete: boolean },
  io: PluginIo,
): Promise<number> {
  const created = await kube.createSnapshot(job, { name: args.name, disposeOnDelete: !args.keepOnDelete });
  const namespace = created.metadata.namespace ?? job.metadata.namespace ?? '';
  const name = created.metadata.name ?? '';
  io.err(`streamjobsnapshot ${namespace}/${name} created: savepoint of ${job.metadata.name} requested\n`);
  if (!args.wait) {
    io.out(`${name}\n`);
    return 0;
  }
  const started = io.now().getTime();
  const outcome = await waitFor(() => kube.getSnapshot(namespace, name), `savepoint ${name}`, snapshotState, {
    timeoutMs: args.timeoutMs,
    onProgress: (p) => io.err(`  ${Math.round((io.now().getTime() - started) / 1000)}s: ${p}\n`),
  });
  io.out(`${outcome.result}\n`);
  return outcome.failed ? 1 : 0;
}
