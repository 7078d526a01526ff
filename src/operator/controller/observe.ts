import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { labels } from '../../api/constants.ts';
import type { ObservedNode, ObservedPod } from '../decide/observation.ts';

function describeTermination(pod: V1Pod): string | undefined {
  const status =
    pod.status?.containerStatuses?.find((c) => c.name === 'taskmanager') ??
    pod.status?.containerStatuses?.[0];
  const terminated = status?.state?.terminated;
  if (terminated) {
    const parts = [`exit code ${terminated.exitCode}`, terminated.reason, terminated.message].filter(Boolean);
    return parts.join(', ');
  }
  return pod.status?.message ?? pod.status?.reason;
}

export function observePod(pod: V1Pod): ObservedPod {
  const podLabels = pod.metadata?.labels ?? {};
  const index = Number.parseInt(podLabels[labels.podIndex] ?? '', 10);
  const phase = (pod.status?.phase ?? 'Pending') as ObservedPod['phase'];
  const termination = describeTermination(pod);
  return {
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    index: Number.isInteger(index) && index >= 0 ? index : -1,
    restartEpoch: Number.parseInt(podLabels[labels.restartEpoch] ?? '-1', 10),
    specHash: podLabels[labels.specHash] ?? '',
    runId: podLabels[labels.run] ?? '',
    phase,
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    deleting: Boolean(pod.metadata?.deletionTimestamp),
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    ...(pod.status?.podIP ? { podIP: pod.status.podIP } : {}),
    ...(termination ? { terminationMessage: termination } : {}),
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
