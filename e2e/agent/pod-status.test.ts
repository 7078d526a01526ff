import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { describe, it } from 'node:test';
import {
  type ContainerRecord,
  type ContainerState,
  type PodRecord,
  podPhase,
  podStatus,
  type RestartPolicy,
  terminationFromExit,
} from './pod-status.ts';

const t0 = new Date('2026-01-01T00:00:00Z');
const waiting: ContainerState = { kind: 'waiting', reason: 'ContainerCreating' };
const running: ContainerState = { kind: 'running', startedAt: t0, containerID: 'weir-agent://1' };
const exited = (exitCode: number): ContainerState => ({
  kind: 'terminated',
  exitCode,
  reason: exitCode === 0 ? 'Completed' : 'Error',
  startedAt: t0,
  finishedAt: t0,
  containerID: 'weir-agent://1',
});

function container(state: ContainerState, ready = false, restartCount = 0): ContainerRecord {
  return { name: 'c', image: 'i', restartCount, state, ready };
}

function pod(
  policy: RestartPolicy,
  containers: ContainerRecord[],
  initContainers: ContainerRecord[] = [],
): PodRecord {
  return {
    restartPolicy: policy,
    hostIP: '10.244.254.1',
    podIP: '10.245.0.2',
    startTime: t0,
    containers,
    initContainers,
    previousConditions: [],
  };
}

describe('podPhase', () => {
  const cases: [string, PodRecord, string][] = [
    ['nothing started yet', pod('Never', [container(waiting)]), 'Pending'],
    ['init container still running', pod('Always', [container(waiting)], [container(running)]), 'Pending'],
    [
      'init container failed under Never',
      pod('Never', [container(waiting)], [container(exited(1))]),
      'Failed',
    ],
    [
      'init container failed under Always is retried',
      pod('Always', [container(waiting)], [container(exited(1))]),
      'Pending',
    ],
    ['a container running', pod('Never', [container(running)]), 'Running'],
    ['Never: all exited 0', pod('Never', [container(exited(0)), container(exited(0))]), 'Succeeded'],
    ['Never: one exited non-zero', pod('Never', [container(exited(0)), container(exited(137))]), 'Failed'],
    ['Never: one still running', pod('Never', [container(exited(1)), container(running)]), 'Running'],
    ['OnFailure: exit 0 is final', pod('OnFailure', [container(exited(0))]), 'Succeeded'],
    ['OnFailure: a failure restarts', pod('OnFailure', [container(exited(1))]), 'Running'],
    ['Always: even exit 0 restarts', pod('Always', [container(exited(0))]), 'Running'],
    [
      'Always: crash-looping container',
      pod('Always', [container({ kind: 'waiting', reason: 'CrashLoopBackOff' }, false, 3)]),
      'Running',
    ],
  ];
  for (const [name, record, phase] of cases) {
    it(`${name} → ${phase}`, () => assert.equal(podPhase(record), phase));
  }
  it('a pod whose setup failed under Never is Failed', () => {
    assert.equal(
      podPhase({ ...pod('Never', [container(waiting)]), setupFailure: { reason: 'X', message: 'y' } }),
      'Failed',
    );
  });
});

describe('podStatus', () => {
  it('is Ready only when every container is ready and the pod is not finished', () => {
    const ready = podStatus(pod('Always', [container(running, true), container(running, true)]), t0);
    assert.equal(ready.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    const partly = podStatus(pod('Always', [container(running, true), container(running, false)]), t0);
    const notReady = partly.conditions?.find((c) => c.type === 'Ready');
    assert.deepEqual([notReady?.status, notReady?.reason], ['False', 'ContainersNotReady']);
    const done = podStatus(pod('Never', [{ ...container(exited(0)), ready: true }]), t0);
    assert.equal(done.conditions?.find((c) => c.type === 'Ready')?.reason, 'PodCompleted');
  });

  it('keeps lastTransitionTime while a condition does not change', () => {
    const t1 = new Date('2026-01-01T00:01:00Z');
    const first = podStatus(pod('Always', [container(running, true)]), t0);
    const again = podStatus(
      { ...pod('Always', [container(running, true)]), previousConditions: first.conditions ?? [] },
      t1,
    );
    assert.equal(again.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime, t0);
    const flipped = podStatus(
      { ...pod('Always', [container(running, false)]), previousConditions: first.conditions ?? [] },
      t1,
    );
    assert.equal(flipped.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime, t1);
  });

  it('reports a terminated container with its exit code and the previous run as lastState', () => {
    const record = container(exited(137), false, 1);
    record.lastTermination = exited(2) as ContainerRecord['lastTermination'];
    const status = podStatus(pod('Never', [record]), t0).containerStatuses?.[0];
    assert.equal(status?.state?.terminated?.exitCode, 137);
    assert.equal(status?.lastState?.terminated?.exitCode, 2);
    assert.equal(status?.restartCount, 1);
    assert.equal(status?.started, false);
  });
});

describe('terminationFromExit', () => {
  it('maps a signal to 128 + its number, as container runtimes report it', () => {
    assert.deepEqual(terminationFromExit(null, 'SIGKILL', constants.signals), {
      exitCode: 137,
      signal: 9,
      reason: 'Error',
    });
    assert.deepEqual(terminationFromExit(null, 'SIGTERM', constants.signals), {
      exitCode: 143,
      signal: 15,
      reason: 'Error',
    });
  });
  it('maps exit codes to Completed and Error', () => {
    assert.deepEqual(terminationFromExit(0, null, constants.signals), { exitCode: 0, reason: 'Completed' });
    assert.deepEqual(terminationFromExit(3, null, constants.signals), { exitCode: 3, reason: 'Error' });
  });
});
