import type { StreamJobSpec } from '../../api/streamjob.ts';

/**
 * A complete StreamJob spec as the API server stores it after defaulting, for
 * the decision tests; each test overrides what it is about.
 */
export function testingSpec(overrides: Partial<StreamJobSpec> = {}): StreamJobSpec {
  return {
    image: 'img:1',
    entry: 'job.js',
    parallelism: 2,
    taskSlots: 1,
    kafka: { bootstrapServers: 'k:9092' },
    checkpoints: {
      storage: { url: 's3://weir/jobs', region: 'us-east-1' },
      interval: '10s',
      mode: 'exactly-once',
      timeout: '60s',
      tolerableFailures: 3,
      retained: 3,
    },
    restartStrategy: { type: 'fixed-delay', attempts: 2, delay: '5s' },
    failoverStrategy: 'region',
    state: 'running',
    restartNonce: 0,
    savepointTriggerNonce: 0,
    allowNonRestoredState: false,
    upgradeMode: 'savepoint',
    upgrade: {
      rollback: true,
      savepointFallback: true,
      stableTimeout: '5m',
      savepointTimeout: '2m',
      warmup: false,
      warmupTimeout: '5m',
    },
    savepoints: { historyMaxCount: 10, onDeletion: false },
    ...overrides,
  };
}
