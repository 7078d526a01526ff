import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The agent's side of e2e/harness/netns.sh, the one place that wires namespaces to the host. */
const run = promisify(execFile);
const script = join(import.meta.dirname, '..', 'harness', 'netns.sh');

export async function createNetns(
  netns: string,
  hostVeth: string,
  address: string,
  rootSource: string,
): Promise<void> {
  await run('bash', [script, 'create', netns, hostVeth, address, rootSource]);
}

/** Kills whatever still runs inside, then removes the namespace and with it the veth pair. */
export async function deleteNetns(netns: string): Promise<void> {
  await run('bash', [script, 'delete', netns]);
}

export async function cutLink(hostVeth: string): Promise<void> {
  await run('bash', [script, 'link', hostVeth, 'down']);
}

export async function healLink(hostVeth: string, address: string, rootSource: string): Promise<void> {
  await run('bash', [script, 'link', hostVeth, 'up', address, rootSource]);
}

/** Drops (or passes again) the namespace's TCP traffic to one address and port, leaving everything else. */
export async function dropTraffic(netns: string, target: string, drop: boolean): Promise<void> {
  await run('bash', [script, 'drop', netns, target, drop ? 'on' : 'off']);
}
