import { isManifestPartKey, manifestPartKey, savepointPrefix } from '../../api/names.ts';
import { CodedError } from '../../errors.ts';
import type { CheckpointStorage } from '../../storage/checkpoint-storage.ts';
import { ObjectMissingError } from '../../storage/checkpoint-storage.ts';
import { RuntimeError } from '../errors.ts';
import { snapshotFormatVersion } from '../state/snapshot-format.ts';
import type { PartitionPointer } from './commit-metadata.ts';

/**
 * A savepoint's manifest, written in parts: each TaskManager writes one for
 * the tasks it runs, `_manifest-t<first>-t<last>.json`. Together the parts
 * must cover every task of the savepoint's parallelism.
 */
export interface SavepointManifestPart {
  formatVersion: number;
  savepointId: string;
  namespace: string;
  job: string;
  runId: string;
  parallelism: number;
  tasks: number[];
  createdAt: string;
  /** Operator ids that hold state in this savepoint. */
  operatorIds: string[];
  /**
   * Named as the run that took it named them. `runOffset`: see
   * SavepointPartition (absent where it equals `offset`, a source partition).
   */
  partitions: {
    topic: string;
    partition: number;
    offset: number;
    pointer: PartitionPointer;
    runOffset?: number;
  }[];
}

export type SavepointManifest = Omit<SavepointManifestPart, 'tasks'>;

export async function writeManifestPart(
  storage: CheckpointStorage,
  part: SavepointManifestPart,
): Promise<string> {
  const key = manifestPartKey(part.namespace, part.job, part.savepointId, part.tasks);
  await storage.put(key, Buffer.from(`${JSON.stringify(part, null, 2)}\n`));
  return key;
}

/** Reads and merges a savepoint's manifest parts; a missing, unreadable or incomplete savepoint is an error naming what. */
export async function readManifest(
  storage: CheckpointStorage,
  namespace: string,
  job: string,
  savepointId: string,
): Promise<SavepointManifest> {
  const prefix = savepointPrefix(namespace, job, savepointId);
  const keys = (await storage.list(prefix)).filter(isManifestPartKey);
  const fail = (problem: string): never => {
    throw new RuntimeError('SAVEPOINT_INVALID', `savepoint ${storage.describe(prefix)}: ${problem}`, false);
  };
  if (keys.length === 0) {
    throw new ObjectMissingError(`${storage.describe(prefix)}_manifest-*.json`);
  }
  const parts: SavepointManifestPart[] = [];
  for (const key of keys) {
    try {
      parts.push(JSON.parse((await storage.get(key)).toString('utf8')) as SavepointManifestPart);
    } catch (error) {
      if (error instanceof CodedError) throw error;
      fail(`${key} is not JSON (${(error as Error).message})`);
    }
  }
  const first = parts[0] as SavepointManifestPart;
  for (const part of parts) {
    if (part.formatVersion !== snapshotFormatVersion) {
      fail(`manifest format version ${part.formatVersion}; this Weir reads ${snapshotFormatVersion}`);
    }
    if (part.parallelism !== first.parallelism || part.runId !== first.runId) {
      fail('manifest parts disagree on parallelism or run');
    }
  }
  const covered = new Set(parts.flatMap((p) => p.tasks));
  const missing = Array.from({ length: first.parallelism }, (_, t) => t).filter((t) => !covered.has(t));
  if (missing.length) fail(`incomplete: no manifest part for task(s) ${missing.join(', ')}`);
  return {
    formatVersion: first.formatVersion,
    savepointId,
    namespace,
    job,
    runId: first.runId,
    parallelism: first.parallelism,
    createdAt: parts.map((p) => p.createdAt).sort()[0] as string,
    operatorIds: [...new Set(parts.flatMap((p) => p.operatorIds))].sort(),
    partitions: parts.flatMap((p) => p.partitions),
  };
}

/**
 * Deletes every object of a savepoint, manifest parts first: a savepoint
 * half deleted (the TaskManager died mid-way) then reads as incomplete, and
 * no restore starts from it only to find state missing. Returns how many
 * objects it deleted.
 */
export async function disposeSavepoint(
  storage: CheckpointStorage,
  namespace: string,
  job: string,
  savepointId: string,
): Promise<number> {
  const keys = await storage.list(savepointPrefix(namespace, job, savepointId));
  for (const key of [...keys.filter(isManifestPartKey), ...keys.filter((k) => !isManifestPartKey(k))]) {
    await storage.delete(key);
  }
  return keys.length;
}

/**
 * State of operator ids the new pipeline no longer has would be dropped on
 * restore; that is refused unless the user allowed it (allowNonRestoredState).
 */
export function unrestorableOperators(
  savepointOperatorIds: readonly string[],
  pipelineOperatorIds: readonly string[],
): string[] {
  const known = new Set(pipelineOperatorIds);
  return savepointOperatorIds.filter((id) => !known.has(id));
}
