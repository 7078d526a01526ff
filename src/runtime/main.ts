import type { Server } from 'node:http';
import { type Logger, pino } from 'pino';
import { progressWindowMs } from '../api/taskmanager-env.ts';
import { statefulOperatorIds } from '../sdk/pipeline.ts';
import type { CheckpointStorage } from '../storage/checkpoint-storage.ts';
import { FilesystemStorage } from '../storage/filesystem-storage.ts';
import { S3Storage } from '../storage/s3-storage.ts';
import type { TaskManagerConfig } from './config.ts';
import { endWatches, startControlServer, startMetricsServer } from './control/control-server.ts';
import { RuntimeError } from './errors.ts';
import { loadJobModule } from './job-module.ts';
import { createTaskMetrics } from './metrics.ts';
import { ProgressHealth } from './task/progress-health.ts';
import { StandbyTask } from './task/standby-task.ts';
import { StreamTask } from './task/stream-task.ts';
import type { StreamTaskDeps } from './task/task-deps.ts';
import { TaskManager } from './task-manager.ts';
import { writeTerminationMessage } from './termination-message.ts';

/** The job's storage, or with `url`, the storage at another s3:// URL with the same endpoint and credentials. */
function storageFor(config: TaskManagerConfig, url?: string): CheckpointStorage {
  const s = config.storage;
  if (s.kind === 'local') {
    if (url) {
      throw new RuntimeError(
        'SAVEPOINT_URL_UNSUPPORTED',
        `savepoint ${url}: an s3:// savepoint needs S3 checkpoint storage, and this job checkpoints to a local directory`,
        false,
      );
    }
    return new FilesystemStorage(s.directory);
  }
  return new S3Storage({
    url: url ?? s.url,
    region: s.region,
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    addressingStyle: s.addressingStyle,
    ...(s.tlsCa ? { tlsCa: s.tlsCa } : {}),
    ...(s.accessKeyId && s.secretAccessKey
      ? { credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } }
      : {}),
    requestTimeoutMs: config.checkpoint.timeoutMs,
  });
}

/**
 * A second line behind never logging credentials: fields that could carry one
 * (the configuration's Kafka security settings, S3 keys, the control token,
 * an Authorization header) are censored wherever a log line holds them.
 */
export const logRedaction = {
  // Each field at the top, one and two levels down (pino's wildcards match one level each).
  paths: [
    'password',
    'token',
    'secretAccessKey',
    'accessKeyId',
    'kafkaSecurity',
    'authorization',
    'sasl.password',
    'ssl.key.pem',
  ].flatMap((field) => {
    const key = /^[A-Za-z_$][\w$]*$/.test(field) ? field : `["${field}"]`;
    const below = key.startsWith('[') ? key : `.${key}`;
    return [key, `*${below}`, `*.*${below}`];
  }),
  censor: '[redacted]',
};

/**
 * pino writing synchronously: its default destination buffers writes for the
 * libuv thread pool, where librdkafka's blocking calls can hold every thread,
 * and a failing TaskManager that ends with SIGKILL (exitTaskManager) then lost
 * the log line of its failure (seen with a refused Kafka login).
 */
function taskManagerLogger(): Logger {
  return pino({ name: 'weir-taskmanager', redact: logRedaction }, pino.destination({ dest: 1, sync: true }));
}

/**
 * The TaskManager process: restores its tasks, serves the control API and
 * metrics, runs the tasks, and ends with exit code 0 after a requested stop
 * or SIGTERM, 1 after any task failure (the operator's restart strategy then
 * decides), having logged the failure's code.
 */
export async function runTaskManager(
  config: TaskManagerConfig,
  log: Logger = taskManagerLogger(),
  options: { shutdownTimeoutMs?: number; installSignalHandlers?: boolean } = {},
): Promise<number> {
  const jobLog = log.child({
    namespace: config.namespace,
    job: config.job,
    run: config.runId,
    pod: config.pod.name,
  });
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 20_000;
  const storage = storageFor(config);
  const job = await loadJobModule(config.entry, config.args);
  const tasks: StreamTask[] = [];
  const standbys: StandbyTask[] = [];
  const metrics = createTaskMetrics(
    {
      standbyLagOf: () =>
        new Map(
          standbys.flatMap((s) => {
            const lag = s.lag();
            return lag === null ? [] : [[s.label, lag]];
          }),
        ),
      lagOf: () => new Map(tasks.map((t) => [t.label.task, t.lag()])),
      watermarkLagOf: () =>
        new Map(
          tasks.flatMap((t) => {
            const lag = t.watermarkLagMs(Date.now());
            return lag === undefined ? [] : [[t.label.task, lag / 1000]];
          }),
        ),
      materializationLagOf: () =>
        new Map(
          tasks.flatMap((t) => (t.loggedState ? [[t.label.task, t.materializationLagMs() / 1000]] : [])),
        ),
      stateOf: () =>
        new Map(
          tasks.flatMap((t) => {
            const stats = t.stateStats();
            return stats ? [[t.label.task, stats]] : [];
          }),
        ),
    },
    config.job,
  );
  // Each pod runs its task indexes of every stage: a stage boundary is a Kafka topic, so a pod's tasks are
  // independent regions whatever their stage, and a job's pods stay alike (DESIGN.md, "Execution model").
  // A standby TaskManager warms each task's state in a StandbyTask, which hands it to the task when promoted.
  for (const stage of job.stages) {
    for (const index of config.tasks) {
      const deps: StreamTaskDeps = {
        config,
        index,
        job,
        stage,
        storage,
        storageAt: (url) => storageFor(config, url),
        metrics,
        log: jobLog,
        now: Date.now,
      };
      if (config.standby) {
        const standby = new StandbyTask(deps);
        standbys.push(standby);
        deps.warm = () => standby.handOver();
      }
      tasks.push(new StreamTask(deps));
    }
  }
  const health = new ProgressHealth(tasks, progressWindowMs(config.checkpoint), jobLog, Date.now);
  const taskManager = new TaskManager({
    config,
    tasks,
    standbys,
    storage,
    operatorIds: statefulOperatorIds(job),
    health,
    writeTerminationMessage,
    log: jobLog,
    now: Date.now,
    shutdownTimeoutMs,
  });
  const servers: Server[] = [];
  servers.push(
    await startControlServer({
      host: config.control.host,
      port: config.control.port,
      token: config.control.token,
      handlers: {
        ready: () => taskManager.ready,
        noProgress: () => health.check(),
        status: () => taskManager.status(),
        savepoint: (id) => taskManager.savepoint(id),
        disposeSavepoint: (id) => taskManager.disposeSavepoint(id),
        stop: (savepointId) => taskManager.stopForRequest(savepointId),
        promote: () => taskManager.promote(),
      },
    }),
  );
  servers.push(
    await startMetricsServer(config.control.host, config.metricsPort, metrics.registry, () =>
      taskManager.status(),
    ),
  );
  jobLog.info(
    { control: servers[0]?.address(), metrics: servers[1]?.address(), tasks: config.tasks },
    'serving',
  );
  if (options.installSignalHandlers !== false) {
    process.once('SIGTERM', () => taskManager.terminate());
    process.once('SIGINT', () => void taskManager.stop(undefined, 'SIGINT'));
  }
  if (config.standby) taskManager.startStandby();
  else if (await taskManager.restoreAll()) taskManager.runAll();
  const code = await taskManager.finished;
  await closeServers(servers);
  if (code !== 0) await taskManager.closeAfterFailure();
  return code;
}

/**
 * close() lets in-flight requests (a /v1/stop among them) finish their
 * responses before the process exits. A connection kept alive after its
 * response would hold close() until the keep-alive timeout (measured: the
 * stop of an upgrade took 3 s instead of 0.2 s), so idle connections are
 * closed as soon as they become idle. Bounded at 3 s.
 */
async function closeServers(servers: readonly Server[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            endWatches(server);
            const sweep = setInterval(() => server.closeIdleConnections(), 20);
            server.close(() => {
              clearInterval(sweep);
              resolve();
            });
            server.closeIdleConnections();
          }),
      ),
    ),
    new Promise((resolve) => {
      timer = setTimeout(resolve, 3_000);
    }),
  ]);
  clearTimeout(timer);
}
