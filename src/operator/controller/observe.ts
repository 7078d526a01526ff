import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { labels } from '../../api/constants.ts';
import { bounded } from '../decide/bounded.ts';
import type { ObservedNode, ObservedPod } from '../decide/observation.ts';
import type { ObjectCache } from '../kube/informer-set.ts';
import { describeTerminated } from './termination.ts';

function taskManagerStatus(pod: V1Pod) {
  return (
    pod.status?.containerStatuses?.find((c) => c.name === 'taskmanager') ?? pod.status?.containerStatuses?.[0]
  );
}

/** Why the pod ended: "exit code 2: JOB_MODULE_LOAD_FAILED: …" (termination.ts), or its reason. */
function describeTermination(pod: V1Pod): string | undefined {
  const terminated = taskManagerStatus(pod)?.state?.terminated;
  if (terminated) {
    return describeTerminated({
      exitCode: terminated.exitCode,
      ...(terminated.reason !== undefined ? { reason: terminated.reason } : {}),
      ...(terminated.message !== undefined ? { message: terminated.message } : {}),
    });
  }
  const why = pod.status?.message ?? pod.status?.reason;
  return why === undefined ? undefined : bounded(why);
}

/** Waiting states that are only steps of a normal start, not problems. */
const startingReasons = new Set(['ContainerCreating', 'PodInitializing']);

/** Why a pod that has not ended does not run: the scheduler's verdict, or the container's waiting reason. */
function describeNotStarted(pod: V1Pod): { reason: string; message: string } | undefined {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') {
    return { reason: scheduled.reason ?? 'Unschedulable', message: scheduled.message ?? 'not scheduled' };
  }
  const waiting = taskManagerStatus(pod)?.state?.waiting;
  if (waiting?.reason && !startingReasons.has(waiting.reason)) {
    return { reason: waiting.reason, message: waiting.message ?? waiting.reason };
  }
  return undefined;
}

export function observePod(pod: V1Pod): ObservedPod {
  const podLabels = pod.metadata?.labels ?? {};
  const index = Number.parseInt(podLabels[labels.podIndex] ?? '', 10);
  const slot = Number.parseInt(podLabels[labels.slot] ?? '0', 10);
  const phase = (pod.status?.phase ?? 'Pending') as ObservedPod['phase'];
  const termination = describeTermination(pod);
  const finishedAt = taskManagerStatus(pod)?.state?.terminated?.finishedAt;
  const notStarted = phase === 'Pending' ? describeNotStarted(pod) : undefined;
  return {
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    index: Number.isInteger(index) && index >= 0 ? index : -1,
    ...(Number.isInteger(slot) && slot > 0 ? { slot } : {}),
    ...(podLabels[labels.standbyAtStart] === 'true' ? { standbyAtStart: true } : {}),
    restartEpoch: Number.parseInt(podLabels[labels.restartEpoch] ?? '-1', 10),
    specHash: podLabels[labels.specHash] ?? '',
    runId: podLabels[labels.run] ?? '',
    phase,
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    deleting: Boolean(pod.metadata?.deletionTimestamp),
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    ...(pod.status?.podIP ? { podIP: pod.status.podIP } : {}),
    ...(termination ? { terminationMessage: termination } : {}),
    ...(finishedAt ? { endedAt: new Date(finishedAt) } : {}),
    ...(notStarted ? { notStarted } : {}),
  };
}

export function observeNode(node: V1Node): ObservedNode {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const isReady = ready?.status === 'True';
  return {
    name: node.metadata?.name ?? '',
    ready: isReady,
    ...(!isReady && ready?.lastTransitionTime ? { notReadySince: new Date(ready.lastTransitionTime) } : {}),
  };
}

/** The nodes a job's pods run on, by name: a reconcile looks at those, not at every node of the cluster. */
export function observeNodesOf(
  pods: ObservedPod[],
  nodes: Pick<ObjectCache<V1Node>, 'get'>,
): Map<string, ObservedNode> {
  const observed = new Map<string, ObservedNode>();
  for (const pod of pods) {
    if (!pod.nodeName || observed.has(pod.nodeName)) continue;
    const node = nodes.get(pod.nodeName);
    if (node) observed.set(pod.nodeName, observeNode(node));
  }
  return observed;
}
