import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadTaskManagerConfig } from './config.ts';

const base: NodeJS.ProcessEnv = {
  WEIR_NAMESPACE: 'prod',
  WEIR_JOB: 'wc',
  WEIR_RUN_ID: 'r1',
  WEIR_TASKS: '2,3',
  WEIR_PARALLELISM: '4',
  WEIR_ENTRY: '/opt/weir/jobs/wc/job.js',
  WEIR_ARGS: '{"input":"lines"}',
  WEIR_OFFSET_GROUP: 'weir.prod.wc.r1',
  WEIR_CHECKPOINT_MODE: 'exactly-once',
  WEIR_CHECKPOINT_INTERVAL: '5s',
  WEIR_S3_URL: 's3://state/wc',
  WEIR_KAFKA_BOOTSTRAP: 'kafka:9092',
  WEIR_CONTROL_TOKEN: 'secret',
  POD_IP: '10.0.0.7',
};

describe('TaskManager configuration from the pod environment', () => {
  it('reads what the operator sets', () => {
    const config = loadTaskManagerConfig(base);
    assert.deepEqual(config.tasks, [2, 3]);
    assert.equal(config.checkpoint.intervalMs, 5000);
    assert.equal(config.checkpoint.tolerableFailures, 3);
    assert.deepEqual(config.args, { input: 'lines' });
    assert.deepEqual(config.control, { host: undefined, port: 8081, token: 'secret' });
    assert.equal(config.storage.kind, 's3');
  });

  it('listens on every address in a pod, and on loopback only outside one', () => {
    assert.equal(loadTaskManagerConfig(base).control.host, undefined);
    assert.equal(loadTaskManagerConfig({ ...base, POD_IP: undefined }).control.host, '127.0.0.1');
  });

  const invalid: [string, NodeJS.ProcessEnv, RegExp][] = [
    ['a missing job', { WEIR_JOB: '' }, /^WEIR_JOB is required/],
    [
      'a zero checkpoint interval',
      { WEIR_CHECKPOINT_INTERVAL: '0s' },
      /^WEIR_CHECKPOINT_INTERVAL must be from 1ms/,
    ],
    [
      'a timeout past what a timer keeps',
      { WEIR_CHECKPOINT_TIMEOUT: '600h' },
      /^WEIR_CHECKPOINT_TIMEOUT must be from 1ms to 2147483647 ms/,
    ],
    ['a task outside the parallelism', { WEIR_TASKS: '4' }, /^WEIR_TASKS must list task indexes from 0 to 3/],
    ['args that are not JSON', { WEIR_ARGS: '{' }, /^WEIR_ARGS is not JSON/],
    ['an unknown mode', { WEIR_CHECKPOINT_MODE: 'maybe' }, /^WEIR_CHECKPOINT_MODE must be/],
    ['a bad interval', { WEIR_CHECKPOINT_INTERVAL: 'soon' }, /^WEIR_CHECKPOINT_INTERVAL/],
    ['no token', { WEIR_CONTROL_TOKEN: undefined }, /^WEIR_CONTROL_TOKEN is required/],
    ['a standby flag that is not a boolean', { WEIR_STANDBY: 'yes' }, /^WEIR_STANDBY must be true or false/],
    [
      'a local recovery flag that is not a boolean',
      { WEIR_STATE_LOCAL_RECOVERY: 'yes' },
      /^WEIR_STATE_LOCAL_RECOVERY must be true or false/,
    ],
    [
      'local recovery of heap state',
      { WEIR_STATE_LOCAL_RECOVERY: 'true', WEIR_STATE_STORE: 'heap' },
      /^WEIR_STATE_LOCAL_RECOVERY needs WEIR_STATE_STORE disk/,
    ],
    [
      'a warm upgrade run on a pod that is not a standby',
      { WEIR_WARM_FROM_RUN: 'r1', WEIR_RESTORE_SAVEPOINT: 'upgrade-1' },
      /^WEIR_WARM_FROM_RUN needs WEIR_STANDBY=true and WEIR_RESTORE_SAVEPOINT/,
    ],
    [
      'a warm upgrade run without the savepoint its run restores from',
      { WEIR_WARM_FROM_RUN: 'r1', WEIR_STANDBY: 'true' },
      /^WEIR_WARM_FROM_RUN needs WEIR_STANDBY=true and WEIR_RESTORE_SAVEPOINT/,
    ],
    [
      'a standby of an at-least-once job',
      { WEIR_STANDBY: 'true', WEIR_CHECKPOINT_MODE: 'at-least-once' },
      /^WEIR_STANDBY needs WEIR_CHECKPOINT_MODE exactly-once/,
    ],
  ];
  for (const [what, change, message] of invalid) {
    it(`rejects ${what}, naming the variable`, () => {
      assert.throws(
        () => loadTaskManagerConfig({ ...base, ...change }),
        (error: unknown) => {
          assert.equal((error as { code?: string }).code, 'INVALID_CONFIG');
          assert.match((error as Error).message, message);
          return true;
        },
      );
    });
  }

  it('reads each credential from its file in WEIR_SECRETS_DIR before the variable, as a pod gets them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-credentials-'));
    writeFileSync(join(dir, 'WEIR_CONTROL_TOKEN'), 'from-file');
    writeFileSync(join(dir, 'WEIR_S3_ACCESS_KEY'), 'AKIA-FILE');
    writeFileSync(join(dir, 'WEIR_S3_SECRET_KEY'), 'secret-file');
    const config = loadTaskManagerConfig({ ...base, WEIR_SECRETS_DIR: dir, WEIR_CONTROL_TOKEN: 'from-env' });
    assert.equal(config.control.token, 'from-file');
    assert.equal(config.storage.kind === 's3' && config.storage.secretAccessKey, 'secret-file');
    const noFiles = loadTaskManagerConfig({ ...base, WEIR_SECRETS_DIR: join(dir, 'absent') });
    assert.equal(noFiles.control.token, 'secret', 'no file: the variable, for a TaskManager run by hand');
  });
});
