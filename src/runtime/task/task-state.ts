import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskManagerConfig } from '../config.ts';
import { DiskStateStore, type DiskStoreStats } from '../state/disk-store.ts';
import { heapStateStorage, type StateStorage } from '../state/entry-map.ts';

/** A task's state storage for as long as the task runs; close() releases it (and a disk store's files). */
export interface TaskStateStorage extends StateStorage {
  close(): Promise<void>;
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
): TaskStateStorage {
  if (state.store === 'heap') return { ...heapStateStorage, close: async () => undefined };
  // The store itself, not a wrapper naming its methods: one that left out snapshot() sent background rounds
  // back to keeping copy-on-write values in the heap.
  return DiskStateStore.open({
    path: join(state.directory ?? processStateRoot(), `stage-${where.stage}-task-${where.task}`),
    cacheBytes: Math.floor(state.cacheBytes / Math.max(1, where.tasksInProcess)),
  });
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
