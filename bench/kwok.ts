/**
 * Simulated nodes for the operator scale benchmark: kwok (sigs.k8s.io/kwok, built by
 * e2e/harness/build-go-tools.sh from the Go module proxy) runs beside the harness's real API server,
 * scheduler and controller-manager, and plays the kubelet for nodes it manages: their pods are
 * scheduled for real, then run and turn Ready with no process behind them (bench/kwok-stages.yaml).
 * The nodes are tainted, so only pods that tolerate the taint (the benchmark's) land there.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Node } from '@kubernetes/client-node';
import { type Cluster, requireEnv, waitFor } from '../e2e/support/cluster.ts';

const root = join(import.meta.dirname, '..');
const nodeLabel = 'weir.dev/bench-node';
const taintKey = 'kwok.x-k8s.io/node';
/** Pod IPs come from loopback: the operator's status polls of these pods are refused on this machine. */
const podCidr = '127.128.0.0/16';

export interface KwokNodes {
  nodeSelector: Record<string, string>;
  /** As a StreamJob's spec.taskManager.tolerations takes them. */
  tolerations: Record<string, unknown>[];
  stop(): Promise<void>;
}

function kwokVersion(): string {
  const versions = execFileSync('bash', [
    '-c',
    `source "${root}/e2e/harness/versions.env" && echo "$KWOK_VERSION"`,
  ]);
  return versions.toString().trim();
}

function fakeNode(name: string, podsPerNode: number): V1Node {
  const capacity = { cpu: '1000', memory: '4Ti', pods: String(podsPerNode) };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { [nodeLabel]: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' },
      annotations: { [taintKey]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: { taints: [{ key: taintKey, value: 'fake', effect: 'NoSchedule' }] },
    status: { allocatable: capacity, capacity },
  };
}

async function deleteBenchNodes(cluster: Cluster): Promise<void> {
  const nodes = await cluster.core.listNode({ labelSelector: `${nodeLabel}=kwok` });
  await Promise.all(
    nodes.items.map((n) => cluster.core.deleteNode({ name: n.metadata?.name ?? '' }).catch(() => undefined)),
  );
}

/** Builds kwok if needed, starts it, and registers `count` Ready nodes that hold `podsPerNode` pods each. */
export async function startKwokNodes(
  cluster: Cluster,
  count: number,
  podsPerNode: number,
): Promise<KwokNodes> {
  const cache = process.env.WEIR_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'weir');
  execFileSync('bash', [join(root, 'e2e', 'harness', 'build-go-tools.sh'), 'kwok'], {
    stdio: ['ignore', process.stderr, process.stderr],
  });
  // Nodes of an earlier run that ended without cleaning up would hold pods nobody simulates.
  await deleteBenchNodes(cluster);
  const logDir = process.env.WEIR_HARNESS_LOGS ?? join(root, '.weir');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, 'kwok.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawn(
    join(cache, 'kwok', kwokVersion(), 'bin', 'kwok'),
    [
      `--kubeconfig=${requireEnv('KUBECONFIG')}`,
      `--config=${join(root, 'bench', 'kwok-stages.yaml')}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${taintKey}=fake`,
      `--cidr=${podCidr}`,
      '--node-ip=127.0.0.1',
      '--node-lease-duration-seconds=40',
      '--v=WARN',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const killKwok = () => child.exitCode === null && child.kill('SIGKILL');
  process.once('exit', killKwok);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const names = Array.from({ length: count }, (_, i) => `weir-bench-kwok-${i}`);
  for (const name of names) await cluster.core.createNode({ body: fakeNode(name, podsPerNode) });
  await waitFor(`${count} kwok nodes Ready (log: ${logFile})`, 60_000, async () => {
    if (child.exitCode !== null) throw new Error(`kwok exited with ${child.exitCode}; see ${logFile}`);
    const nodes = await cluster.core.listNode({ labelSelector: `${nodeLabel}=kwok` });
    const ready = nodes.items.filter((n) =>
      n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    return ready.length === count;
  });
  return {
    nodeSelector: { [nodeLabel]: 'kwok' },
    tolerations: [{ key: taintKey, operator: 'Exists', effect: 'NoSchedule' }],
    async stop() {
      await deleteBenchNodes(cluster);
      process.removeListener('exit', killKwok);
      child.kill('SIGTERM');
      await exited;
    },
  };
}
