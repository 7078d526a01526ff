import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Container, V1Pod, V1Volume } from '@kubernetes/client-node';
import type { Cluster } from './cluster.ts';

/**
 * Small programs the smoke suites run in pods of the Weir image (weir:dev):
 * e2e/suites/smoke/fixtures/*.ts, handed in through a ConfigMap mounted under
 * /opt/weir/fixtures, where Node runs TypeScript directly and finds the
 * image's node_modules.
 */
export const weirImage = 'weir:dev';
const fixturesDir = join(import.meta.dirname, '..', 'suites', 'smoke', 'fixtures');
const fixtures = ['echo-server.ts', 'list-pods.ts'] as const;
export type Fixture = (typeof fixtures)[number];

export async function createFixturesConfigMap(cluster: Cluster, namespace: string): Promise<void> {
  const data = Object.fromEntries(fixtures.map((f) => [f, readFileSync(join(fixturesDir, f), 'utf8')]));
  await cluster.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'fixtures' }, data } });
}

export const fixturesVolume: V1Volume = { name: 'fixtures', configMap: { name: 'fixtures' } };

/** A container of the Weir image running one fixture; `extra` adds or overrides fields. */
export function fixtureContainer(
  name: string,
  fixture: Fixture,
  extra: Partial<V1Container> = {},
): V1Container {
  return {
    name,
    image: weirImage,
    command: ['node', `/opt/weir/fixtures/${fixture}`],
    ...extra,
    volumeMounts: [
      { name: 'fixtures', mountPath: '/opt/weir/fixtures', readOnly: true },
      ...(extra.volumeMounts ?? []),
    ],
  };
}

/** echo-server.ts on port 8080 ("http"), Ready once /healthz answers; needs fixturesVolume. */
export function echoContainer(): V1Container {
  return fixtureContainer('echo', 'echo-server.ts', {
    env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
    ports: [{ name: 'http', containerPort: 8080 }],
    readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
  });
}

/** A pod on `node` serving /healthz on port 8080 (echo-server.ts), Ready once it answers. */
export function echoPod(name: string, node: string, extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 2,
      containers: [echoContainer()],
      volumes: [fixturesVolume],
      ...extra,
    },
  };
}

/** Whether an echoPod at `ip` answers its health check within 1.5 s. */
export async function echoAnswers(ip: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${ip}:8080/healthz`, { signal: AbortSignal.timeout(1500) });
    return response.ok;
  } catch {
    return false;
  }
}
