import { type ClientRequest, request } from 'node:http';
import { connect } from 'node:net';
import type { Logger } from 'pino';
import { ports } from '../../api/constants.ts';
import { controlPaths } from '../../api/control-api.ts';
import type { StreamJob } from '../../api/streamjob.ts';
import { backoffMs, delay } from '../../retry.ts';
import type { ObservedPod } from '../decide/observation.ts';
import { jobToken } from './job-token.ts';

export interface TaskManagerWatchOptions {
  key: Buffer;
  /** Told when a watched TaskManager's process is found gone, so its job is reconciled at once. */
  onGone: (job: StreamJob) => void;
  log: Logger;
  /** How long the check that the port refuses connections may take. */
  probeTimeoutMs?: number;
}

interface Watch {
  pod: string;
  ip: string;
  /** The TaskManager answered the watch at least once: a refused port after that means its process ended. */
  served: boolean;
  closed: boolean;
  request: ClientRequest | undefined;
  attempt: number;
}

/**
 * Sees a TaskManager's process die the moment it does (issue 32). For each
 * active TaskManager of a job with standbys, the operator holds one GET
 * /v1/watch open; the kernel closes it when the process ends, SIGKILL and
 * OOM included. A closed watch is then checked with one TCP connection to
 * the control port: refused (the pod's network namespace lives on, no
 * process listens) means the process is gone, and the job is reconciled at
 * once, a second or more before the kubelet's relist would report it. A
 * connection that times out or fails otherwise (the node or network) proves
 * nothing; the watch is opened again with backoff, and the node's own
 * detection stands.
 */
export class TaskManagerWatch {
  private readonly options: TaskManagerWatchOptions;
  private readonly watches = new Map<string, Watch>();
  private readonly gone = new Set<string>();
  private readonly byJob = new Map<string, Set<string>>();

  constructor(options: TaskManagerWatchOptions) {
    this.options = options;
  }

  /**
   * Watches exactly the given pods of the job (by uid; Running, with an IP)
   * and returns the uids among them whose process was found gone.
   */
  sync(job: StreamJob, pods: readonly ObservedPod[]): ReadonlySet<string> {
    const jobUid = job.metadata.uid ?? '';
    const wanted = new Set<string>();
    for (const pod of pods) {
      if (pod.phase !== 'Running' || !pod.podIP || pod.deleting) continue;
      wanted.add(pod.uid);
      if (!this.watches.has(pod.uid) && !this.gone.has(pod.uid)) this.open(job, pod.uid, pod.name, pod.podIP);
    }
    const previous = this.byJob.get(jobUid) ?? new Set();
    for (const uid of previous) if (!wanted.has(uid)) this.close(uid);
    this.byJob.set(jobUid, wanted);
    return new Set([...wanted].filter((uid) => this.gone.has(uid)));
  }

  /** Stops watching a job's pods (the job was deleted). */
  forget(jobUid: string): void {
    for (const uid of this.byJob.get(jobUid) ?? []) this.close(uid);
    this.byJob.delete(jobUid);
  }

  /** Stops every watch (the operator stops or loses its lease). */
  closeAll(): void {
    for (const uid of [...this.watches.keys()]) this.close(uid);
    this.byJob.clear();
  }

  private close(uid: string): void {
    const watch = this.watches.get(uid);
    if (watch) {
      watch.closed = true;
      watch.request?.destroy();
      this.watches.delete(uid);
    }
    this.gone.delete(uid);
  }

  private open(job: StreamJob, uid: string, pod: string, ip: string): void {
    const watch: Watch = { pod, ip, served: false, closed: false, request: undefined, attempt: 0 };
    this.watches.set(uid, watch);
    this.connect(job, uid, watch);
  }

  private connect(job: StreamJob, uid: string, watch: Watch): void {
    if (watch.closed) return;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      watch.request = undefined;
      void this.afterEnd(job, uid, watch);
    };
    const req = request(
      {
        host: watch.ip,
        port: ports.control,
        path: controlPaths.watch,
        headers: { Authorization: `Bearer ${jobToken(this.options.key, job)}` },
      },
      (res) => {
        if (res.statusCode === 200) {
          watch.served = true;
          watch.attempt = 0;
        }
        res.resume();
        res.on('close', end);
      },
    );
    req.on('error', end);
    req.end();
    watch.request = req;
  }

  /** The watch ended: the process is gone if its port refuses a connection; otherwise watch again. */
  private async afterEnd(job: StreamJob, uid: string, watch: Watch): Promise<void> {
    if (watch.closed) return;
    const refused = await this.refuses(watch.ip);
    if (watch.closed) return;
    if (refused && watch.served) {
      this.gone.add(uid);
      this.watches.delete(uid);
      this.options.log.info(
        { job: `${job.metadata.namespace}/${job.metadata.name}`, pod: watch.pod },
        'TaskManager process gone: its control port refuses connections',
      );
      this.options.onGone(job);
      return;
    }
    watch.attempt++;
    await delay(backoffMs(watch.attempt));
    this.connect(job, uid, watch);
  }

  private refuses(ip: string): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect({ host: ip, port: ports.control });
      const done = (refused: boolean) => {
        socket.destroy();
        resolve(refused);
      };
      socket.setTimeout(this.options.probeTimeoutMs ?? 1_000, () => done(false));
      socket.once('connect', () => done(false));
      socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED'));
    });
  }
}
