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

export type NodeState = 'running' | 'frozen' | 'stopped';

export function setNodeState(node: string, to: NodeState): Promise<unknown> {
  return post(`/v1/nodes/${encodeURIComponent(node)}/state?to=${to}`);
}

export function setPodLink(namespace: string, pod: string, link: 'up' | 'down'): Promise<unknown> {
  return post(`/v1/pods/${encodeURIComponent(namespace)}/${encodeURIComponent(pod)}/network?link=${link}`);
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
