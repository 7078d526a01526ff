import type { V1Container, V1Pod } from '@kubernetes/client-node';
import type { ImageSpec } from './image-map.ts';
import { expandReferences } from './pod-env.ts';

const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class ContainerConfigError extends Error {
  readonly code = 'CREATE_CONTAINER_CONFIG_ERROR';
  readonly retriable = false;
}

/** The container's argv: command/args override the image's ENTRYPOINT/CMD as in Kubernetes. */
export function containerArgv(
  container: V1Container,
  image: ImageSpec,
  env: Record<string, string>,
): string[] {
  const command = container.command?.length ? container.command : image.entrypoint;
  const args = container.command?.length || container.args?.length ? (container.args ?? []) : image.cmd;
  const argv = [...command, ...args].map((part) => expandReferences(part, env));
  if (argv.length === 0) {
    throw new ContainerConfigError(`container ${container.name}: no command, and image has no entrypoint`);
  }
  return argv;
}

/** The environment every container sees before its own env: image ENV, then what the kubelet injects. */
export function baseEnv(
  pod: V1Pod,
  image: ImageSpec,
  apiServer: { host: string; port: number },
): Record<string, string> {
  const { host, port } = apiServer;
  return {
    PATH: defaultPath,
    ...image.env,
    HOSTNAME: pod.metadata?.name ?? '',
    KUBERNETES_SERVICE_HOST: host,
    KUBERNETES_SERVICE_PORT: String(port),
    KUBERNETES_SERVICE_PORT_HTTPS: String(port),
    KUBERNETES_PORT: `tcp://${host}:${port}`,
  };
}

/** uid:gid to run as, and whether the root filesystem is read-only; container settings override the pod's. */
export function securitySettings(
  pod: V1Pod,
  container: V1Container,
): { user?: { uid: number; gid: number }; readOnlyRoot: boolean } {
  const podContext = pod.spec?.securityContext ?? {};
  const context = container.securityContext ?? {};
  const uid = context.runAsUser ?? podContext.runAsUser;
  const gid = context.runAsGroup ?? podContext.runAsGroup ?? 0;
  const runAsNonRoot = context.runAsNonRoot ?? podContext.runAsNonRoot ?? false;
  if (runAsNonRoot && (uid === undefined || uid === 0)) {
    throw new ContainerConfigError(
      `container ${container.name}: runAsNonRoot is set but runAsUser is ${uid === undefined ? 'unset (the image user is root)' : '0'}`,
    );
  }
  return {
    ...(uid !== undefined && uid !== 0 ? { user: { uid, gid } } : {}),
    readOnlyRoot: context.readOnlyRootFilesystem ?? false,
  };
}
