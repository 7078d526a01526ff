import type { PartitionStores } from '../state/partition-stores.ts';
import type { TaskStateStorage } from './task-state.ts';

/** What a promoted task takes over from its standby: the warm stores, and where each partition's changelog replay resumes. */
export interface WarmState {
  state: TaskStateStorage;
  /** By partition id ("topic/partition"). */
  partitions: ReadonlyMap<string, { stores: PartitionStores; changelogFrom: number }>;
}
