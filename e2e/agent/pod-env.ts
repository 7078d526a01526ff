import type { V1Container, V1Pod } from '@kubernetes/client-node';

/** Reads of referenced objects; the agent backs them with the API server. */
export interface EnvSources {
  secretValue(namespace: string, name: string, key: string): Promise<string | undefined>;
  configMapValue(namespace: string, name: string, key: string): Promise<string | undefined>;
  secretData(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  configMapData(namespace: string, name: string): Promise<Record<string, string> | undefined>;
}

export class EnvResolutionError extends Error {
  readonly code = 'CREATE_CONTAINER_CONFIG_ERROR';
  readonly retriable = true;
}

/** The subset of fieldRef paths that the downward API supports for env vars. */
export function fieldRefValue(pod: V1Pod, fieldPath: string, hostIP: string): string | undefined {
  const labelMatch = /^metadata\.labels\['(.+)'\]$/.exec(fieldPath);
  if (labelMatch?.[1]) return pod.metadata?.labels?.[labelMatch[1]];
  const annotationMatch = /^metadata\.annotations\['(.+)'\]$/.exec(fieldPath);
  if (annotationMatch?.[1]) return pod.metadata?.annotations?.[annotationMatch[1]];
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata?.name;
    case 'metadata.namespace':
      return pod.metadata?.namespace;
    case 'metadata.uid':
      return pod.metadata?.uid;
    case 'spec.nodeName':
      return pod.spec?.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName;
    case 'status.hostIP':
      return hostIP;
    case 'status.podIP':
      return pod.status?.podIP;
    default:
      return undefined;
  }
}

/** Expands $(VAR) references the way the kubelet does; $$ escapes a literal $. */
export function expandReferences(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && name in env ? (env[name] as string) : match;
  });
}

/**
 * Builds a container's environment in the kubelet's order: envFrom first,
 * then env, each entry able to reference the ones before it.
 */
export async function resolveContainerEnv(
  pod: V1Pod,
  container: V1Container,
  podIP: string,
  hostIP: string,
  sources: EnvSources,
): Promise<Record<string, string>> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const podWithIP: V1Pod = { ...pod, status: { ...pod.status, podIP } };
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef) {
      const data = await sources.configMapData(namespace, from.configMapRef.name ?? '');
      if (!data && !from.configMapRef.optional) {
        throw new EnvResolutionError(`configmap "${from.configMapRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(data ?? {})) env[prefix + k] = v;
    }
    if (from.secretRef) {
      const data = await sources.secretData(namespace, from.secretRef.name ?? '');
      if (!data && !from.secretRef.optional) {
        throw new EnvResolutionError(`secret "${from.secretRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(data ?? {})) env[prefix + k] = v;
    }
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom;
    if (!ref) {
      env[variable.name] = expandReferences(variable.value ?? '', env);
      continue;
    }
    let value: string | undefined;
    let optional = false;
    let what = '';
    if (ref.fieldRef) {
      value = fieldRefValue(podWithIP, ref.fieldRef.fieldPath, hostIP);
      what = `fieldRef ${ref.fieldRef.fieldPath}`;
    } else if (ref.secretKeyRef) {
      value = await sources.secretValue(namespace, ref.secretKeyRef.name ?? '', ref.secretKeyRef.key);
      optional = ref.secretKeyRef.optional ?? false;
      what = `secret "${ref.secretKeyRef.name}" key "${ref.secretKeyRef.key}"`;
    } else if (ref.configMapKeyRef) {
      value = await sources.configMapValue(
        namespace,
        ref.configMapKeyRef.name ?? '',
        ref.configMapKeyRef.key,
      );
      optional = ref.configMapKeyRef.optional ?? false;
      what = `configmap "${ref.configMapKeyRef.name}" key "${ref.configMapKeyRef.key}"`;
    } else if (ref.resourceFieldRef) {
      throw new EnvResolutionError(
        `env ${variable.name}: resourceFieldRef is not supported by the harness agent`,
      );
    }
    if (value === undefined) {
      if (optional) continue;
      throw new EnvResolutionError(`env ${variable.name}: ${what} not found`);
    }
    env[variable.name] = value;
  }
  return env;
}
