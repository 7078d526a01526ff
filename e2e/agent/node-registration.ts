import { hostname, release } from 'node:os';
import {
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Lease,
  V1MicroTime,
  type V1Node,
  type V1NodeStatus,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface NodeIdentity {
  name: string;
  ip: string;
  podCIDR: string;
  capacity: { cpu: string; memory: string; pods: string };
  kubeletPort: number;
  kubeletVersion: string;
}

const heartbeatMs = 10_000;
const leaseDurationSeconds = 40;

function isNotFound(error: unknown): boolean {
  return (error as { code?: number }).code === 404;
}

function isConflict(error: unknown): boolean {
  return (error as { code?: number }).code === 409;
}

/** Registers a Node and keeps it alive: a Lease renewal and a status heartbeat every 10 s. */
export class NodeRegistration {
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly identity: NodeIdentity;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private nodeUid = '';
  /** The Ready condition flips only when the agent (re)starts heartbeats. */
  private readySince = new Date();

  constructor(kubeConfig: KubeConfig, identity: NodeIdentity, log: Logger) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.coordination = kubeConfig.makeApiClient(CoordinationV1Api);
    this.identity = identity;
    this.log = log.child({ node: identity.name });
  }

  async register(): Promise<void> {
    const { name, podCIDR } = this.identity;
    const node: V1Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'weir.dev/harness-node': 'true',
        },
      },
      spec: { podCIDR, podCIDRs: [podCIDR] },
    };
    try {
      const created = await this.core.createNode({ body: node });
      this.nodeUid = created.metadata?.uid ?? '';
      this.log.info('node registered');
    } catch (error) {
      if (!isConflict(error)) throw error;
      const existing = await this.core.readNode({ name });
      this.nodeUid = existing.metadata?.uid ?? '';
      this.log.info('node already registered; resuming heartbeats');
    }
    await this.heartbeat();
  }

  startHeartbeats(): void {
    this.stopHeartbeats();
    this.readySince = new Date();
    this.timer = setInterval(() => {
      this.heartbeat().catch((error: unknown) => this.log.warn({ err: error }, 'heartbeat failed'));
    }, heartbeatMs);
  }

  stopHeartbeats(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private status(now: Date): V1NodeStatus {
    const { ip, name, capacity, kubeletPort, kubeletVersion } = this.identity;
    const condition = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: this.readySince,
    });
    return {
      capacity,
      allocatable: capacity,
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'Hostname', address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } },
      nodeInfo: {
        machineID: name,
        systemUUID: name,
        bootID: `${hostname()}-${process.pid}`,
        kernelVersion: release(),
        osImage: 'weir harness node agent',
        containerRuntimeVersion: 'weir-agent://0.1.0',
        kubeletVersion,
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'agent has sufficient memory'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'agent has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'agent has sufficient PID'),
        condition('Ready', 'True', 'KubeletReady', 'weir node agent is posting ready status'),
      ],
    };
  }

  private async heartbeat(): Promise<void> {
    const now = new Date();
    const { name } = this.identity;
    await this.core.patchNodeStatus(
      { name, body: { status: this.status(now) } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await this.renewLease(now);
  }

  private async renewLease(now: Date): Promise<void> {
    const { name } = this.identity;
    const namespace = 'kube-node-lease';
    try {
      const lease = await this.coordination.readNamespacedLease({ name, namespace });
      lease.spec = {
        ...lease.spec,
        holderIdentity: name,
        leaseDurationSeconds,
        renewTime: new V1MicroTime(now),
      };
      await this.coordination.replaceNamespacedLease({ name, namespace, body: lease });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const lease: V1Lease = {
        metadata: {
          name,
          namespace,
          ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: this.nodeUid }],
        },
        spec: { holderIdentity: name, leaseDurationSeconds, renewTime: new V1MicroTime(now) },
      };
      await this.coordination.createNamespacedLease({ namespace, body: lease });
    }
  }
}
