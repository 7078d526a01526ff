import { execFile } from 'node:child_process';
import type { Server } from 'node:https';
import { promisify } from 'node:util';
import {
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Informer } from '../../src/operator/kube/informer.ts';
import { apiServerListWatch } from '../../src/operator/kube/list-watch.ts';
import { type ImageSpec, loadImageMap } from './image-map.ts';
import { IpPool } from './ip-pool.ts';
import { kubeSources } from './kube-sources.ts';
import { startKubeletServer } from './kubelet-server.ts';
import { MountPoints } from './mount-points.ts';
import { cutLink, deleteNetns, dropTraffic, healLink } from './netns.ts';
import { type NodeIdentity, NodeRegistration } from './node-registration.ts';
import { PodWorker, type PodWorkerContext } from './pod-worker.ts';

const run = promisify(execFile);

export interface AgentOptions {
  nodeCount: number;
  stateDir: string;
  logsDir: string;
  mountLedger: string;
  imageMapFile: string;
  apiServer: { host: string; port: number };
  tls: { certFile: string; keyFile: string; caFile: string };
  kubeletVersion: string;
  capacity: NodeIdentity['capacity'];
}

export type NodeState = 'running' | 'frozen' | 'stopped';

interface ManagedNode {
  identity: NodeIdentity;
  registration: NodeRegistration;
  informer: Informer<V1Pod>;
  pool: IpPool;
  state: NodeState;
  kubelet?: Server;
}

/** Node k answers on 10.244.254.k and gives pods addresses from 10.245.16(k-1).0/20 (4094 pods). */
export function nodeIdentity(
  index: number,
  options: Pick<AgentOptions, 'kubeletVersion' | 'capacity'>,
): NodeIdentity {
  return {
    name: `weir-node-${index}`,
    ip: `10.244.254.${index}`,
    podCIDR: `10.245.${(index - 1) * 16}.0/20`,
    capacity: options.capacity,
    kubeletPort: 10250,
    kubeletVersion: options.kubeletVersion,
  };
}

class NodeUnreachableError extends Error {
  readonly code = 503;
  readonly retriable = true;
}

export class NodeAgent {
  private readonly kubeConfig: KubeConfig;
  private readonly options: AgentOptions;
  private readonly log: Logger;
  private readonly core: CoreV1Api;
  private readonly nodes = new Map<string, ManagedNode>();
  private readonly workers = new Map<string, { worker: PodWorker; node: string; pod: V1Pod }>();
  private readonly mountPoints: MountPoints;
  private readonly sources;
  private images: Map<string, ImageSpec>;

  constructor(kubeConfig: KubeConfig, options: AgentOptions, log: Logger) {
    this.kubeConfig = kubeConfig;
    this.options = options;
    this.log = log;
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.mountPoints = new MountPoints(options.mountLedger);
    this.sources = kubeSources(kubeConfig);
    this.images = loadImageMap(options.imageMapFile);
  }

  reloadImages(): void {
    this.images = loadImageMap(this.options.imageMapFile);
  }

  async start(): Promise<void> {
    await this.removeStaleSandboxes();
    for (let i = 1; i <= this.options.nodeCount; i++) {
      const identity = nodeIdentity(i, this.options);
      await run('ip', ['addr', 'replace', `${identity.ip}/32`, 'dev', 'lo']);
      const informer = new Informer<V1Pod>(
        apiServerListWatch(this.kubeConfig, {
          apiVersion: 'v1',
          kind: 'Pod',
          path: '/api/v1/pods',
          fieldSelector: `spec.nodeName=${identity.name}`,
        }),
        {
          resyncMs: 30_000,
          relistBackoff: { initialMs: 500, maxMs: 10_000 },
          onError: (error) => this.log.warn({ err: error, node: identity.name }, 'pod watch error'),
        },
      );
      const node: ManagedNode = {
        identity,
        registration: new NodeRegistration(this.kubeConfig, identity, this.log),
        informer,
        pool: new IpPool(identity.podCIDR),
        state: 'running',
      };
      this.nodes.set(identity.name, node);
      informer.subscribe({
        onAdd: (pod) => this.onPod(node, pod),
        onUpdate: (pod) => this.onPod(node, pod),
        // A frozen node hears nothing from the API server: a deletion reaches it when it runs again.
        onDelete: (pod) => {
          if (node.state === 'running') this.onPodGone(pod);
        },
      });
      node.kubelet = await startKubeletServer({
        address: identity.ip,
        port: identity.kubeletPort,
        ...this.options.tls,
        logsDir: this.options.logsDir,
        isRunning: (namespace, pod) => this.isPodRunning(namespace, pod),
        restartCount: (namespace, pod, container) => this.findWorker(namespace, pod)?.restartCount(container),
        log: this.log,
      });
      await node.registration.register();
      node.registration.startHeartbeats();
      await informer.start();
      this.log.info({ node: identity.name, ip: identity.ip, podCIDR: identity.podCIDR }, 'node ready');
    }
  }

  /** Kills every pod process and removes the nodes' addresses; the Node objects stay, as after a power loss. */
  async shutdown(): Promise<void> {
    for (const node of this.nodes.values()) {
      node.registration.stopHeartbeats();
      node.informer.stop();
      node.kubelet?.close();
    }
    await Promise.all([...this.workers.values()].map((w) => w.worker.abandon()));
    this.workers.clear();
    for (const node of this.nodes.values()) {
      await run('ip', ['addr', 'del', `${node.identity.ip}/32`, 'dev', 'lo']).catch(() => undefined);
    }
  }

  nodeStates(): { name: string; ip: string; state: NodeState; pods: number }[] {
    return [...this.nodes.values()].map((n) => ({
      name: n.identity.name,
      ip: n.identity.ip,
      state: n.state,
      pods: [...this.workers.values()].filter((w) => w.node === n.identity.name).length,
    }));
  }

  /**
   * Simulates node loss. `stopped`: the machine is gone, its processes die
   * and nothing is reported. `frozen`: the node agent hangs, as a kubelet
   * that crashed or lost the API server with its containers left running:
   * heartbeats, status and probes stop, pod deletions go unheard, and the
   * pods keep running (and, with their links up, keep reaching Kafka). Back
   * to `running`, it catches up: pods deleted meanwhile are killed.
   */
  async setNodeState(name: string, state: NodeState): Promise<void> {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node named "${name}" (have: ${[...this.nodes.keys()].join(', ')})`);
    if (node.state === state) return;
    const previous = node.state;
    node.state = state;
    this.log.info({ node: name, from: previous, to: state }, 'node state changed');
    if (state === 'stopped') {
      node.registration.stopHeartbeats();
      const mine = [...this.workers.entries()].filter(([, w]) => w.node === name);
      await Promise.all(mine.map(([, w]) => w.worker.abandon()));
      for (const [uid] of mine) this.workers.delete(uid);
      return;
    }
    if (state === 'frozen') {
      node.registration.stopHeartbeats();
      return;
    }
    await node.registration.register();
    node.registration.startHeartbeats();
    const current = new Set(node.informer.list().map((p) => p.metadata?.uid));
    for (const [uid, w] of this.workers) {
      if (w.node === name && !current.has(uid)) this.onPodGone(w.pod);
    }
    for (const pod of node.informer.list()) this.onPod(node, pod);
  }

  /**
   * Every pod of that name this agent runs, with its uid and node: after a
   * failover there can be two, the replacement and a zombie on a frozen node.
   */
  podInstances(namespace: string, name: string) {
    return [...this.workers.entries()]
      .filter(([, w]) => w.pod.metadata?.namespace === namespace && w.pod.metadata?.name === name)
      .map(([uid, w]) => ({ uid, node: w.node, containers: w.worker.containerStates() }));
  }

  /** Cuts or heals a pod's link; `uid` picks one instance when a zombie and its replacement share the name. */
  async setPodNetwork(namespace: string, name: string, up: boolean, uid?: string): Promise<string> {
    const worker = uid ? this.workers.get(uid)?.worker : this.findWorker(namespace, name);
    if (!worker?.podIP) throw new Error(`pod ${namespace}/${name} is not running on this agent`);
    if (up) await healLink(worker.vethName, worker.podIP, worker.nodeIP);
    else await cutLink(worker.vethName);
    return worker.vethName;
  }

  /** Drops or passes again the pod's TCP traffic to `target` (address:port) only. */
  async setPodTraffic(namespace: string, name: string, target: string, drop: boolean): Promise<void> {
    const worker = this.findWorker(namespace, name);
    if (!worker?.podIP) throw new Error(`pod ${namespace}/${name} is not running on this agent`);
    await dropTraffic(worker.netnsName, target, drop);
  }

  private findWorker(namespace: string, name: string): PodWorker | undefined {
    return [...this.workers.values()].find(
      (w) => w.pod.metadata?.namespace === namespace && w.pod.metadata?.name === name,
    )?.worker;
  }

  private isPodRunning(namespace: string, name: string): boolean {
    return this.findWorker(namespace, name)?.isSandboxReady ?? false;
  }

  private onPod(node: ManagedNode, pod: V1Pod): void {
    if (node.state !== 'running') return;
    const uid = pod.metadata?.uid ?? '';
    const existing = this.workers.get(uid);
    if (existing) {
      existing.pod = pod;
      existing.worker.observe(pod);
      return;
    }
    const phase = pod.status?.phase;
    if (pod.metadata?.deletionTimestamp) {
      // Nothing runs here for this pod (it finished, or ran under an earlier agent): confirm the deletion.
      this.finalizeDeletion(pod).catch((error: unknown) =>
        this.log.warn({ err: error }, 'final pod delete failed'),
      );
      return;
    }
    if (phase === 'Succeeded' || phase === 'Failed') return;
    const worker = new PodWorker(pod, this.workerContext(node));
    this.workers.set(uid, { worker, node: node.identity.name, pod });
    worker.start();
  }

  private onPodGone(pod: V1Pod): void {
    const uid = pod.metadata?.uid ?? '';
    const entry = this.workers.get(uid);
    if (!entry) return;
    this.workers.delete(uid);
    entry.worker.abandon().catch((error: unknown) => this.log.warn({ err: error }, 'pod cleanup failed'));
  }

  private workerContext(node: ManagedNode): PodWorkerContext {
    return {
      nodeName: node.identity.name,
      nodeIP: node.identity.ip,
      apiServer: this.options.apiServer,
      stateDir: this.options.stateDir,
      logsDir: this.options.logsDir,
      images: () => this.images,
      allocateIP: () => node.pool.allocate(),
      releaseIP: (ip) => node.pool.release(ip),
      mountPoints: this.mountPoints,
      envSources: this.sources,
      volumeSources: this.sources,
      reportStatus: async (pod, status) => {
        if (node.state !== 'running')
          throw new NodeUnreachableError(`${node.identity.name} is ${node.state}`);
        await this.core.patchNamespacedPodStatus(
          { name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '', body: { status } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      },
      finalizeDeletion: (pod) => this.finalizeDeletion(pod),
      now: () => new Date(),
      frozen: () => node.state === 'frozen',
      log: this.log,
    };
  }

  private async finalizeDeletion(pod: V1Pod): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({
        name: pod.metadata?.name ?? '',
        namespace: pod.metadata?.namespace ?? '',
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } },
      });
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code !== 404 && code !== 409) throw error;
    }
  }

  /** Pods of an earlier agent process have no supervisor any more; their namespaces and processes go. */
  private async removeStaleSandboxes(): Promise<void> {
    const { stdout } = await run('ip', ['netns', 'list']);
    const stale = stdout
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((name) => name.startsWith('weir-pod-'));
    for (const ns of stale) await deleteNetns(ns);
    if (stale.length) this.log.info({ count: stale.length }, 'removed sandboxes of an earlier agent');
  }
}
