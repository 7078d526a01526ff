import { requireEnv } from './cluster.ts';

/**
 * The local harness's node agent control API: node loss and pod network
 * partitions. Only the local harness has it; kind runs skip tests needing it.
 */
export function harnessAgentUrl(): string | undefined {
  return process.env.WEIR_HARNESS_AGENT;
}

async function post(path: string): Promise<unknown> {
  const response = await fetch(`${requireEnv('WEIR_HARNESS_AGENT')}${path}`, { method: 'POST' });
  const body = (await response.json()) as unknown;
  if (!response.ok) throw new Error(`agent ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

export interface PodInstance {
  uid: string;
  node: string;
  containers: { name: string; running: boolean; logFile?: string }[];
}

/** Every instance of a pod name the agent runs (a replacement, and a zombie left on a frozen node). */
export async function podInstances(namespace: string, pod: string): Promise<PodInstance[]> {
  const path = `/v1/pods/${encodeURIComponent(namespace)}/${encodeURIComponent(pod)}`;
  const response = await fetch(`${requireEnv('WEIR_HARNESS_AGENT')}${path}`);
  const body = (await response.json()) as unknown;
  if (!response.ok) throw new Error(`agent ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body as PodInstance[];
}

export type NodeState = 'running' | 'frozen' | 'stopped';

export function setNodeState(node: string, to: NodeState): Promise<unknown> {
  return post(`/v1/nodes/${encodeURIComponent(node)}/state?to=${to}`);
}

/** Cuts or heals the pod's link; `uid` picks one instance when a zombie and its replacement share the name. */
export function setPodLink(
  namespace: string,
  pod: string,
  link: 'up' | 'down',
  uid?: string,
): Promise<unknown> {
  const path = `/v1/pods/${encodeURIComponent(namespace)}/${encodeURIComponent(pod)}/network?link=${link}`;
  return post(uid ? `${path}&uid=${encodeURIComponent(uid)}` : path);
}

/** Drops (on) or passes again (off) the pod's TCP traffic to one address:port, such as the Kafka broker's. */
export function setPodTrafficDrop(
  namespace: string,
  pod: string,
  target: string,
  state: 'on' | 'off',
): Promise<unknown> {
  const path = `/v1/pods/${encodeURIComponent(namespace)}/${encodeURIComponent(pod)}/network`;
  return post(`${path}?drop=${encodeURIComponent(target)}&state=${state}`);
}
