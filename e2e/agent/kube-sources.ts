import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { EnvSources } from './pod-env.ts';
import type { VolumeSources } from './volumes.ts';

function isNotFound(error: unknown): boolean {
  return (error as { code?: number }).code === 404;
}

async function orUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Reads Secrets, ConfigMaps and ServiceAccount tokens for pods, as the kubelet does. */
export function kubeSources(kubeConfig: KubeConfig): EnvSources & VolumeSources {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const secretBytes = async (namespace: string, name: string) => {
    const secret = await orUndefined(core.readNamespacedSecret({ name, namespace }));
    if (!secret) return undefined;
    const data: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64');
    for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] = Buffer.from(v);
    return data;
  };
  const configMapBytes = async (namespace: string, name: string) => {
    const configMap = await orUndefined(core.readNamespacedConfigMap({ name, namespace }));
    if (!configMap) return undefined;
    const data: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(configMap.data ?? {})) data[k] = Buffer.from(v);
    for (const [k, v] of Object.entries(configMap.binaryData ?? {})) data[k] = Buffer.from(v, 'base64');
    return data;
  };
  const asStrings = (data: Record<string, Buffer> | undefined) =>
    data ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString('utf8')])) : undefined;
  return {
    secret: secretBytes,
    configMap: configMapBytes,
    secretData: async (namespace, name) => asStrings(await secretBytes(namespace, name)),
    configMapData: async (namespace, name) => asStrings(await configMapBytes(namespace, name)),
    secretValue: async (namespace, name, key) =>
      (await secretBytes(namespace, name))?.[key]?.toString('utf8'),
    configMapValue: async (namespace, name, key) =>
      (await configMapBytes(namespace, name))?.[key]?.toString('utf8'),
    async serviceAccountToken(namespace, serviceAccount, pod, expirationSeconds, audience) {
      const response = await core.createNamespacedServiceAccountToken({
        name: serviceAccount,
        namespace,
        body: {
          spec: {
            audiences: audience ? [audience] : [],
            expirationSeconds,
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid },
          },
        },
      });
      const token = response.status?.token;
      if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
      return {
        token,
        expiresAt: new Date(response.status?.expirationTimestamp ?? Date.now() + expirationSeconds * 1000),
      };
    },
  };
}
