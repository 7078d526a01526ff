import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamJob, StreamJobSpec, StreamJobStatus } from '../../api/streamjob.ts';
import { type Decision, decide, specHash } from './decide.ts';
import type { Observation, ObservedNode, ObservedPod } from './observation.ts';
import type { Action, DecideOptions } from './pass.ts';
import { testingSpec } from './testing-spec.ts';

const t0 = new Date('2026-03-01T12:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const options: DecideOptions = {
  nodeLostTimeoutMs: 30_000,
  degradedWindowMs: 300_000,
  random: () => 0.5,
  newRunId: () => 'run1',
};

function job(spec: Partial<StreamJobSpec> = {}, status?: StreamJobStatus, generation = 1): StreamJob {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'StreamJob',
    metadata: { name: 'wc', namespace: 'ns', uid: 'u1', generation },
    spec: testingSpec({ parallelism: 4, taskSlots: 2, ...spec }),
    ...(status ? { status } : {}),
  };
}

function pod(index: number, overrides: Partial<ObservedPod> = {}, of: StreamJob = job()): ObservedPod {
  return {
    name: `wc-tm-${index}`,
    uid: `uid-${index}`,
    index,
    restartEpoch: 0,
    specHash: specHash(of),
    runId: 'run1',
    phase: 'Running',
    ready: true,
    deleting: false,
    nodeName: 'n1',
    ...overrides,
  };
}

function seen(
  pods: ObservedPod[],
  nodes: ObservedNode[] = [{ name: 'n1', ready: true }],
  released: string[] = [],
): Observation {
  return { pods, nodes: new Map(nodes.map((n) => [n.name, n])), released: new Set(released) };
}

/** Decides, then feeds the decided status back, as the controller's record step does. */
function step(
  current: StreamJob,
  observation: Observation,
  now: Date,
): { next: StreamJob; decision: Decision } {
  const decision = decide(current, observation, now, options);
  return { next: { ...current, status: decision.status }, decision };
}

const creates = (d: Decision) =>
  d.actions
    .filter((a): a is Extract<Action, { kind: 'createPod' }> => a.kind === 'createPod')
    .map((a) => a.pod.index);
const deletes = (d: Decision) =>
  d.actions
    .filter((a): a is Extract<Action, { kind: 'deletePod' }> => a.kind === 'deletePod')
    .map((a) => `${a.name}${a.force ? '!' : ''}`);
const condition = (d: Decision, type: string) => d.status.conditions?.find((c) => c.type === type);
const reasons = (d: Decision): string[] => d.events.map((e) => e.reason);

/** A job that has been through one pass and has all its pods running and ready. */
function runningJob(spec: Partial<StreamJobSpec> = {}) {
  const j = job(spec);
  const { next } = step(j, seen([]), t0);
  const pods = [pod(0, {}, j), pod(1, {}, j)];
  const { next: running, decision } = step(next, seen(pods), at(1));
  assert.equal(decision.status.phase, 'Running');
  return { job: running, pods };
}

describe('decide', () => {
  it('deploys a new job: ceil(parallelism / taskSlots) pods, a run id, phase Deploying', () => {
    const d = decide(job({ parallelism: 5, taskSlots: 2 }), seen([]), t0, options);
    assert.deepEqual(creates(d), [0, 1, 2]);
    assert.equal(d.status.phase, 'Deploying');
    assert.equal(d.status.run?.id, 'run1');
    assert.deepEqual(d.status.tasks, { ready: 0, total: 5, pods: 3 });
    assert.equal(condition(d, 'Ready')?.status, 'False');
    assert.equal(condition(d, 'Progressing')?.status, 'True');
    assert.deepEqual(
      d.actions.slice(0, 2).map((a) => a.kind),
      ['ensureNetworkPolicy', 'ensureTokenSecret'],
      'the policy and the Secret come before the pods that mount it',
    );
    assert.deepEqual(reasons(d), ['Deploying']);
  });

  it('ensures the token Secret only where it makes pods: a running job with all its pods asks only for its NetworkPolicy (sent once per operator process)', () => {
    const { job: running, pods } = runningJob();
    assert.deepEqual(decide(running, seen(pods), at(2), options).actions, [{ kind: 'ensureNetworkPolicy' }]);
  });

  it('is Running with all tasks ready, and every condition carries the generation', () => {
    const { job: running } = runningJob();
    assert.equal(running.status?.tasks?.ready, 4);
    assert.equal(running.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    for (const c of running.status?.conditions ?? []) assert.equal(c.observedGeneration, 1);
  });

  it('is idempotent: the same observation decided again changes nothing and acts the same', () => {
    const { job: running, pods } = runningJob();
    const first = decide(running, seen(pods), at(2), options);
    const second = decide({ ...running, status: first.status }, seen(pods), at(2), options);
    assert.deepEqual(second.status, first.status);
    assert.deepEqual(second.actions, first.actions);
    assert.deepEqual(second.events, []);
  });

  it('region failover: a failed pod is counted once, deleted alone, and recreated after the delay', () => {
    const { job: running, pods } = runningJob();
    const failed = [
      pod(0, { phase: 'Failed', ready: false, terminationMessage: 'exit code 137' }),
      pods[1] as ObservedPod,
    ];
    const { next, decision } = step(running, seen(failed), at(10));
    assert.equal(decision.status.restarts?.count, 1);
    assert.equal(decision.status.restarts?.lastFailure?.reason, 'PodFailed');
    assert.match(decision.status.restarts?.lastFailure?.message ?? '', /exit code 137/);
    assert.deepEqual(deletes(decision), ['wc-tm-0']);
    assert.deepEqual(creates(decision), []);
    assert.equal(decision.status.phase, 'Restarting');
    assert.equal(decision.status.restarts?.nextRestartAt, at(15).toISOString());
    assert.equal(decision.requeueAfterMs, 5000);
    assert.deepEqual(reasons(decision), ['TaskFailed', 'RestartScheduled', 'Restarting']);

    // Still failed and not yet gone: no second count.
    const again = decide(next, seen(failed), at(11), options);
    assert.equal(again.status.restarts?.count, 1);
    // Gone, and the delay has passed: only index 0 is recreated.
    const { decision: due } = step(next, seen([pods[1] as ObservedPod]), at(15));
    assert.deepEqual(creates(due), [0]);
    assert.equal(due.status.restarts?.nextRestartAt, undefined);
    assert.equal(due.status.restarts?.lastRestartAt, at(15).toISOString());
  });

  it('full failover: one failure replaces every pod', () => {
    const { job: running, pods } = runningJob({ failoverStrategy: 'full' });
    const failed = [pod(0, { phase: 'Failed', ready: false }), pods[1] as ObservedPod];
    const { decision } = step(running, seen(failed), at(10));
    assert.equal(decision.status.restartEpoch, 1);
    assert.deepEqual(deletes(decision).sort(), ['wc-tm-0', 'wc-tm-1']);
    assert.equal(decision.status.restarts?.count, 1, 'the replaced healthy pod is not a failure');
  });

  it('counts a pod deleted out from under the operator', () => {
    const { job: running, pods } = runningJob();
    const d = decide(running, seen([pods[1] as ObservedPod]), at(10), options);
    assert.equal(d.status.restarts?.lastFailure?.reason, 'PodDeleted');
    assert.equal(d.status.restarts?.count, 1);
  });

  it('fixed-delay: the failure after the last attempt fails the job and removes its pods', () => {
    let { job: current, pods } = runningJob();
    let decision: Decision | undefined;
    for (let failure = 1; failure <= 3; failure++) {
      const second = at(failure * 100);
      ({ next: current, decision } = step(
        current,
        seen([pod(0, { phase: 'Failed', ready: false }), pods[1] as ObservedPod]),
        second,
      ));
      if (failure < 3) {
        assert.equal(decision.status.phase, 'Restarting', `failure ${failure}`);
        ({ next: current } = step(current, seen([pods[1] as ObservedPod]), at(failure * 100 + 10)));
        ({ next: current } = step(current, seen(pods), at(failure * 100 + 11)));
        pods = [pod(0), pods[1] as ObservedPod];
      }
    }
    assert.ok(decision);
    assert.equal(decision.status.phase, 'Failed');
    const ready = condition(decision, 'Ready');
    assert.equal(ready?.reason, 'RestartStrategyExhausted');
    assert.match(ready?.message ?? '', /fixed-delay: failure 3 exceeds the 2 restart attempts/);
    assert.deepEqual(deletes(decision).sort(), ['wc-tm-0', 'wc-tm-1']);
    assert.ok(reasons(decision).includes('RestartStrategyExhausted'));
    // Failed stays Failed: nothing is recreated.
    const later = decide(current, seen([]), at(1000), options);
    assert.equal(later.status.phase, 'Failed');
    assert.deepEqual(creates(later), []);
  });

  it('a Failed job is revived by a restartNonce change', () => {
    const failed = job(
      {},
      { phase: 'Failed', observedGeneration: 1, observedRestartNonce: 0, restartEpoch: 0, pods: [] },
    );
    const d = decide({ ...failed, spec: { ...failed.spec, restartNonce: 1 } }, seen([]), t0, options);
    assert.equal(d.status.phase, 'Deploying');
    assert.deepEqual(creates(d), [0, 1]);
    assert.equal(d.status.restartEpoch, 1);
  });

  it('a savepointTriggerNonce change on a Failed job neither revives it nor takes a savepoint', () => {
    const failed = job(
      { savepointTriggerNonce: 1 },
      {
        phase: 'Failed',
        observedGeneration: 1,
        observedRestartNonce: 0,
        observedSavepointTriggerNonce: 0,
        restartEpoch: 0,
        restarts: { count: 3, consecutive: 3, recentFailures: [] },
        pods: [],
      },
      2,
    );
    const d = decide(failed, seen([]), t0, options);
    assert.equal(d.status.phase, 'Failed', 'only restartNonce or a change that needs new pods revives it');
    assert.deepEqual(creates(d), []);
    assert.equal(d.status.restarts?.count, 3, 'the failure history is kept');
    assert.equal(d.status.observedSavepointTriggerNonce, 1, 'skipped: nothing runs');
    assert.ok(reasons(d).includes('SavepointSkipped'));
  });

  it('a change that needs new pods revives a Failed job from its last committed state', () => {
    const failed = job(
      { image: 'img:2' },
      {
        phase: 'Failed',
        observedGeneration: 1,
        observedRestartNonce: 0,
        restartEpoch: 0,
        restarts: { count: 3, consecutive: 3, recentFailures: [] },
        pods: [],
        deployment: { spec: job().spec, generation: 1, time: t0.toISOString() },
        run: { id: 'run1' },
      },
      2,
    );
    const d = decide(failed, seen([]), at(1), options);
    assert.equal(d.status.phase, 'Upgrading');
    assert.deepEqual(creates(d), [0, 1]);
    assert.equal(d.status.restarts?.count, 0);
    assert.equal(d.status.run?.id, 'run1', 'the same run: last-state');
    assert.equal(d.status.upgrade?.step, 'Deploying');
    assert.equal(d.status.upgrade?.mode, 'last-state');
  });

  it('restartNonce replaces every pod without counting failures', () => {
    const { job: running, pods } = runningJob();
    const d = decide({ ...running, spec: { ...running.spec, restartNonce: 7 } }, seen(pods), at(5), options);
    assert.deepEqual(deletes(d).sort(), ['wc-tm-0', 'wc-tm-1']);
    assert.equal(d.status.restarts?.count ?? 0, 0);
    assert.ok(reasons(d).includes('RestartRequested'));
  });

  it('suspends by deleting pods (not failures) and resumes by creating them', () => {
    const { job: running, pods } = runningJob();
    const suspended = { ...running, spec: { ...running.spec, state: 'suspended' as const } };
    const { next, decision } = step(suspended, seen(pods), at(5));
    assert.deepEqual(deletes(decision).sort(), ['wc-tm-0', 'wc-tm-1']);
    assert.equal(decision.status.phase, 'Suspended');
    assert.equal(decision.status.restarts?.count ?? 0, 0);
    const resumed = decide({ ...next, spec: { ...next.spec, state: 'running' } }, seen([]), at(6), options);
    assert.deepEqual(creates(resumed), [0, 1]);
    assert.equal(resumed.status.phase, 'Deploying');
  });

  it('a pod on a NotReady node is lost only after the timeout, then force-deleted', () => {
    const { job: running, pods } = runningJob();
    const down = [{ name: 'n1', ready: false, notReadySince: at(100) }];
    const early = decide(running, seen(pods, down), at(120), options);
    assert.equal(early.status.restarts?.count ?? 0, 0);
    assert.equal(early.requeueAfterMs, 10_000);
    const late = decide(running, seen(pods, down), at(130), options);
    assert.equal(late.status.restarts?.count, 2);
    assert.equal(late.status.restarts?.lastFailure?.reason, 'NodeLost');
    assert.deepEqual(deletes(late).sort(), ['wc-tm-0!', 'wc-tm-1!']);
  });

  it('a pod on a NotReady node makes the job Restarting, naming the node, before the timeout', () => {
    const { job: running, pods } = runningJob();
    const down = [{ name: 'n1', ready: false, notReadySince: at(100) }];
    const notReady = pods.map((p) => ({ ...p, ready: false }));
    const d = decide(running, seen(notReady, down), at(112), options);
    assert.equal(d.status.phase, 'Restarting');
    assert.equal(d.status.restarts?.count ?? 0, 0, 'nothing is counted before the node-lost timeout');
    assert.deepEqual(deletes(d), []);
    assert.equal(condition(d, 'Ready')?.reason, 'NodeNotReady');
    assert.match(
      condition(d, 'Ready')?.message ?? '',
      /pod wc-tm-0: NodeNotReady: node n1 is not Ready since 2026-03-01T12:01:40.000Z; the pod is replaced elsewhere 30s after/,
    );
    assert.ok(reasons(d).includes('Restarting') && reasons(d).includes('NodeNotReady'), reasons(d).join());
    assert.equal(condition(d, 'Degraded')?.status, 'True');
    const back = decide({ ...running, status: d.status }, seen(pods), at(113), options);
    assert.equal(back.status.phase, 'Running', 'the node came back before the timeout');
  });

  describe('health by progress', () => {
    const windowed = (): ReturnType<typeof runningJob> =>
      runningJob({ checkpoints: { ...testingSpec().checkpoints, interval: '1s', progressWindow: '6s' } });
    const report = (task: number, podIndex: number, over: Record<string, unknown> = {}) => ({
      task,
      state: 'running',
      checkpointId: 3,
      consecutiveFailures: 0,
      lag: 40,
      sinceCommitMs: 500,
      pod: `wc-tm-${podIndex}`,
      podUid: `uid-${podIndex}`,
      ...over,
    });

    it('a pod whose own report shows a task stalled past the window is deleted and counted as NoProgress', () => {
      const { job: running, pods } = windowed();
      const checkpoints = [report(0, 0), report(1, 0, { sinceCommitMs: 7_400 }), report(2, 1), report(3, 1)];
      const d = decide(running, { ...seen(pods), checkpoints }, at(10), options);
      assert.deepEqual(deletes(d), ['wc-tm-0'], 'deleted, not forced: the TaskManager says why as it stops');
      assert.equal(d.status.restarts?.count, 1);
      assert.equal(d.status.restarts?.lastFailure?.reason, 'NoProgress');
      assert.equal(
        d.status.restarts?.lastFailure?.message,
        'pod wc-tm-0 made no progress: NO_PROGRESS: no commit within the progress window of 6s: task 1 (lag 40, last commit 7s ago)',
      );
      assert.ok(reasons(d).includes('TaskFailed'));
    });

    const healthy: [string, Record<string, unknown>][] = [
      ['within the window', { sinceCommitMs: 6_000 }],
      ['restoring', { state: 'restoring', sinceCommitMs: 60_000 }],
      ['stopping', { state: 'stopping', sinceCommitMs: 60_000 }],
      ['from a TaskManager too old to say', { sinceCommitMs: undefined }],
      ['from an earlier pod of the same name', { sinceCommitMs: 60_000, podUid: 'uid-old' }],
    ];
    for (const [what, over] of healthy) {
      it(`a report ${what} is no failure`, () => {
        const { job: running, pods } = windowed();
        const d = decide(running, { ...seen(pods), checkpoints: [report(0, 0, over)] }, at(10), options);
        assert.equal(d.status.restarts?.count ?? 0, 0);
        assert.deepEqual(deletes(d), []);
      });
    }

    it('a TaskManager that failed its liveness probe for want of progress is counted as NoProgress too', () => {
      const { job: running, pods } = windowed();
      const message =
        'exit code 1: NO_PROGRESS: no commit within the progress window of 6s: task 0 (lag 3, last commit 8s ago)';
      const failed = [
        { ...(pods[0] as ObservedPod), phase: 'Failed' as const, terminationMessage: message },
        pods[1] as ObservedPod,
      ];
      const d = decide(running, seen(failed), at(10), options);
      assert.equal(d.status.restarts?.lastFailure?.reason, 'NoProgress');
      assert.equal(d.status.restarts?.lastFailure?.message, `pod wc-tm-0 failed: ${message}`);
    });
  });

  it('a last-state upgrade replaces the pods and resets the failure history', () => {
    const { job: running, pods } = runningJob({ upgradeMode: 'last-state' });
    const withFailure = {
      ...running,
      status: { ...running.status, restarts: { count: 1, consecutive: 1, recentFailures: [] } },
    };
    const changed = {
      ...withFailure,
      metadata: { ...withFailure.metadata, generation: 2 },
      spec: { ...withFailure.spec, image: 'img:2' },
    };
    const d = decide(changed, seen(pods), at(5), options);
    assert.deepEqual(deletes(d).sort(), ['wc-tm-0', 'wc-tm-1']);
    assert.equal(d.status.restarts?.count, 0);
    assert.equal(d.status.observedGeneration, 2);
  });

  it('waits for a terminating pod of the same name before recreating it', () => {
    const { job: running, pods } = runningJob();
    const d = decide(
      running,
      seen([pod(0, { deleting: true, ready: false }), pods[1] as ObservedPod]),
      at(5),
      options,
    );
    assert.equal(d.status.restarts?.count, 1);
    assert.deepEqual(creates(d), []);
  });

  it('keeps lastTransitionTime while a condition holds', () => {
    const { job: running, pods } = runningJob();
    const before = running.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
    const d = decide(running, seen(pods), at(500), options);
    assert.equal(condition(d, 'Ready')?.lastTransitionTime, before);
  });

  it('does not adopt again a pod it gave up on that a lagging cache still shows running', () => {
    const { job: running, pods } = runningJob();
    const down = [{ name: 'n1', ready: false, notReadySince: at(100) }];
    const { next, decision } = step(running, seen(pods, down), at(130));
    assert.equal(decision.status.restarts?.count, 2);
    // The next pass still sees the force-deleted pods, now on a Ready node.
    const stale = decide(
      next,
      seen(pods, [{ name: 'n1', ready: true }], ['uid-0', 'uid-1']),
      at(131),
      options,
    );
    assert.deepEqual(stale.status.pods, []);
    const gone = decide({ ...next, status: stale.status }, seen([]), at(132), options);
    assert.equal(gone.status.restarts?.count, 2, 'no second failure when they finally disappear');
  });

  it('records checkpoint progress only when the TaskManagers were asked, and polls while Running', () => {
    const { job: running, pods } = runningJob();
    const polled = { ...options, checkpointPollIntervalMs: 10_000 };
    const unasked = decide(running, seen(pods), at(5), polled);
    assert.equal(unasked.status.checkpoint, undefined);
    assert.equal(unasked.requeueAfterMs, 10_000, 'a Running job is reconciled again to poll');
    assert.equal(decide(running, seen(pods), at(5), options).requeueAfterMs, undefined);

    const reports = [0, 1, 2, 3].map((task) => ({
      task,
      state: 'running',
      lag: 0,
      pod: `wc-tm-${Math.floor(task / 2)}`,
      podUid: `uid-${Math.floor(task / 2)}`,
      checkpointId: 10 + task,
      committedAsOf: at(3 - task),
      consecutiveFailures: task === 2 ? 1 : 0,
    }));
    const asked = decide(running, { ...seen(pods), checkpoints: reports }, at(5), polled);
    assert.deepEqual(asked.status.checkpoint, {
      latestCompleted: { id: 10, time: at(0).toISOString() },
      consecutiveFailures: 1,
      lagRecords: 0,
    });
    assert.ok(reasons(asked).includes('CheckpointFailing'));

    const suspended = job({ state: 'suspended' }, asked.status);
    const quiet = decide(suspended, seen([]), at(6), polled);
    assert.equal(quiet.requeueAfterMs, undefined, 'no polling once nothing runs');
    assert.deepEqual(quiet.status.checkpoint, asked.status.checkpoint, 'the last progress stays visible');
  });

  it('starts a new run from spec.initialSavepoint, once, and replaces the pods of the old run', () => {
    let runs = 0;
    const fresh = { ...options, newRunId: () => `run${++runs}` };
    const created = decide(job({ initialSavepoint: 'manual-1' }), seen([]), t0, fresh);
    assert.deepEqual(created.status.run, { id: 'run1', restoredFrom: 'manual-1' });
    assert.ok(reasons(created).includes('RestoringFromSavepoint'));

    const { job: running, pods } = runningJob();
    const rewound = decide(
      { ...running, spec: { ...running.spec, initialSavepoint: 'manual-2' } },
      seen(pods),
      at(5),
      fresh,
    );
    assert.equal(rewound.status.run?.restoredFrom, 'manual-2');
    assert.notEqual(rewound.status.run?.id, running.status?.run?.id);
    assert.equal(rewound.status.restartEpoch, (running.status?.restartEpoch ?? 0) + 1);
    assert.deepEqual(deletes(rewound).sort(), ['wc-tm-0', 'wc-tm-1']);

    const again = decide(
      { ...running, spec: { ...running.spec, initialSavepoint: 'manual-2' }, status: rewound.status },
      seen([]),
      at(6),
      fresh,
    );
    assert.equal(
      again.status.run?.id,
      rewound.status.run?.id,
      'the same savepoint does not start yet another run',
    );
    const removed = decide({ ...running, status: rewound.status }, seen([]), at(7), fresh);
    assert.deepEqual(removed.status.run, rewound.status.run, 'removing initialSavepoint changes nothing');
  });

  it('takes a savepoint on a new savepointTriggerNonce only when every pod is Ready and has an address', () => {
    const { job: running, pods } = runningJob();
    const withIPs = pods.map((p, i) => ({ ...p, podIP: `10.245.0.${i + 2}` }));
    const bumped = { ...running, spec: { ...running.spec, savepointTriggerNonce: 1 } };
    const missingIP = decide(
      bumped,
      seen([withIPs[0] as ObservedPod, pods[1] as ObservedPod]),
      at(5),
      options,
    );
    assert.equal(
      missingIP.actions.some((a) => a.kind === 'triggerSavepoint'),
      false,
    );
    const d = decide(bumped, seen(withIPs), at(5), options);
    const trigger = d.actions.find((a) => a.kind === 'triggerSavepoint');
    assert.deepEqual(trigger && 'targets' in trigger ? trigger.targets.map((t) => t.pod) : [], [
      'wc-tm-0',
      'wc-tm-1',
    ]);
    assert.equal(d.status.savepointInProgress?.id, trigger && 'id' in trigger ? trigger.id : undefined);
  });
});

describe('decide: a pod the API server refuses', () => {
  it('says so in Ready=False PodRejected with the server’s message, and a Warning event once', () => {
    const refused = {
      pod: 'wc-tm-0',
      message:
        'the API server refused to create it: Pod "wc-tm-0" is invalid: spec.tolerations[0].operator: Invalid value: "Sometimes": value must be Exists or Equal',
    };
    const first = step(job(), { ...seen([]), podRejections: [refused] }, at(0));
    const ready = first.decision.status.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'PodRejected');
    assert.match(
      ready?.message ?? '',
      /pod wc-tm-0: PodRejected: the API server refused to create it: Pod "wc-tm-0" is invalid: spec\.tolerations\[0\]\.operator/,
    );
    assert.deepEqual(
      first.decision.events.filter((e) => e.reason === 'PodRejected').map((e) => e.type),
      ['Warning'],
    );
    const again = step(first.next, { ...seen([]), podRejections: [refused] }, at(30));
    assert.deepEqual(
      again.decision.events.filter((e) => e.reason === 'PodRejected'),
      [],
      'the same refusal is not news',
    );
  });
});
