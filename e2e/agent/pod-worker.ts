import { mkdirSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import type { V1Container, V1Pod, V1PodStatus } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ContainerProcess } from './container-process.ts';
import { type ImageSpec, resolveImage } from './image-map.ts';
import type { MountPoints } from './mount-points.ts';
import { createNetns, deleteNetns } from './netns.ts';
import { type EnvSources, resolveContainerEnv } from './pod-env.ts';
import { baseEnv, containerArgv, securitySettings } from './pod-launch.ts';
import {
  type ContainerRecord,
  isFinal,
  type PodRecord,
  podPhase,
  podStatus,
  type RestartPolicy,
  terminationFromExit,
} from './pod-status.ts';
import { ContainerProber } from './probes.ts';
import {
  prepareTerminationFile,
  terminationMessageOf,
  terminationMessageTarget,
} from './termination-message.ts';
import { type PreparedVolume, prepareVolume, removePodDir, type VolumeSources } from './volumes.ts';

export interface PodWorkerContext {
  nodeName: string;
  nodeIP: string;
  apiServer: { host: string; port: number };
  stateDir: string;
  logsDir: string;
  images(): Map<string, ImageSpec>;
  allocateIP(): string;
  releaseIP(ip: string): void;
  mountPoints: MountPoints;
  envSources: EnvSources;
  volumeSources: VolumeSources;
  reportStatus(pod: V1Pod, status: V1PodStatus): Promise<void>;
  finalizeDeletion(pod: V1Pod): Promise<void>;
  now(): Date;
  /** The node's agent hangs (NodeState frozen): probes pause, the containers run on. */
  frozen(): boolean;
  log: Logger;
}

interface RunningContainer {
  spec: V1Container;
  record: ContainerRecord;
  process?: ContainerProcess;
  prober?: ContainerProber | undefined;
  livenessKilled: boolean;
  /** The current run's log and termination message file (bound at the container's terminationMessagePath). */
  runFiles?: { logFile: string; terminationFile: string };
  /** Exponent of the next restart delay; reset once a run outlives restartBackoff.resetAfterMs. */
  backoffStep: number;
}

const restartBackoff = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 };
const setupRetryMs = 5_000;

export function podDirName(pod: V1Pod): string {
  return `${pod.metadata?.namespace}_${pod.metadata?.name}_${pod.metadata?.uid}`;
}

/** Host veth names are limited to 15 characters; the pod uid keeps them unique. */
export function hostVethName(uid: string): string {
  return `wp${uid.replace(/-/g, '').slice(0, 12)}`;
}

/** Runs one pod on one node: sandbox, init containers, containers, probes, status, teardown. */
export class PodWorker {
  private pod: V1Pod;
  private readonly ctx: PodWorkerContext;
  private readonly log: Logger;
  private readonly record: PodRecord;
  private readonly containers: RunningContainer[];
  private readonly initContainers: RunningContainer[];
  private readonly podDir: string;
  private readonly netns: string;
  private readonly hostVeth: string;
  private volumes = new Map<string, PreparedVolume>();
  private sandboxReady = false;
  private stopping: Promise<void> | undefined;
  private abandoned = false;
  private statusDirty = false;
  private statusFlush: Promise<void> | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(pod: V1Pod, ctx: PodWorkerContext) {
    this.pod = pod;
    this.ctx = ctx;
    const uid = pod.metadata?.uid ?? '';
    this.log = ctx.log.child({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, node: ctx.nodeName });
    this.podDir = join(ctx.stateDir, 'pods', podDirName(pod));
    this.netns = `weir-pod-${uid}`;
    this.hostVeth = hostVethName(uid);
    const previous = new Map((pod.status?.containerStatuses ?? []).map((s) => [s.name, s.restartCount]));
    const toRecord = (c: V1Container): RunningContainer => ({
      spec: c,
      record: {
        name: c.name,
        image: c.image ?? '',
        restartCount: previous.get(c.name) ?? 0,
        state: { kind: 'waiting', reason: 'ContainerCreating' },
        ready: false,
      },
      livenessKilled: false,
      backoffStep: 0,
    });
    this.containers = (pod.spec?.containers ?? []).map(toRecord);
    this.initContainers = (pod.spec?.initContainers ?? []).map(toRecord);
    this.record = {
      restartPolicy: (pod.spec?.restartPolicy as RestartPolicy | undefined) ?? 'Always',
      hostIP: ctx.nodeIP,
      startTime: pod.status?.startTime ? new Date(pod.status.startTime) : ctx.now(),
      initContainers: this.initContainers.map((c) => c.record),
      containers: this.containers.map((c) => c.record),
      previousConditions: pod.status?.conditions ?? [],
    };
  }

  get podIP(): string | undefined {
    return this.record.podIP;
  }

  get netnsName(): string {
    return this.netns;
  }

  get vethName(): string {
    return this.hostVeth;
  }

  get nodeIP(): string {
    return this.ctx.nodeIP;
  }

  restartCount(container: string): number | undefined {
    return [...this.initContainers, ...this.containers].find((c) => c.spec.name === container)?.record
      .restartCount;
  }

  start(): void {
    this.runPod().catch((error: unknown) => this.log.error({ err: error }, 'pod worker failed'));
  }

  /** Feeds a newer version of the pod object; a deletion timestamp starts graceful termination. */
  observe(pod: V1Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp && !this.stopping) {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      this.stopping = this.terminate(grace * 1000, true);
    }
  }

  /** The pod is gone from the API server, or the node died: kill everything, report nothing. */
  abandon(): Promise<void> {
    this.abandoned = true;
    if (!this.stopping) this.stopping = this.terminate(0, false);
    return this.stopping;
  }

  private async runPod(): Promise<void> {
    if (this.wasRunningBefore()) return;
    await this.setUpSandbox();
    if (this.stopping) return;
    for (const init of this.initContainers) {
      for (;;) {
        const exitCode = await this.runToCompletion(init);
        if (this.stopping || exitCode === undefined) return;
        if (exitCode === 0) break;
        if (this.record.restartPolicy === 'Never') {
          await this.finishIfTerminal();
          return;
        }
        await this.backoff(init);
      }
    }
    for (const container of this.containers) this.superviseContainer(container);
    this.markDirty();
  }

  /**
   * A pod that already ran before this agent started has lost its processes.
   * With restartPolicy Never it cannot be rerun, so it fails as the kubelet
   * reports containers it can no longer find.
   */
  private wasRunningBefore(): boolean {
    const started = (this.pod.status?.containerStatuses ?? []).some(
      (s) => s.state?.running || s.state?.terminated,
    );
    if (!started || this.record.restartPolicy !== 'Never') return false;
    const now = this.ctx.now();
    for (const c of this.containers) {
      c.record.state = {
        kind: 'terminated',
        exitCode: 137,
        reason: 'ContainerStatusUnknown',
        message: 'The container could not be located when the node agent restarted',
        startedAt: now,
        finishedAt: now,
        containerID: 'weir-agent://unknown',
      };
    }
    this.markDirty();
    return true;
  }

  private async setUpSandbox(): Promise<void> {
    for (;;) {
      try {
        if (!this.record.podIP && !this.pod.spec?.hostNetwork) {
          const ip = this.ctx.allocateIP();
          this.record.podIP = ip;
          await createNetns(this.netns, this.hostVeth, ip, this.ctx.nodeIP);
        }
        for (const volume of this.pod.spec?.volumes ?? []) {
          this.volumes.set(
            volume.name,
            await prepareVolume(this.pod, this.ctx.nodeIP, this.podDir, volume, this.ctx.volumeSources),
          );
        }
        this.scheduleVolumeRefresh();
        this.sandboxReady = true;
        this.record.setupFailure = undefined;
        this.markDirty();
        return;
      } catch (error) {
        const message = (error as Error).message;
        this.log.warn({ err: error }, 'pod sandbox setup failed; retrying');
        for (const c of [...this.initContainers, ...this.containers]) {
          c.record.state = { kind: 'waiting', reason: 'ContainerCreating', message };
        }
        this.markDirty();
        await new Promise((resolve) => setTimeout(resolve, setupRetryMs));
        if (this.stopping) return;
      }
    }
  }

  private scheduleVolumeRefresh(): void {
    const next = [...this.volumes.values()].map((v) => v.refreshAt).filter((d): d is Date => d !== undefined);
    if (next.length === 0) return;
    const at = Math.min(...next.map((d) => d.getTime()));
    this.refreshTimer = setTimeout(
      () => {
        this.refreshVolumes().catch((error: unknown) =>
          this.log.warn({ err: error }, 'volume refresh failed'),
        );
      },
      Math.max(1000, at - Date.now()),
    );
    this.refreshTimer.unref();
  }

  private async refreshVolumes(): Promise<void> {
    if (this.stopping) return;
    for (const volume of this.pod.spec?.volumes ?? []) {
      if (this.volumes.get(volume.name)?.refreshAt) {
        this.volumes.set(
          volume.name,
          await prepareVolume(this.pod, this.ctx.nodeIP, this.podDir, volume, this.ctx.volumeSources),
        );
      }
    }
    this.scheduleVolumeRefresh();
  }

  /** Starts the container's process, or returns the reason it cannot start. */
  private async launch(container: RunningContainer): Promise<ContainerProcess | undefined> {
    const spec = container.spec;
    const image = resolveImage(this.ctx.images(), spec.image ?? '');
    if (!image) {
      container.record.state = {
        kind: 'waiting',
        reason: 'ErrImagePull',
        message: `image "${spec.image}" is not in the agent's image map`,
      };
      this.markDirty();
      return undefined;
    }
    try {
      const env = {
        ...baseEnv(this.pod, image, this.ctx.apiServer),
        ...(await resolveContainerEnv(
          this.pod,
          spec,
          this.record.podIP ?? '',
          this.ctx.nodeIP,
          this.ctx.envSources,
        )),
      };
      const security = securitySettings(this.pod, spec);
      const binds = Object.entries(image.mounts).map(([hostPath, mountPath]) => ({
        hostPath,
        mountPath,
        readOnly: true,
      }));
      for (const mount of spec.volumeMounts ?? []) {
        const volume = this.volumes.get(mount.name);
        if (!volume) throw new Error(`container ${spec.name}: volumeMount "${mount.name}" names no volume`);
        const hostPath = mount.subPath ? join(volume.hostPath, mount.subPath) : volume.hostPath;
        binds.push({ hostPath, mountPath: mount.mountPath, readOnly: mount.readOnly ?? false });
      }
      const logFile = join(
        this.ctx.logsDir,
        podDirName(this.pod),
        spec.name,
        `${container.record.restartCount}.log`,
      );
      const terminationFile = logFile.replace(/\.log$/, '.termination-log');
      mkdirSync(dirname(terminationFile), { recursive: true });
      prepareTerminationFile(terminationFile);
      // First: a later bind (an emptyDir at /tmp, say) may hide where the file lives on the host.
      binds.unshift({
        hostPath: terminationFile,
        mountPath: terminationMessageTarget(spec),
        readOnly: false,
      });
      container.runFiles = { logFile, terminationFile };
      for (const bind of binds) this.ctx.mountPoints.ensure(bind.mountPath, bind.hostPath);
      const process = new ContainerProcess({
        netns: this.netns,
        binds,
        readOnlyRoot: security.readOnlyRoot,
        ...(security.user ? { user: security.user } : {}),
        workingDir: spec.workingDir || image.workingDir,
        argv: containerArgv(spec, image, env),
        env,
        logFile,
      });
      container.record.state = {
        kind: 'running',
        startedAt: this.ctx.now(),
        containerID: `weir-agent://${process.pid}`,
      };
      container.livenessKilled = false;
      this.markDirty();
      this.log.info({ container: spec.name, pid: process.pid }, 'container started');
      return process;
    } catch (error) {
      container.record.state = {
        kind: 'waiting',
        reason: 'CreateContainerConfigError',
        message: (error as Error).message,
      };
      this.markDirty();
      return undefined;
    }
  }

  private recordExit(
    container: RunningContainer,
    exit: { code: number | null; signal: NodeJS.Signals | null },
  ): void {
    const state = container.record.state;
    const startedAt = state.kind === 'running' ? state.startedAt : this.ctx.now();
    const containerID = state.kind === 'running' ? state.containerID : 'weir-agent://unknown';
    const termination = terminationFromExit(exit.code, exit.signal, constants.signals);
    // What the container wrote to its termination-message file wins, as with the kubelet; a container killed
    // for its liveness probe that wrote nothing gets that reason rather than its log's tail.
    const written = container.runFiles
      ? terminationMessageOf({
          file: container.runFiles.terminationFile,
          logFile: container.runFiles.logFile,
          policy: container.livenessKilled ? 'File' : container.spec.terminationMessagePolicy,
          exitCode: termination.exitCode,
        })
      : undefined;
    const message =
      written ??
      (container.livenessKilled ? 'Container failed its liveness probe and was killed' : undefined);
    container.record.state = {
      kind: 'terminated',
      ...termination,
      ...(message ? { message } : {}),
      startedAt,
      finishedAt: this.ctx.now(),
      containerID,
    };
    container.record.ready = false;
    this.log.info({ container: container.spec.name, ...termination }, 'container exited');
    this.markDirty();
  }

  private async runToCompletion(container: RunningContainer): Promise<number | undefined> {
    const process = await this.launch(container);
    if (!process) {
      await new Promise((resolve) => setTimeout(resolve, setupRetryMs));
      return this.stopping ? undefined : this.runToCompletion(container);
    }
    container.process = process;
    const exit = await process.exited;
    this.recordExit(container, exit);
    const state = container.record.state;
    return state.kind === 'terminated' ? state.exitCode : undefined;
  }

  private superviseContainer(container: RunningContainer): void {
    const loop = async () => {
      for (;;) {
        if (this.stopping) return;
        const process = await this.launch(container);
        if (!process) {
          await new Promise((resolve) => setTimeout(resolve, setupRetryMs));
          continue;
        }
        container.process = process;
        const startedAt = Date.now();
        this.startProbes(container, process);
        const exit = await process.exited;
        this.stopProbes(container);
        if (this.stopping) return;
        this.recordExit(container, exit);
        if (isFinal(container.record.state, this.record.restartPolicy)) {
          await this.finishIfTerminal();
          return;
        }
        if (Date.now() - startedAt > restartBackoff.resetAfterMs) container.backoffStep = 0;
        await this.backoff(container);
      }
    };
    loop().catch((error: unknown) =>
      this.log.error({ err: error, container: container.spec.name }, 'supervisor failed'),
    );
  }

  private async backoff(container: RunningContainer): Promise<void> {
    const delay = Math.min(
      restartBackoff.maxMs,
      restartBackoff.initialMs * 2 ** Math.min(container.backoffStep, 10),
    );
    container.backoffStep++;
    const last = container.record.state;
    if (last.kind === 'terminated') container.record.lastTermination = last;
    container.record.state = {
      kind: 'waiting',
      reason: 'CrashLoopBackOff',
      message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${container.spec.name}`,
    };
    container.record.restartCount++;
    this.markDirty();
    await new Promise((resolve) => setTimeout(resolve, delay));
  }

  private startProbes(container: RunningContainer, process: ContainerProcess): void {
    container.prober = new ContainerProber(
      container.spec,
      { podIP: this.record.podIP ?? '', pid: process.pid },
      {
        onReadiness: (ready) => {
          if (!process.running) return;
          container.record.ready = ready;
          this.markDirty();
        },
        paused: () => this.ctx.frozen(),
        onLivenessFailure: async (message) => {
          if (!process.running) return;
          container.livenessKilled = true;
          this.log.warn(
            { container: container.spec.name, reason: message },
            'liveness probe failed; killing',
          );
          const grace =
            container.spec.livenessProbe?.terminationGracePeriodSeconds ??
            this.pod.spec?.terminationGracePeriodSeconds ??
            30;
          await process.stop(grace * 1000);
        },
      },
      (error) => this.log.warn({ err: error }, 'probe error'),
    );
    container.prober.start();
  }

  private stopProbes(container: RunningContainer): void {
    container.prober?.stop();
    container.prober = undefined;
  }

  private async finishIfTerminal(): Promise<void> {
    const phase = podPhase(this.record);
    if (phase !== 'Succeeded' && phase !== 'Failed') return;
    await this.tearDownSandbox();
    this.markDirty();
  }

  private async terminate(graceMs: number, report: boolean): Promise<void> {
    clearTimeout(this.refreshTimer);
    const all = [...this.initContainers, ...this.containers];
    for (const c of all) this.stopProbes(c);
    const exits = all.map(async (c) => {
      if (!c.process?.running) return;
      if (graceMs > 0) {
        this.recordExit(c, await c.process.stop(graceMs));
        return;
      }
      c.process.kill();
      this.recordExit(c, await c.process.exited);
    });
    await Promise.all(exits);
    await this.tearDownSandbox();
    if (!report || this.abandoned) return;
    this.markDirty();
    await this.statusFlush;
    await this.ctx.finalizeDeletion(this.pod);
  }

  private async tearDownSandbox(): Promise<void> {
    clearTimeout(this.refreshTimer);
    if (this.record.podIP && !this.pod.spec?.hostNetwork) {
      await deleteNetns(this.netns).catch((error: unknown) =>
        this.log.warn({ err: error }, 'netns delete failed'),
      );
      this.ctx.releaseIP(this.record.podIP);
    }
    this.sandboxReady = false;
    await removePodDir(this.podDir);
  }

  private markDirty(): void {
    if (this.abandoned) return;
    this.statusDirty = true;
    if (!this.statusFlush) this.statusFlush = this.flushStatus();
  }

  private async flushStatus(): Promise<void> {
    try {
      while (this.statusDirty && !this.abandoned) {
        this.statusDirty = false;
        const status = podStatus(this.record, this.ctx.now());
        this.record.previousConditions = status.conditions ?? [];
        try {
          await this.ctx.reportStatus(this.pod, status);
        } catch (error) {
          if ((error as { code?: number }).code === 404) return;
          this.log.warn({ err: error }, 'status update failed; retrying');
          this.statusDirty = true;
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    } finally {
      this.statusFlush = undefined;
    }
  }

  get isSandboxReady(): boolean {
    return this.sandboxReady;
  }

  /** Whether each container's process runs now, and where its current run logs. */
  containerStates(): { name: string; running: boolean; logFile?: string }[] {
    return this.containers.map((c) => ({
      name: c.spec.name,
      running: c.process?.running ?? false,
      ...(c.runFiles ? { logFile: c.runFiles.logFile } : {}),
    }));
  }
}
