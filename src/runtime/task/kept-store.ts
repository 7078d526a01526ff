import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import type { CommittedOffset } from '../../kafka/assigned-consumer.ts';
import { decodeCommitMetadata, encodeCommitMetadata } from '../checkpoint/commit-metadata.ts';
import type { EntryMap } from '../state/entry-map.ts';
import { PartitionStores } from '../state/partition-stores.ts';
import { PartitionRuntime } from './partition-runtime.ts';
import { keptRecordPath, type TaskStateStorage } from './task-state.ts';

/*
 * Local recovery (spec.taskManager.state.persistentVolume, issue 32): a task
 * that stops gracefully, with all it read committed, keeps its disk store on
 * the pod's persistent volume and records beside it what the store stands
 * on: the run, and for each partition the committed offset and metadata (the
 * pointer) of its last commit, and the tag of each of its maps. A task of
 * the same run that starts on that volume takes the record (removing it
 * before it writes anything, so a crash later leaves none) and, once it has
 * fenced every earlier writer and read the committed offsets, reuses the
 * store when they are still exactly the recorded ones: nothing was committed
 * since, so the store holds the committed state, with no download and no
 * changelog to replay. Anything else (another run, a commit since, other
 * partitions, a record that does not read) discards the store.
 */

const recordVersion = 1;
/** A record beyond this is not one this runtime wrote. */
const maxRecordBytes = 4 * 1024 * 1024;

export interface KeptStoreRecord {
  formatVersion: number;
  runId: string;
  partitions: {
    topic: string;
    partition: number;
    /** The committed offset; absent when the partition has none. */
    offset?: number;
    metadata?: string;
    /** Store name → the disk store's tag of its map. */
    stores: Record<string, string>;
  }[];
}

/** The record of a store kept by a graceful stop, written whole (a temporary file, synced, renamed). */
export function recordKeptStore(
  storePath: string,
  runId: string,
  partitions: readonly PartitionRuntime[],
  state: Pick<TaskStateStorage, 'tagOf'>,
): void {
  const tagOf = (map: EntryMap) => {
    if (!state.tagOf) throw new Error('only a disk store is kept');
    return state.tagOf(map);
  };
  const record: KeptStoreRecord = {
    formatVersion: recordVersion,
    runId,
    partitions: partitions.map((p) => ({
      ...p.tp,
      ...(p.position !== undefined && p.pointer
        ? { offset: p.position, metadata: encodeCommitMetadata(p.pointer) }
        : {}),
      stores: Object.fromEntries([...p.stores.stores].map(([name, map]) => [name, tagOf(map)])),
    })),
  };
  const path = keptRecordPath(storePath);
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, JSON.stringify(record));
  const fd = openSync(temporary, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/**
 * Takes the record of a kept store: read and removed, so whatever happens
 * next, no later start reuses a store this one may write to. Undefined when
 * there is none; `problem` when there is one that does not read as a record.
 */
export function takeKeptStoreRecord(storePath: string): { record?: KeptStoreRecord; problem?: string } {
  const path = keptRecordPath(storePath);
  let text: string;
  try {
    const bytes = readFileSync(path);
    text = bytes.length > maxRecordBytes ? '' : bytes.toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { problem: `${path} cannot be read: ${(error as Error).message}` };
  }
  try {
    unlinkSync(path);
  } catch (error) {
    return { problem: `${path} cannot be removed: ${(error as Error).message}` };
  }
  const record = parseRecord(text);
  return typeof record === 'string' ? { problem: `${path}: ${record}` } : { record };
}

function parseRecord(text: string): KeptStoreRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON (or over 4 MiB)';
  }
  const r = value as Partial<KeptStoreRecord> | null;
  if (!r || r.formatVersion !== recordVersion)
    return `format ${String(r?.formatVersion)}, not ${recordVersion}`;
  if (typeof r.runId !== 'string' || !Array.isArray(r.partitions)) return 'no run or partitions';
  for (const p of r.partitions) {
    const ok =
      typeof p?.topic === 'string' &&
      Number.isSafeInteger(p.partition) &&
      (p.offset === undefined || Number.isSafeInteger(p.offset)) &&
      (p.metadata === undefined || typeof p.metadata === 'string') &&
      typeof p.stores === 'object' &&
      p.stores !== null &&
      Object.values(p.stores).every((tag) => typeof tag === 'string');
    if (!ok) return 'a partition entry is malformed';
  }
  return r as KeptStoreRecord;
}

/** Why the kept store cannot stand for the committed state; undefined when it can. */
export function keptStoreMismatch(
  record: KeptStoreRecord,
  runId: string,
  committed: readonly CommittedOffset[],
): string | undefined {
  if (record.runId !== runId) return `it was kept by run ${record.runId}`;
  const byId = new Map(record.partitions.map((p) => [`${p.topic}/${p.partition}`, p]));
  if (byId.size !== committed.length)
    return `it holds ${byId.size} partition(s), the task owns ${committed.length}`;
  for (const c of committed) {
    const id = `${c.topic}/${c.partition}`;
    const kept = byId.get(id);
    if (!kept) return `it does not hold ${id}`;
    const same =
      c.offset < 0 ? kept.offset === undefined : kept.offset === c.offset && kept.metadata === c.metadata;
    if (!same)
      return `${id} was committed at ${c.offset} since (the store stands on ${kept.offset ?? 'none'})`;
  }
  return undefined;
}

/** The owned partitions on the kept store's maps, at their committed offsets and pointers. */
export function adoptKeptStore(
  record: KeptStoreRecord,
  committed: readonly CommittedOffset[],
  state: TaskStateStorage,
): PartitionRuntime[] {
  const adopt = (tag: string) => {
    if (!state.adopt) throw new Error('a kept store is adopted by a disk store only');
    return state.adopt(tag);
  };
  const byId = new Map(record.partitions.map((p) => [`${p.topic}/${p.partition}`, p]));
  return committed.map((c) => {
    const id = `${c.topic}/${c.partition}`;
    const kept = byId.get(id) as KeptStoreRecord['partitions'][number];
    const stores = PartitionStores.adopt(
      Object.entries(kept.stores).map(([name, tag]) => [name, adopt(tag)] as const),
      state,
      id,
    );
    const tp = { topic: c.topic, partition: c.partition };
    if (c.offset < 0) return new PartitionRuntime(tp, stores);
    return new PartitionRuntime(tp, stores, c.offset, decodeCommitMetadata(id, c.metadata));
  });
}
