import type { Logger } from 'pino';
import type { OffsetReset } from '../../kafka/wire/record-fetcher.ts';
import type { JobDefinition, StageDefinition } from '../../sdk/pipeline.ts';
import type { CheckpointStorage } from '../../storage/checkpoint-storage.ts';
import type { TaskManagerConfig } from '../config.ts';
import type { TaskMetrics } from '../metrics.ts';
import type { RepartitionRoute } from '../repartition/route.ts';
import type { ChangelogRoute } from '../state/changelog.ts';
import type { TopicPartition } from './assignment.ts';
import type { PartitionRuntime } from './partition-runtime.ts';
import type { StageExecutor } from './stage-executor.ts';
import type { TaskConsumer, TaskProducer } from './task-clients.ts';
import type { TaskStateStorage } from './task-state.ts';
import type { WarmRestore, WarmState } from './warm-state.ts';

/** What a StreamTask is made with; its restore and checkpoints (task-restore.ts, checkpointer.ts) read it too. */
export interface StreamTaskDeps {
  config: TaskManagerConfig;
  index: number;
  job: JobDefinition;
  /** The stage this task runs; a TaskManager runs its task indexes of every stage. */
  stage: StageDefinition;
  storage: CheckpointStorage;
  /** The storage at another s3:// URL, with this job's endpoint and credentials (a savepoint of another job). */
  storageAt: (url: string) => CheckpointStorage;
  metrics: TaskMetrics;
  log: Logger;
  now: () => number;
  /**
   * A promoted standby's warm state (standby-task.ts handOver): the restore
   * takes its stores instead of downloading snapshots, and replays only the
   * changelog's tail. Absent, or resolving to undefined, for a cold restore.
   */
  warm?: () => Promise<WarmState | undefined>;
  /**
   * Opens the task's clients and restores its partitions: task-restore.ts's
   * openTask unless a test gives its own. `onReset` hears of each position
   * its consumer moves by spec.kafka.offsetOutOfRange.
   */
  open?: (
    deps: StreamTaskDeps,
    label: string,
    log: Logger,
    onReset: (reset: OffsetReset) => void,
  ) => Promise<OpenedTask>;
}

/** What a restored task runs with: its clients, its partitions as committed state left them, its stage's routing. */
export interface OpenedTask {
  producer: TaskProducer;
  consumer: TaskConsumer;
  partitions: PartitionRuntime[];
  executor: StageExecutor;
  /** The repartition topic the stage writes, when it ends in a keyBy. */
  route: RepartitionRoute | undefined;
  /** The stage's changelog, when its state is logged (exactly-once, stateful). */
  changelog?: ChangelogRoute | undefined;
  /** The input partitions the task owns. */
  owned: TopicPartition[];
  transactionalId: string | undefined;
  /** Where the partitions' state lives; closed with the task. */
  state: TaskStateStorage;
  /** A promoted standby's restore: whether its warm state was used, and why not. */
  warmRestore?: WarmRestore;
}
