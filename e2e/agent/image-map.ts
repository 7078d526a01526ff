import { readFileSync } from 'node:fs';

/**
 * The agent runs containers as host processes, so an "image" is a directory
 * made visible inside the pod's mount namespace, plus the ENTRYPOINT, CMD,
 * WORKDIR and ENV a real image would carry.
 */
export interface ImageSpec {
  /** Host directory → path inside the pod, like the layers of an image. */
  mounts: Record<string, string>;
  workingDir: string;
  entrypoint: string[];
  cmd: string[];
  env: Record<string, string>;
}

export class ImageMapError extends Error {
  readonly code = 'IMAGE_MAP_INVALID';
  readonly retriable = false;
}

function stringArray(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new ImageMapError(`${where} must be an array of strings`);
  }
  return value;
}

function stringRecord(value: unknown, where: string): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ImageMapError(`${where} must be an object of strings`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new ImageMapError(`${where}.${key} must be a string`);
  }
  return value as Record<string, string>;
}

export function parseImageMap(text: string, source: string): Map<string, ImageSpec> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ImageMapError(`${source}: not valid JSON: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ImageMapError(`${source}: expected an object of image name → spec`);
  }
  const images = new Map<string, ImageSpec>();
  for (const [name, value] of Object.entries(raw)) {
    const where = `${source}: images["${name}"]`;
    if (typeof value !== 'object' || value === null) throw new ImageMapError(`${where} must be an object`);
    const spec = value as Record<string, unknown>;
    const mounts = stringRecord(spec.mounts, `${where}.mounts`);
    for (const target of Object.values(mounts)) {
      if (!target.startsWith('/'))
        throw new ImageMapError(`${where}.mounts: target "${target}" must be absolute`);
    }
    const workingDir = spec.workingDir ?? '/';
    if (typeof workingDir !== 'string' || !workingDir.startsWith('/')) {
      throw new ImageMapError(`${where}.workingDir must be an absolute path`);
    }
    images.set(name, {
      mounts,
      workingDir,
      entrypoint: stringArray(spec.entrypoint, `${where}.entrypoint`),
      cmd: stringArray(spec.cmd, `${where}.cmd`),
      env: stringRecord(spec.env, `${where}.env`),
    });
  }
  return images;
}

export function loadImageMap(path: string): Map<string, ImageSpec> {
  return parseImageMap(readFileSync(path, 'utf8'), path);
}

/** Exact name first, then the name without its tag, so `weir:dev` and `weir` can differ. */
export function resolveImage(images: Map<string, ImageSpec>, image: string): ImageSpec | undefined {
  return images.get(image) ?? images.get(image.replace(/:[^:/]+$/, ''));
}
