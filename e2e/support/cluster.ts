import { randomBytes } from 'node:crypto';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1Pod,
} from '@kubernetes/client-node';

/** Reads a variable that `source .weir/harness/env` (or a kind setup) must provide. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run the suites through 'npm test', or 'source .weir/harness/env' first`,
    );
  }
  return value;
}

export interface Cluster {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  rbac: RbacAuthorizationV1Api;
}

/** The suites reach a cluster only through a kubeconfig, so they run unchanged on kind. */
export function connect(): Cluster {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(requireEnv('KUBECONFIG'));
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    apps: kubeConfig.makeApiClient(AppsV1Api),
    rbac: kubeConfig.makeApiClient(RbacAuthorizationV1Api),
  };
}

/** A fresh namespace per test keeps tests independent; it is deleted afterwards. */
export async function createTestNamespace(cluster: Cluster, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await cluster.core.createNamespace({ body: { metadata: { name, labels: { 'weir.dev/e2e': 'true' } } } });
  // The service-account controller creates "default" asynchronously; pods are rejected until it exists.
  await waitFor(`serviceaccount ${name}/default`, 30_000, async () => {
    try {
      await cluster.core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      return true;
    } catch {
      return undefined;
    }
  });
  return name;
}

export async function deleteNamespace(cluster: Cluster, name: string): Promise<void> {
  await cluster.core.deleteNamespace({ name }).catch(() => undefined);
}

/**
 * Polls until `check` returns a value, bounded by time. The message on
 * timeout says what was awaited and the last thing seen.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined | false>,
  describeLast?: () => Promise<string> | string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const result = await check();
      if (result !== undefined && result !== false) return result;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const last = describeLast ? await describeLast() : lastError ? String(lastError) : 'nothing';
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}; last seen: ${last}`);
}

export async function waitForPodPhase(
  cluster: Cluster,
  namespace: string,
  name: string,
  phases: string[],
  timeoutMs = 60_000,
): Promise<V1Pod> {
  let last: V1Pod | undefined;
  return waitFor(
    `pod ${namespace}/${name} in phase ${phases.join('|')}`,
    timeoutMs,
    async () => {
      last = await cluster.core.readNamespacedPod({ name, namespace });
      return phases.includes(last.status?.phase ?? '') ? last : undefined;
    },
    () => JSON.stringify(last?.status ?? {}),
  );
}

/** A job's pods that are not being deleted, by name. */
export async function podsByName(
  cluster: Cluster,
  namespace: string,
  job: string,
): Promise<Map<string, V1Pod>> {
  const list = await cluster.core.listNamespacedPod({ namespace, labelSelector: `weir.dev/job=${job}` });
  return new Map(
    list.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => [p.metadata?.name ?? '', p]),
  );
}
