import type { TaskStatusDocument } from '../../api/control-api.ts';
import type { AssignedConsumer } from '../../kafka/assigned-consumer.ts';
import type { ChangelogRoute } from '../state/changelog.ts';
import type { PartitionStores } from '../state/partition-stores.ts';
import type { TaskStateStorage } from './task-state.ts';

/** What a promoted task takes over from its standby: the warm stores, and where each partition's changelog replay resumes. */
export interface WarmState {
  state: TaskStateStorage;
  /** By partition id ("topic/partition"), named as the warmed run names them. */
  partitions: ReadonlyMap<string, { stores: PartitionStores; changelogFrom: number }>;
  /**
   * A warm upgrade's state (WEIR_WARM_FROM_RUN): warmed from that run's
   * changelog, which a savepoint restore of the new run replays to its end
   * (warm-upgrade.ts). Absent: the standby's own run.
   */
  fromRun?: {
    runId: string;
    changelog: ChangelogRoute;
    /** The standby's client of that run's offset group, still connected (its coordinator known): the check's to close. */
    offsets?: AssignedConsumer;
  };
}

/** How a promoted task's restore used a standby's state (the task's status reports it); absent when it had none. */
export type WarmRestore = NonNullable<TaskStatusDocument['warmRestore']>;
