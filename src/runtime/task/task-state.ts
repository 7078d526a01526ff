import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskManagerConfig } from '../config.ts';
import { DiskStateStore, type DiskStoreStats } from '../state/disk-store.ts';
import { type EntryMap, heapStateStorage, type StateStorage } from '../state/entry-map.ts';

/** A task's state storage for as long as the task runs; close() releases it (and a disk store's files). */
export interface TaskStateStorage extends StateStorage {
  /** With `keep` (a disk store on a persistent volume, stopped gracefully): left on the volume for reuse. */
  close(options?: { keep?: boolean }): Promise<void>;
  /** A disk store's directory, and the tag of each map it made (what a kept store's record names). */
  path?: string;
  tagOf?(map: EntryMap): string;
  adopt?(tag: string): EntryMap;
  /** The disk store's figures, when state is on disk (for metrics). */
  stats?(): DiskStoreStats;
}

/**
 * Opens where one task keeps its keyed state (spec.taskManager.state): a
 * disk store in the task's own directory of the state volume, with its share
 * of the TaskManager's cache, or the heap.
 */
export function openTaskState(
  state: TaskManagerConfig['state'],
  where: { stage: number; task: number; tasksInProcess: number },
  options: { reuse?: boolean } = {},
): TaskStateStorage {
  if (state.store === 'heap') return { ...heapStateStorage, close: async () => undefined };
  const path = taskStatePath(state, where);
  // A store opened anew invalidates the record of one kept there before (kept-store.ts).
  if (!options.reuse) rmSync(keptRecordPath(path), { force: true });
  // The store itself, not a wrapper naming its methods: one that left out snapshot() sent background rounds
  // back to keeping copy-on-write values in the heap.
  return DiskStateStore.open({
    path,
    cacheBytes: Math.floor(state.cacheBytes / Math.max(1, where.tasksInProcess)),
    ...(options.reuse ? { reuse: true } : {}),
  });
}

/** Where the record of a store kept by a graceful stop lives, beside the store (kept-store.ts). */
export function keptRecordPath(storePath: string): string {
  return `${storePath}.kept.json`;
}

/** The directory of one task's disk store. */
export function taskStatePath(
  state: TaskManagerConfig['state'],
  where: { stage: number; task: number },
): string {
  return join(state.directory ?? processStateRoot(), `stage-${where.stage}-task-${where.task}`);
}

let processRoot: string | undefined;

/**
 * Outside a pod (`weir run --local`, the tests' TaskManager processes) state
 * goes under the system's temporary directory, one directory per process.
 * A process killed with SIGKILL cannot remove its own, so the first store
 * opened removes those of processes that no longer run.
 */
function processStateRoot(): string {
  if (processRoot) return processRoot;
  const parent = join(tmpdir(), 'weir-state');
  let entries: string[] = [];
  try {
    entries = readdirSync(parent);
  } catch {
    // none yet
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid || running(pid)) continue;
    try {
      rmSync(join(parent, entry), { recursive: true, force: true });
    } catch {
      // Best effort: processes starting together clean the same directories at once (ENOTEMPTY, ENOENT
      // from the other's removal); whatever is left, the next start removes. It must never fail a task.
    }
  }
  processRoot = join(parent, String(process.pid));
  return processRoot;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
