import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stoppedOnSigtermMessage } from '../../api/control-api.ts';
import { decideFailures, type FailuresInput } from './failures.ts';
import type { ObservedNode, ObservedPod } from './observation.ts';
import { resolveRestartStrategy } from './restart-strategy.ts';

const t0 = new Date('2026-03-01T12:00:00Z');
const pod = (index: number, o: Partial<ObservedPod> = {}): ObservedPod => ({
  name: `wc-tm-${index}`,
  uid: `u${index}`,
  index,
  restartEpoch: 0,
  specHash: 'h',
  runId: 'r',
  phase: 'Running',
  ready: true,
  deleting: false,
  nodeName: 'n1',
  ...o,
});
function input(
  pods: ObservedPod[],
  o: Partial<FailuresInput> = {},
  node: ObservedNode = { name: 'n1', ready: true },
): FailuresInput {
  return {
    tracked: new Set(['wc-tm-0', 'wc-tm-1']),
    observation: { pods, nodes: new Map([['n1', node]]), released: new Set() },
    now: t0,
    nodeLostTimeoutMs: 30_000,
    strategy: resolveRestartStrategy({ type: 'fixed-delay', attempts: 2, delay: '5s' }),
    failoverStrategy: 'region',
    restarts: undefined,
    random: () => 0.5,
    ...o,
  };
}

const cases: [string, FailuresInput, string, string[]][] = [
  ['all running', input([pod(0), pod(1)]), 'none', []],
  [
    'one failed',
    input([pod(0, { phase: 'Failed', terminationMessage: 'exit 1' }), pod(1)]),
    'restart',
    ['PodFailed'],
  ],
  ['one gone', input([pod(1)]), 'restart', ['PodDeleted']],
  ['one exited 0', input([pod(0, { phase: 'Succeeded' }), pod(1)]), 'restart', ['PodSucceeded']],
  [
    'node down, within the timeout',
    input([pod(0), pod(1)], {}, { name: 'n1', ready: false, notReadySince: new Date(t0.getTime() - 10_000) }),
    'none',
    [],
  ],
  [
    'node lost',
    input([pod(0), pod(1)], {}, { name: 'n1', ready: false, notReadySince: new Date(t0.getTime() - 30_000) }),
    'restart',
    ['NodeLost', 'NodeLost'],
  ],
  [
    'beyond the attempts',
    input([pod(0, { phase: 'Failed' }), pod(1)], {
      restarts: { count: 2, consecutive: 2, recentFailures: [] },
    }),
    'fail',
    ['PodFailed'],
  ],
];

describe('decideFailures', () => {
  for (const [what, given, kind, failureReasons] of cases) {
    it(`${what}: ${kind}`, () => {
      const d = decideFailures(given);
      assert.equal(d.kind, kind);
      assert.deepEqual(d.kind === 'none' ? [] : d.failures.map((f) => f.reason), failureReasons);
    });
  }
  it('full failover replaces every pod; a later pending restart time is kept', () => {
    const later = new Date(t0.getTime() + 60_000).toISOString();
    const d = decideFailures(
      input([pod(0, { phase: 'Failed' }), pod(1)], {
        failoverStrategy: 'full',
        restarts: { count: 0, consecutive: 0, recentFailures: [], nextRestartAt: later },
      }),
    );
    assert.ok(d.kind === 'restart' && d.replaceAll);
    assert.equal(d.kind === 'restart' ? d.restarts.nextRestartAt : '', later);
  });
});

describe('a pod that ended with exit code 0 without being deleted', () => {
  const messageOf = (terminationMessage?: string) => {
    const decision = decideFailures(
      input([pod(0, { phase: 'Succeeded', ...(terminationMessage ? { terminationMessage } : {}) }), pod(1)]),
    );
    assert.ok(decision.kind === 'restart');
    return decision.failures[0]?.message;
  };

  it('was stopped by the kubelet when its TaskManager stopped on SIGTERM: named so, not as a success', () => {
    assert.equal(
      messageOf(`exit code 0: ${stoppedOnSigtermMessage}`),
      "pod wc-tm-0 was stopped by the kubelet without being deleted, most likely because its liveness probe failed (see the pod's Unhealthy events); it committed its work before it exited",
    );
  });

  it('otherwise exited on its own, with what its container said', () => {
    assert.equal(messageOf('exit code 0'), 'pod wc-tm-0 exited unexpectedly with success (exit code 0)');
    assert.equal(messageOf(), 'pod wc-tm-0 exited unexpectedly with success');
  });
});

describe('a job the restart strategy gives up on', () => {
  it('says why its tasks failed, not only that the strategy is exhausted', () => {
    const cause = 'exit code 2: JOB_MODULE_LOAD_FAILED: cannot load job module /app/src/jobs/nope.ts';
    const decision = decideFailures(
      input([pod(0, { phase: 'Failed', ready: false, terminationMessage: cause }), pod(1)], {
        strategy: resolveRestartStrategy({ type: 'none' }),
      }),
    );
    assert.equal(decision.kind, 'fail');
    if (decision.kind !== 'fail') return;
    assert.equal(
      decision.message,
      `restart strategy none: a task failed; last: pod wc-tm-0 failed: ${cause}`,
    );
    assert.equal(
      decision.events.find((e) => e.reason === 'RestartStrategyExhausted')?.message,
      decision.message,
    );
  });
});
