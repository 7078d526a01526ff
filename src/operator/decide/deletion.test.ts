import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finalSavepointFinalizer } from '../../api/constants.ts';
import type { StreamJob, StreamJobStatus } from '../../api/streamjob.ts';
import { type DeletionInput, decideDeletion, decideJobDeletion, finalizerChange } from './deletion.ts';
import type { ObservedPod } from './observation.ts';
import { testingSpec } from './testing-spec.ts';

const t0 = new Date('2026-11-30T10:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const tms = [
  { pod: 'job-tm-0', podIP: '10.0.0.1' },
  { pod: 'job-tm-1', podIP: '10.0.0.2' },
];
const locate = (id: string) => `s3://weir/ns/job/savepoints/${id}/`;
const input = (fields: Partial<DeletionInput> = {}): DeletionInput => ({
  onDeletion: true,
  phase: 'Running',
  running: tms,
  live: tms,
  now: t0,
  timeoutMs: 120_000,
  outcome: undefined,
  locate,
  ...fields,
});
const pending: StreamJobStatus = {
  finalSavepoint: { id: 'deletion-20261130t100000z', startedAt: t0.toISOString() },
};

describe('finalizerChange', () => {
  const cases = [
    { onDeletion: true, finalizers: undefined, change: 'addFinalizer' },
    { onDeletion: true, finalizers: ['other'], change: 'addFinalizer' },
    { onDeletion: true, finalizers: [finalSavepointFinalizer], change: undefined },
    { onDeletion: false, finalizers: ['other', finalSavepointFinalizer], change: 'removeFinalizer' },
    { onDeletion: false, finalizers: ['other'], change: undefined },
    { onDeletion: false, finalizers: undefined, change: undefined },
  ] as const;
  for (const c of cases) {
    it(`onDeletion ${c.onDeletion}, finalizers ${JSON.stringify(c.finalizers)}: ${c.change ?? 'nothing'}`, () => {
      assert.equal(finalizerChange(c.onDeletion, c.finalizers)?.kind, c.change);
    });
  }
});

describe('decideDeletion', () => {
  const cases: {
    name: string;
    status?: StreamJobStatus;
    input: Partial<DeletionInput>;
    action: string;
    events: string[];
    finalSavepoint?: string;
    history?: string[];
  }[] = [
    {
      name: 'Running: the intent is recorded and every TaskManager stops with the final savepoint',
      input: {},
      action: 'stopWithSavepoint',
      events: ['FinalSavepointRequested'],
      finalSavepoint: 'deletion-20261130t100000z',
    },
    {
      name: 'not every task runs: released without a savepoint, with a Warning',
      input: { phase: 'Restarting', running: undefined, live: tms.slice(0, 1) },
      action: 'removeFinalizer',
      events: ['FinalSavepointSkipped'],
    },
    {
      name: 'Suspended: released without a savepoint',
      input: { phase: 'Suspended', running: undefined, live: [] },
      action: 'removeFinalizer',
      events: ['FinalSavepointSkipped'],
    },
    {
      name: 'the setting was turned off before the deletion: released at once',
      input: { onDeletion: false },
      action: 'removeFinalizer',
      events: [],
    },
    {
      name: 'in progress (an operator restart): the live TaskManagers are asked again with the same id',
      status: pending,
      input: { now: at(30) },
      action: 'stopWithSavepoint',
      events: [],
      finalSavepoint: 'deletion-20261130t100000z',
    },
    {
      name: 'complete: recorded in the history, its location in an event, released',
      status: pending,
      input: { now: at(5), live: [], outcome: { id: 'deletion-20261130t100000z', ok: true } },
      action: 'removeFinalizer',
      events: ['SavepointCompleted', 'FinalSavepointCompleted'],
      finalSavepoint: 'deletion-20261130t100000z',
      history: ['deletion-20261130t100000z'],
    },
    {
      name: 'failed: released with a Warning',
      status: pending,
      input: { now: at(5), outcome: { id: 'deletion-20261130t100000z', ok: false, message: 'HTTP 500' } },
      action: 'removeFinalizer',
      events: ['FinalSavepointSkipped'],
      finalSavepoint: 'deletion-20261130t100000z',
    },
    {
      name: 'timed out: released with a Warning',
      status: pending,
      input: { now: at(121) },
      action: 'removeFinalizer',
      events: ['FinalSavepointSkipped'],
      finalSavepoint: 'deletion-20261130t100000z',
    },
    {
      name: 'the TaskManagers are gone without an answer: released with a Warning',
      status: pending,
      input: { now: at(10), live: [] },
      action: 'removeFinalizer',
      events: ['FinalSavepointSkipped'],
      finalSavepoint: 'deletion-20261130t100000z',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const status = structuredClone(c.status ?? {});
      const decision = decideDeletion(status, input(c.input));
      assert.equal(decision.action?.kind, c.action);
      assert.deepEqual(
        decision.events.map((e) => e.reason),
        c.events,
      );
      assert.equal(status.finalSavepoint?.id, c.finalSavepoint);
      assert.deepEqual(
        (status.savepoints ?? []).map((s) => s.id),
        c.history ?? [],
      );
      if (decision.action?.kind === 'stopWithSavepoint') {
        assert.equal(decision.action.id, c.finalSavepoint);
        assert.deepEqual(decision.action.targets, c.input.live ?? tms);
      }
    });
  }

  it('the completion event names where the savepoint is and how to restore it', () => {
    const status = structuredClone(pending);
    const decision = decideDeletion(
      status,
      input({ outcome: { id: 'deletion-20261130t100000z', ok: true } }),
    );
    const event = decision.events.find((e) => e.reason === 'FinalSavepointCompleted');
    assert.match(event?.message ?? '', /s3:\/\/weir\/ns\/job\/savepoints\/deletion-20261130t100000z\//);
    assert.match(event?.message ?? '', /spec\.initialSavepoint/);
  });
});

describe('decideJobDeletion', () => {
  const job = (status: StreamJobStatus): StreamJob => ({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'StreamJob',
    metadata: { name: 'job', namespace: 'ns', uid: 'u1' },
    spec: testingSpec({
      parallelism: 2,
      taskSlots: 1,
      savepoints: { historyMaxCount: 10, onDeletion: true },
    }),
    status,
  });
  const pod = (index: number, over: Partial<ObservedPod> = {}): ObservedPod => ({
    name: `job-tm-${index}`,
    uid: `uid-${index}`,
    index,
    restartEpoch: 0,
    specHash: 'h',
    runId: 'r',
    phase: 'Running',
    ready: true,
    deleting: false,
    podIP: `10.0.0.${index + 1}`,
    ...over,
  });
  const observe = (pods: ObservedPod[]) => ({ pods, nodes: new Map(), released: new Set<string>() });
  const running: StreamJobStatus = { phase: 'Running', pods: ['job-tm-0', 'job-tm-1'] };

  it('asks every tracked pod for the final savepoint when all of the deployment runs, recording the intent first', () => {
    const decision = decideJobDeletion(job(running), observe([pod(0), pod(1), pod(2)]), t0);
    assert.equal(decision.action?.kind, 'stopWithSavepoint');
    assert.deepEqual(decision.action?.kind === 'stopWithSavepoint' && decision.action.targets, tms);
    assert.ok(decision.status.finalSavepoint, 'the intent is in the status to record');
    assert.equal(job(running).status?.finalSavepoint, undefined, "the job's own status is left as it was");
  });

  it('releases the job, saying why, when a pod of the deployment is not Ready', () => {
    const decision = decideJobDeletion(job(running), observe([pod(0), pod(1, { ready: false })]), t0);
    assert.equal(decision.action?.kind, 'removeFinalizer');
    assert.match(decision.events[0]?.message ?? '', /not every task runs/);
  });

  it('completes with the observed outcome of the savepoint it asked for', () => {
    const status = { ...running, ...pending };
    const outcome = { id: 'deletion-20261130t100000z', ok: true as const };
    const decision = decideJobDeletion(
      job(status),
      { ...observe([pod(0), pod(1)]), savepointOutcome: outcome },
      at(5),
    );
    assert.equal(decision.action?.kind, 'removeFinalizer');
    assert.ok(decision.events.some((e) => e.reason === 'FinalSavepointCompleted'));
    assert.equal(decision.status.savepoints?.at(-1)?.id, outcome.id, 'kept in the savepoint history');
  });
});
