import type { Server } from 'node:http';
import { type Logger, pino } from 'pino';
import { savepointCompleteMessage, type TaskManagerStatusDocument } from '../api/control-api.ts';
import { progressWindowMs } from '../api/taskmanager-env.ts';
import { statefulOperatorIds } from '../sdk/pipeline.ts';
import type { CheckpointStorage } from '../storage/checkpoint-storage.ts';
import { FilesystemStorage } from '../storage/filesystem-storage.ts';
import { S3Storage } from '../storage/s3-storage.ts';
import { disposeSavepoint, writeManifestPart } from './checkpoint/savepoint-manifest.ts';
import type { TaskManagerConfig } from './config.ts';
import { RequestError, startControlServer, startMetricsServer } from './control/control-server.ts';
import { fencedTaskError, RuntimeError } from './errors.ts';
import { loadJobModule } from './job-module.ts';
import { createTaskMetrics } from './metrics.ts';
import { snapshotFormatVersion } from './state/snapshot-format.ts';
import { ProgressHealth } from './task/progress-health.ts';
import { type CheckpointReport, StreamTask } from './task/stream-task.ts';
import { terminationMessage, writeTerminationMessage } from './termination-message.ts';

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

/** What a stop ended with: each task's last report, and with a savepoint, its recorded manifest part or why not. */
interface StopOutcome {
  reports: (CheckpointReport | undefined)[];
  recorded?: { savepointId: string; manifest: string; tasks: (CheckpointReport | undefined)[] } | Error;
}

/** How long a failing TaskManager gives its Kafka clients to close. */
const failedCloseMs = 2_000;

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
  const metrics = createTaskMetrics(() => new Map(tasks.map((t) => [t.label.task, t.lag()])));
  // Each pod runs its task indexes of every stage: a stage boundary is a Kafka topic, so a pod's tasks are
  // independent regions whatever their stage, and a job's pods stay alike (DESIGN.md, "Execution model").
  for (const stage of job.stages) {
    for (const index of config.tasks) {
      tasks.push(
        new StreamTask({
          config,
          index,
          job,
          stage,
          storage,
          storageAt: (url) => storageFor(config, url),
          metrics,
          log: jobLog,
          now: Date.now,
        }),
      );
    }
  }
  let ready = false;
  let running: Promise<void>[] = [];
  let stopping: Promise<StopOutcome> | undefined;
  /** The savepoint the stop under way takes, if any. */
  let stoppingWith: string | undefined;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });

  /**
   * Stops every task, with a savepoint when asked. A savepoint's manifest part
   * and the termination message that says so are written before the process
   * may end: an exit that raced them (the response still in flight when the
   * servers closed) left a pod that stopped cleanly without its part.
   */
  const stop = (savepointId: string | undefined, reason: string): Promise<StopOutcome> => {
    if (!stopping) {
      jobLog.info(
        { reason, savepointId },
        'stopping: finishing the current batch and taking a last checkpoint',
      );
      stoppingWith = savepointId;
      stopping = (async () => {
        const timer = setTimeout(() => {
          jobLog.error(
            { shutdownTimeoutMs },
            'stop did not finish in time; exiting with uncommitted work aborted',
          );
          finish(1);
        }, shutdownTimeoutMs);
        const reports = await Promise.all(tasks.map((t, i) => stopTask(t, running[i], savepointId)));
        let recorded: StopOutcome['recorded'];
        if (savepointId) {
          recorded = await recordSavepoint(savepointId, reports).catch((error: unknown) => error as Error);
          if (!(recorded instanceof Error)) writeTerminationMessage(savepointCompleteMessage(savepointId));
        }
        clearTimeout(timer);
        finish(0);
        return { reports, recorded };
      })();
    }
    return stopping;
  };

  /**
   * One task's stop. A first-stage task ends its loop and takes its part of
   * the savepoint in its last commit, barriers included. A task behind a
   * repartition topic first runs on until the barriers of every upstream task
   * (in this pod or another) arrived and its part is taken at the cut; then
   * it stops with a plain last commit.
   */
  const stopTask = async (
    t: StreamTask,
    run: Promise<void> | undefined,
    savepointId: string | undefined,
  ): Promise<CheckpointReport | undefined> => {
    let cut: CheckpointReport | undefined;
    if (savepointId && t.stage > 0 && run) {
      cut = await t.savepoint(savepointId).catch((error: unknown) => {
        jobLog.warn({ err: error, task: t.label.task }, 'savepoint at the barrier cut failed');
        return undefined;
      });
    }
    t.requestStop();
    await run?.catch(() => undefined);
    const last = await t.close({
      finalCheckpoint: true,
      ...(savepointId && t.stage === 0 ? { savepointId } : {}),
    });
    return t.stage > 0 && savepointId ? cut : last;
  };

  /** Every task's savepoint report, and this TaskManager's part of the savepoint manifest. */
  const recordSavepoint = async (id: string, reports: (CheckpointReport | undefined)[]) => {
    if (reports.some((r) => r === undefined)) {
      throw new RuntimeError(
        'SAVEPOINT_FAILED',
        `savepoint ${id}: a snapshot upload failed; try again`,
        true,
      );
    }
    const manifest = await writeManifestPart(storage, {
      formatVersion: snapshotFormatVersion,
      savepointId: id,
      namespace: config.namespace,
      job: config.job,
      runId: config.runId,
      parallelism: config.parallelism,
      tasks: config.tasks,
      createdAt: new Date().toISOString(),
      operatorIds: statefulOperatorIds(job),
      partitions: reports.flatMap((r) => r?.partitions ?? []),
    });
    return { savepointId: id, manifest, tasks: reports };
  };

  const health = new ProgressHealth(tasks, progressWindowMs(config.checkpoint), jobLog, Date.now);
  const servers: Server[] = [];
  servers.push(
    await startControlServer({
      host: config.control.host,
      port: config.control.port,
      token: config.control.token,
      handlers: {
        ready: () => ready,
        noProgress: () => health.check(),
        status: (): TaskManagerStatusDocument => ({
          job: config.job,
          runId: config.runId,
          ready,
          tasks: tasks.map((t) => t.status()),
        }),
        savepoint: async (id) => recordSavepoint(id, await Promise.all(tasks.map((t) => t.savepoint(id)))),
        disposeSavepoint: async (id) => {
          if (id === config.restoreSavepoint) {
            throw new RequestError(
              409,
              'SAVEPOINT_IN_USE',
              `savepoint ${id} is the one this run restores from; it is not deleted`,
            );
          }
          const deleted = await disposeSavepoint(storage, config.namespace, config.job, id);
          jobLog.info({ savepoint: id, objects: deleted }, 'deleted a savepoint dropped from the history');
          return { savepointId: id, deletedObjects: deleted };
        },
        stop: async (savepointId) => {
          const { reports, recorded } = await stop(savepointId, 'control API');
          if (!savepointId) return { stopped: true, tasks: reports };
          if (stoppingWith !== savepointId) {
            throw new RuntimeError(
              'SAVEPOINT_FAILED',
              `savepoint ${savepointId}: this TaskManager was already stopping ${stoppingWith ? `with savepoint ${stoppingWith}` : 'without a savepoint'}`,
              true,
            );
          }
          if (recorded instanceof Error || recorded === undefined) throw recorded;
          // The termination message (written in stop()) tells an operator that restarts before it hears this answer.
          return { stopped: true, ...recorded };
        },
      },
    }),
  );
  servers.push(await startMetricsServer(config.control.host, config.metricsPort, metrics.registry));
  jobLog.info(
    { control: servers[0]?.address(), metrics: servers[1]?.address(), tasks: config.tasks },
    'serving',
  );

  // The first failure is the cause; what fails after it is usually its consequence.
  let causeWritten = false;
  const writeCause = (cause: unknown) => {
    if (!causeWritten) causeWritten = writeTerminationMessage(terminationMessage(cause));
  };
  const failed = (task: StreamTask, error: unknown) => {
    const fenced = fencedTaskError(task.index, error);
    if (fenced) {
      writeCause(fenced);
      jobLog.error({ task: task.index, err: error, code: fenced.code }, fenced.message);
    } else {
      const coded = error as { code?: string; retriable?: boolean };
      writeCause(error);
      jobLog.error(
        { task: task.index, err: error, code: coded.code, retriable: coded.retriable },
        'task failed',
      );
    }
    task.fail();
    for (const t of tasks) t.requestStop();
    finish(1);
  };
  if (options.installSignalHandlers !== false) {
    process.once('SIGTERM', () => {
      // A kubelet that stops a TaskManager whose liveness fails for want of progress: the stop could not commit
      // anyway, so the process ends failed at once, saying why (the operator carries it into the job's status).
      const stalled = health.check();
      if (!stalled) return void stop(undefined, 'SIGTERM');
      writeCause(stalled);
      jobLog.error({ stalled: stalled.stalled, code: stalled.code }, 'stopped for want of progress');
      for (const t of tasks) t.requestStop();
      finish(1);
    });
    process.once('SIGINT', () => void stop(undefined, 'SIGINT'));
  }
  // One request before any task restores: wrong credentials, a missing bucket or an untrusted certificate end the
  // TaskManager at once with that cause, instead of as a checkpoint failure a few intervals later.
  const storageUsable = storage.check();
  const restored = await Promise.all(
    tasks.map((t) =>
      storageUsable
        .then(() => t.restore())
        .then(
          () => true,
          (error: unknown) => {
            failed(t, error);
            return false;
          },
        ),
    ),
  );
  if (restored.every(Boolean)) {
    ready = true;
    running = tasks.map((t) => t.run().catch((error: unknown) => failed(t, error)));
  }
  const code = await finished;
  // close() lets in-flight requests (a /v1/stop among them) finish their responses before the process exits.
  // A connection kept alive after its response would hold close() until the keep-alive timeout (measured: the
  // stop of an upgrade took 3 s instead of 0.2 s), so idle connections are closed as soon as they become idle.
  await Promise.race([
    Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            const sweep = setInterval(() => server.closeIdleConnections(), 20);
            server.close(() => {
              clearInterval(sweep);
              resolve();
            });
            server.closeIdleConnections();
          }),
      ),
    ),
    new Promise((resolve) => setTimeout(resolve, 3_000)),
  ]);
  if (code !== 0) {
    // Clients are closed without a checkpoint: the open transaction is aborted by the broker or by the next attempt.
    // Bounded tightly: the failure may be a broker out of reach, and the replacement pod, which has this pod's
    // name, cannot start before this one has ended.
    await Promise.race([
      Promise.allSettled(tasks.map((t) => t.close({ finalCheckpoint: false }))),
      new Promise((r) => setTimeout(r, failedCloseMs)),
    ]);
  }
  return code;
}
