import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { V1Pod, V1Toleration } from '@kubernetes/client-node';
import { kubectl, repositoryRoot, runTool } from './cli.ts';

/**
 * Failure injection on the local harness's nodes (e2e/harness/kubelet-node.sh):
 * real kubelets with containerd and runc, on this machine. Tests run as root
 * beside them, so they reach a node's containerd, its pods' network
 * namespaces and its processes directly. Only the local harness has these
 * nodes; on kind, tests that need them are skipped.
 */
export function harnessNodes(): string[] {
  return (process.env.WEIR_HARNESS_NODES ?? '').split(',').filter((n) => n !== '');
}

/**
 * Why a suite that runs pods which use Kafka and MinIO is skipped here, or
 * false where it can run: on the local harness, or on the kind cluster
 * (e2e/kind/test.sh), whose pods reach the harness's services through the host.
 */
export function needsPodCluster(what: string): string | false {
  return harnessNodes().length > 0 || process.env.WEIR_KIND_CLUSTER
    ? false
    : `needs a cluster whose pods reach Kafka and MinIO (the local harness, or kind) to ${what}`;
}

/** Why a test that injects node or network failures is skipped here, or false where it can run. */
export function needsHarnessNodes(what: string): string | false {
  return harnessNodes().length > 0 ? false : `needs the local harness's nodes to ${what}`;
}

/**
 * Where a node-loss test's pods go: on the harness's node-loss pool (up.sh with
 * WEIR_HARNESS_NODE_LOSS_NODES; npm test makes two), whose nodes are tainted so
 * that no other suite's pod runs there; stopping or freezing one then harms no
 * other suite, and e2e/run-suites.sh runs the node-loss suites beside the
 * others. The pool needs two nodes: a lost pod's replacement goes to the other.
 * Without a pool, anywhere (and those suites run after all the others).
 */
export interface NodeLossPlacement {
  /** The nodes the pods may run on: the pool's, or every harness node. */
  nodes: string[];
  /** What a pod needs to run there (empty without a pool). */
  tolerations: V1Toleration[];
  /** The same as a StreamJob's spec.taskManager settings. */
  taskManager: { nodeSelector?: Record<string, string>; tolerations?: V1Toleration[] };
}

const poolLabel = 'weir.dev/harness-pool';
const nodeLossPool = 'node-loss';

export async function nodeLossPlacement(): Promise<NodeLossPlacement> {
  const names = (
    await kubectl(
      'get',
      'nodes',
      '-l',
      `${poolLabel}=${nodeLossPool}`,
      '-o',
      'jsonpath={.items[*].metadata.name}',
    )
  )
    .split(' ')
    .filter((n) => n !== '')
    .sort();
  if (names.length < 2) return { nodes: harnessNodes(), tolerations: [], taskManager: {} };
  const tolerations = [{ key: poolLabel, operator: 'Equal', value: nodeLossPool, effect: 'NoSchedule' }];
  return {
    nodes: names,
    tolerations,
    taskManager: { nodeSelector: { [poolLabel]: nodeLossPool }, tolerations },
  };
}

/** containerd's socket on a harness node; the harness keeps it at this fixed, short path. */
function containerdSocket(node: string): string {
  return `/run/weir-harness/${node}/containerd.sock`;
}

/**
 * Where the node's kubelet keeps pod logs (KubeletConfiguration podLogsDir): under the harness's state
 * directory, the parent of the WEIR_HARNESS_LOGS the env file exports (WEIR_STATE may move it).
 */
function podLogsDir(node: string): string {
  const logs = process.env.WEIR_HARNESS_LOGS;
  const state = logs ? dirname(logs) : join(repositoryRoot, '.weir', 'harness');
  return join(state, 'nodes', node, 'pod-logs');
}

async function ctr(node: string, ...args: string[]): Promise<string> {
  const socket = containerdSocket(node);
  return (await runTool('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args])).stdout;
}

function nodeIndex(node: string): string {
  const match = /^weir-node-(\d)$/.exec(node);
  if (!match?.[1]) throw new Error(`${node} is not a harness node (weir-node-<k>)`);
  return match[1];
}

function containerId(pod: V1Pod, container: string): string {
  const id = pod.status?.containerStatuses?.find((s) => s.name === container)?.containerID ?? '';
  const match = /^containerd:\/\/([0-9a-f]{64})$/.exec(id);
  if (!match?.[1]) throw new Error(`container ${container} has no containerd id (containerID "${id}")`);
  return match[1];
}

/**
 * Kills a container's process with SIGKILL through containerd, as the OOM
 * killer or a crash would end it: the kubelet sees it exit, not a deletion.
 */
export async function killContainer(pod: V1Pod, container: string): Promise<void> {
  const node = pod.spec?.nodeName;
  if (!node) throw new Error(`pod ${pod.metadata?.name} is not on a node`);
  await ctr(node, 'tasks', 'kill', '--signal', 'SIGKILL', containerId(pod, container));
}

/** Imports an OCI archive (named in full inside, as scripts/build-image.sh writes them) into every node. */
export async function importImage(archive: string): Promise<void> {
  for (const node of harnessNodes()) await ctr(node, 'images', 'import', archive);
}

/**
 * running: the node works (from frozen: its kubelet resumes; from stopped: it starts again).
 * frozen: its kubelet and kube-proxy hang (no heartbeats, probes or deletions) while its
 *         containers run on: a partitioned node, whose pods become zombies.
 * stopped: the node dies: kubelet, containerd and every container killed.
 */
export type NodeState = 'running' | 'frozen' | 'stopped';

export async function setNodeState(node: string, to: NodeState): Promise<void> {
  const action = { running: 'up', frozen: 'freeze', stopped: 'stop' }[to];
  const script = join(repositoryRoot, 'e2e', 'harness', 'kubelet-node.sh');
  await runTool('bash', [script, action, nodeIndex(node)], { timeoutMs: 240_000 });
}

/** Every container of a pod instance on a node, with its task's state, by containerd's labels. */
async function containersOf(
  node: string,
  filters: Record<string, string>,
): Promise<{ id: string; uid: string; name: string; running: boolean; pid: number }[]> {
  const filter = Object.entries(filters)
    .map(([label, value]) => `labels."${label}"==${value}`)
    .join(',');
  const ids = (await ctr(node, 'containers', 'list', '--quiet', filter)).split('\n').filter(Boolean);
  if (ids.length === 0) return [];
  const tasks = new Map<string, { pid: number; status: string }>();
  for (const line of (await ctr(node, 'tasks', 'list')).split('\n').slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (id && pid && status) tasks.set(id, { pid: Number(pid), status });
  }
  const found = [];
  for (const id of ids) {
    const info = JSON.parse(await ctr(node, 'containers', 'info', id)) as { Labels?: Record<string, string> };
    const task = tasks.get(id);
    found.push({
      id,
      uid: info.Labels?.['io.kubernetes.pod.uid'] ?? '',
      name: info.Labels?.['io.kubernetes.container.name'] ?? '',
      running: task?.status === 'RUNNING',
      pid: task?.pid ?? 0,
    });
  }
  return found;
}

export interface PodInstance {
  uid: string;
  node: string;
  containers: { name: string; running: boolean; logFile?: string }[];
}

async function newestLog(dir: string): Promise<string | undefined> {
  const files = await readdir(dir).catch(() => [] as string[]);
  let newest: { file: string; at: number } | undefined;
  for (const file of files.filter((f) => f.endsWith('.log'))) {
    const at = (await stat(join(dir, file))).mtimeMs;
    if (!newest || at > newest.at) newest = { file: join(dir, file), at };
  }
  return newest?.file;
}

/**
 * Every instance of a pod name the harness's nodes run, read from their
 * containerd (a replacement, and a zombie left on a frozen node). A stopped
 * node's instances are gone with its containerd.
 */
export async function podInstances(namespace: string, pod: string): Promise<PodInstance[]> {
  const instances: PodInstance[] = [];
  for (const node of harnessNodes()) {
    const containers = await containersOf(node, {
      'io.kubernetes.pod.namespace': namespace,
      'io.kubernetes.pod.name': pod,
      'io.cri-containerd.kind': 'container',
    }).catch(() => []);
    const byUid = new Map<string, PodInstance>();
    for (const c of containers) {
      const instance = byUid.get(c.uid) ?? { uid: c.uid, node, containers: [] };
      byUid.set(c.uid, instance);
      const logDir = join(podLogsDir(node), `${namespace}_${pod}_${c.uid}`, c.name);
      const existing = instance.containers.find((x) => x.name === c.name);
      // A restarted container has several containerd containers; the instance is running if one is.
      if (existing) existing.running ||= c.running;
      else instance.containers.push({ name: c.name, running: c.running, logFile: await newestLog(logDir) });
    }
    instances.push(...byUid.values());
  }
  return instances;
}

/** Every container log file the harness's kubelets keep for pods of a namespace (while the pods exist). */
export async function podLogFiles(namespace: string): Promise<string[]> {
  const files: string[] = [];
  for (const node of harnessNodes()) {
    const dir = podLogsDir(node);
    for (const pod of (await readdir(dir).catch(() => [] as string[])).filter((d) =>
      d.startsWith(`${namespace}_`),
    )) {
      for (const entry of await readdir(join(dir, pod), { recursive: true, withFileTypes: true })) {
        if (entry.isFile()) files.push(join(entry.parentPath, entry.name));
      }
    }
  }
  return files;
}

/** The network namespace of a pod instance: its sandbox's, entered through the sandbox process. */
async function podNetns(namespace: string, pod: string, uid?: string): Promise<string> {
  let nodes = harnessNodes();
  let podUid = uid;
  if (!podUid) {
    const [found, node] = (
      await kubectl('get', 'pod', '-n', namespace, pod, '-o', 'jsonpath={.metadata.uid} {.spec.nodeName}')
    ).split(' ');
    podUid = found;
    nodes = node ? [node] : nodes;
  }
  for (const node of nodes) {
    const sandboxes = await containersOf(node, {
      'io.kubernetes.pod.uid': podUid ?? '',
      'io.cri-containerd.kind': 'sandbox',
    }).catch(() => []);
    const running = sandboxes.find((s) => s.running && s.pid > 0);
    if (running) return `/proc/${running.pid}/ns/net`;
  }
  throw new Error(`no running sandbox of pod ${namespace}/${pod} (uid ${podUid}) on ${nodes.join(', ')}`);
}

/** iptables inside the pod's network namespace; `-C` (is the rule there?) may fail, the changes may not. */
function podIptables(netns: string, ...args: string[]): Promise<{ code: number }> {
  return runTool('nsenter', [`--net=${netns}`, 'iptables', ...args], { allowFailure: args[0] === '-C' });
}

/** Adds a rule once (on), or removes every copy of it (off). */
async function setRule(netns: string, rule: string[], on: boolean): Promise<void> {
  const present = async () => (await podIptables(netns, '-C', ...rule)).code === 0;
  if (on) {
    if (!(await present())) await podIptables(netns, '-I', ...rule);
    return;
  }
  while (await present()) await podIptables(netns, '-D', ...rule);
}

/**
 * Cuts (down) or heals (up) the pod's link: every packet in or out of its
 * interface is dropped, so connections hang as across a partition, and the
 * kubelet's probes fail too. `uid` picks one instance when a zombie and its
 * replacement share the name.
 */
export async function setPodLink(
  namespace: string,
  pod: string,
  link: 'up' | 'down',
  uid?: string,
): Promise<void> {
  const netns = await podNetns(namespace, pod, uid);
  await setRule(netns, ['INPUT', '-i', 'eth0', '-j', 'DROP'], link === 'down');
  await setRule(netns, ['OUTPUT', '-o', 'eth0', '-j', 'DROP'], link === 'down');
}

/** Drops (on) or passes again (off) the pod's TCP traffic to one address:port, such as the Kafka broker's. */
export async function setPodTrafficDrop(
  namespace: string,
  pod: string,
  target: string,
  state: 'on' | 'off',
): Promise<void> {
  const match = /^([0-9.]+):(\d{1,5})$/.exec(target);
  if (!match?.[1] || !match[2]) throw new Error(`drop target must be <address>:<port>, got "${target}"`);
  const netns = await podNetns(namespace, pod);
  await setRule(
    netns,
    ['OUTPUT', '-d', `${match[1]}/32`, '-p', 'tcp', '--dport', match[2], '-j', 'DROP'],
    state === 'on',
  );
}

/** The instance `uid` of a pod name, wherever a harness node runs it; undefined once no node has it. */
export async function podInstance(
  namespace: string,
  pod: string,
  uid: string,
): Promise<PodInstance | undefined> {
  return (await podInstances(namespace, pod)).find((i) => i.uid === uid);
}

/**
 * Waits (up to `timeoutMs`, polling every half second) until the first
 * container of pod instance `uid` no longer runs, as a zombie does once it
 * learns it was fenced; returns the instance as last seen, running or not,
 * for the test to assert on, with its log file.
 */
export async function awaitInstanceExit(
  namespace: string,
  pod: string,
  uid: string,
  timeoutMs = 120_000,
): Promise<PodInstance | undefined> {
  const deadline = Date.now() + timeoutMs;
  let instance = await podInstance(namespace, pod, uid);
  while (instance?.containers[0]?.running && Date.now() < deadline) {
    await delay(500);
    instance = await podInstance(namespace, pod, uid);
  }
  return instance;
}
