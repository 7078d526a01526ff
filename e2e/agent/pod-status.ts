import type {
  V1ContainerState,
  V1ContainerStatus,
  V1PodCondition,
  V1PodStatus,
} from '@kubernetes/client-node';

/** What the agent knows about one container; the pod status is derived from these alone. */
export interface ContainerRecord {
  name: string;
  image: string;
  restartCount: number;
  state: ContainerState;
  lastTermination?: Terminated;
  ready: boolean;
}

export interface Terminated {
  kind: 'terminated';
  exitCode: number;
  signal?: number;
  reason: string;
  message?: string;
  startedAt: Date;
  finishedAt: Date;
  containerID: string;
}

export type ContainerState =
  | { kind: 'waiting'; reason: string; message?: string }
  | { kind: 'running'; startedAt: Date; containerID: string }
  | Terminated;

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export interface PodRecord {
  restartPolicy: RestartPolicy;
  hostIP: string;
  podIP?: string;
  startTime: Date;
  initContainers: ContainerRecord[];
  containers: ContainerRecord[];
  /** Set when the pod could not be set up at all (bad image, bad volume). */
  setupFailure?: { reason: string; message: string };
  previousConditions: V1PodCondition[];
}

function containerState(state: ContainerState): V1ContainerState {
  switch (state.kind) {
    case 'waiting':
      return { waiting: { reason: state.reason, message: state.message } };
    case 'running':
      return { running: { startedAt: state.startedAt } };
    case 'terminated':
      return { terminated: terminatedState(state) };
  }
}

function terminatedState(t: Terminated) {
  return {
    exitCode: t.exitCode,
    signal: t.signal,
    reason: t.reason,
    message: t.message,
    startedAt: t.startedAt,
    finishedAt: t.finishedAt,
    containerID: t.containerID,
  };
}

function containerStatus(record: ContainerRecord): V1ContainerStatus {
  const state = record.state;
  return {
    name: record.name,
    image: record.image,
    imageID: `weir-agent://${record.image}`,
    containerID: state.kind === 'waiting' ? undefined : state.containerID,
    ready: record.ready,
    started: state.kind === 'running',
    restartCount: record.restartCount,
    state: containerState(state),
    lastState: record.lastTermination ? { terminated: terminatedState(record.lastTermination) } : {},
  };
}

/** Whether a terminated container will not be started again under the pod's restart policy. */
export function isFinal(state: ContainerState, policy: RestartPolicy): boolean {
  if (state.kind !== 'terminated') return false;
  if (policy === 'Never') return true;
  if (policy === 'OnFailure') return state.exitCode === 0;
  return false;
}

export function podPhase(pod: PodRecord): NonNullable<V1PodStatus['phase']> {
  if (pod.setupFailure && pod.restartPolicy === 'Never') return 'Failed';
  const initFailed = pod.initContainers.some(
    (c) => c.state.kind === 'terminated' && c.state.exitCode !== 0 && isFinal(c.state, pod.restartPolicy),
  );
  if (initFailed) return 'Failed';
  const initDone = pod.initContainers.every((c) => c.state.kind === 'terminated' && c.state.exitCode === 0);
  if (!initDone) return 'Pending';
  const states = pod.containers.map((c) => c.state);
  if (states.length > 0 && states.every((s) => isFinal(s, pod.restartPolicy))) {
    return states.every((s) => s.kind === 'terminated' && s.exitCode === 0) ? 'Succeeded' : 'Failed';
  }
  const everStarted = pod.containers.some((c) => c.state.kind !== 'waiting' || c.restartCount > 0);
  return everStarted ? 'Running' : 'Pending';
}

function condition(
  type: string,
  status: boolean,
  previous: V1PodCondition[],
  now: Date,
  reason?: string,
): V1PodCondition {
  const value = status ? 'True' : 'False';
  const before = previous.find((c) => c.type === type);
  const lastTransitionTime =
    before && before.status === value && before.lastTransitionTime ? before.lastTransitionTime : now;
  return { type, status: value, lastTransitionTime, ...(reason && !status ? { reason } : {}) };
}

export function podStatus(pod: PodRecord, now: Date): V1PodStatus {
  const phase = podPhase(pod);
  const initialized = pod.initContainers.every(
    (c) => c.state.kind === 'terminated' && c.state.exitCode === 0,
  );
  const allReady = pod.containers.length > 0 && pod.containers.every((c) => c.ready);
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const notReadyReason = terminal ? 'PodCompleted' : 'ContainersNotReady';
  const prev = pod.previousConditions;
  return {
    phase,
    hostIP: pod.hostIP,
    hostIPs: [{ ip: pod.hostIP }],
    ...(pod.podIP ? { podIP: pod.podIP, podIPs: [{ ip: pod.podIP }] } : {}),
    startTime: pod.startTime,
    ...(pod.setupFailure ? { reason: pod.setupFailure.reason, message: pod.setupFailure.message } : {}),
    conditions: [
      condition('PodScheduled', true, prev, now),
      condition('Initialized', initialized, prev, now, 'ContainersNotInitialized'),
      condition('ContainersReady', allReady && !terminal, prev, now, notReadyReason),
      condition('Ready', allReady && !terminal, prev, now, notReadyReason),
    ],
    initContainerStatuses: pod.initContainers.map(containerStatus),
    containerStatuses: pod.containers.map(containerStatus),
  };
}

/** The exit of a host process, in the terms a container status uses (128 + signal, as runtimes report). */
export function terminationFromExit(
  code: number | null,
  signal: NodeJS.Signals | null,
  signalNumbers: Readonly<Record<string, number>>,
): { exitCode: number; signal?: number; reason: string } {
  if (signal) {
    const number = signalNumbers[signal] ?? 0;
    return { exitCode: 128 + number, signal: number, reason: 'Error' };
  }
  const exitCode = code ?? 0;
  return { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' };
}
