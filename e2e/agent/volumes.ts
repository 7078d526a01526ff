import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import type { V1KeyToPath, V1Pod, V1Volume, V1VolumeProjection } from '@kubernetes/client-node';
import { fieldRefValue } from './pod-env.ts';

/** The reads and the token request a pod's volumes need; backed by the API server. */
export interface VolumeSources {
  configMap(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  secret(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  serviceAccountToken(
    namespace: string,
    serviceAccount: string,
    pod: { name: string; uid: string },
    expirationSeconds: number,
    audience?: string,
  ): Promise<{ token: string; expiresAt: Date }>;
}

export class VolumeSetupError extends Error {
  readonly code = 'FAILED_MOUNT';
  readonly retriable = true;
}

export interface PreparedVolume {
  name: string;
  hostPath: string;
  /** Earliest time a projected token in this volume must be rewritten. */
  refreshAt?: Date;
}

async function writeAtomically(path: string, content: Buffer | string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, content, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

function safeRelative(path: string, volume: string): string {
  const clean = normalize(path);
  if (clean.startsWith('..') || clean.startsWith('/')) {
    throw new VolumeSetupError(`volume ${volume}: item path "${path}" escapes the volume`);
  }
  return clean;
}

async function writeKeys(
  dir: string,
  volume: string,
  data: Record<string, Buffer>,
  items: V1KeyToPath[] | undefined,
  defaultMode: number,
  what: string,
): Promise<void> {
  const entries = items?.length
    ? items.map((item) => {
        const value = data[item.key];
        if (value === undefined)
          throw new VolumeSetupError(`volume ${volume}: ${what} has no key "${item.key}"`);
        return { path: item.path, value, mode: item.mode ?? defaultMode };
      })
    : Object.entries(data).map(([key, value]) => ({ path: key, value, mode: defaultMode }));
  for (const entry of entries) {
    await writeAtomically(join(dir, safeRelative(entry.path, volume)), entry.value, entry.mode);
  }
}

async function projectSource(
  pod: V1Pod,
  hostIP: string,
  dir: string,
  volume: string,
  source: V1VolumeProjection,
  defaultMode: number,
  sources: VolumeSources,
): Promise<Date | undefined> {
  const namespace = pod.metadata?.namespace ?? 'default';
  if (source.configMap) {
    const data = await sources.configMap(namespace, source.configMap.name ?? '');
    if (!data) {
      if (source.configMap.optional) return undefined;
      throw new VolumeSetupError(`volume ${volume}: configmap "${source.configMap.name}" not found`);
    }
    await writeKeys(
      dir,
      volume,
      data,
      source.configMap.items,
      defaultMode,
      `configmap "${source.configMap.name}"`,
    );
  }
  if (source.secret) {
    const data = await sources.secret(namespace, source.secret.name ?? '');
    if (!data) {
      if (source.secret.optional) return undefined;
      throw new VolumeSetupError(`volume ${volume}: secret "${source.secret.name}" not found`);
    }
    await writeKeys(dir, volume, data, source.secret.items, defaultMode, `secret "${source.secret.name}"`);
  }
  if (source.downwardAPI) {
    for (const item of source.downwardAPI.items ?? []) {
      if (!item.fieldRef)
        throw new VolumeSetupError(`volume ${volume}: only fieldRef downwardAPI items are supported`);
      const value = fieldRefValue(pod, item.fieldRef.fieldPath, hostIP) ?? '';
      await writeAtomically(join(dir, safeRelative(item.path, volume)), value, item.mode ?? defaultMode);
    }
  }
  if (source.serviceAccountToken) {
    const expirationSeconds = source.serviceAccountToken.expirationSeconds ?? 3600;
    const issued = await sources.serviceAccountToken(
      namespace,
      pod.spec?.serviceAccountName ?? 'default',
      { name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' },
      expirationSeconds,
      source.serviceAccountToken.audience,
    );
    await writeAtomically(
      join(dir, safeRelative(source.serviceAccountToken.path, volume)),
      issued.token,
      defaultMode,
    );
    // Rewrite at 80% of the lifetime, as the kubelet does.
    const lifetime = issued.expiresAt.getTime() - Date.now();
    return new Date(Date.now() + lifetime * 0.8);
  }
  return undefined;
}

/** configMap, secret and downwardAPI volumes are single-source projections; one code path writes them all. */
function asProjection(volume: V1Volume): { sources: V1VolumeProjection[]; mode: number } | undefined {
  if (volume.configMap) {
    const { name, items, optional, defaultMode } = volume.configMap;
    return { sources: [{ configMap: { name, items, optional } }], mode: defaultMode ?? 0o644 };
  }
  if (volume.secret) {
    const { secretName, items, optional, defaultMode } = volume.secret;
    return { sources: [{ secret: { name: secretName, items, optional } }], mode: defaultMode ?? 0o644 };
  }
  if (volume.downwardAPI) {
    return {
      sources: [{ downwardAPI: { items: volume.downwardAPI.items } }],
      mode: volume.downwardAPI.defaultMode ?? 0o644,
    };
  }
  if (volume.projected)
    return { sources: volume.projected.sources ?? [], mode: volume.projected.defaultMode ?? 0o644 };
  return undefined;
}

/** Materialises one volume under the pod's directory; safe to call again to refresh it. */
export async function prepareVolume(
  pod: V1Pod,
  hostIP: string,
  podDir: string,
  volume: V1Volume,
  sources: VolumeSources,
): Promise<PreparedVolume> {
  const dir = join(podDir, 'volumes', volume.name);
  if (volume.hostPath) return { name: volume.name, hostPath: volume.hostPath.path };
  await mkdir(dir, { recursive: true });
  if (volume.emptyDir) {
    // Containers may run as any user; an emptyDir is world-writable in Kubernetes too.
    await chmod(dir, 0o777);
    return { name: volume.name, hostPath: dir };
  }
  const projection = asProjection(volume);
  if (projection) {
    let refreshAt: Date | undefined;
    for (const source of projection.sources) {
      const at = await projectSource(pod, hostIP, dir, volume.name, source, projection.mode, sources);
      if (at && (!refreshAt || at < refreshAt)) refreshAt = at;
    }
    return { name: volume.name, hostPath: dir, ...(refreshAt ? { refreshAt } : {}) };
  }
  const kind = Object.keys(volume).find((k) => k !== 'name') ?? 'unknown';
  throw new VolumeSetupError(
    `volume ${volume.name}: type "${kind}" is not supported by the harness agent (supported: emptyDir, configMap, secret, projected, downwardAPI, hostPath)`,
  );
}

export async function removePodDir(podDir: string): Promise<void> {
  await rm(podDir, { recursive: true, force: true });
}
