import type {
  KubernetesObject,
  V1ContainerStatus,
  V1Node,
  V1NodeCondition,
  V1ObjectMeta,
  V1Pod,
  V1PodCondition,
} from '@kubernetes/client-node';
import { labels } from '../../api/constants.ts';
import type { StreamJobSnapshot } from '../../api/snapshot.ts';
import type { StreamJob } from '../../api/streamjob.ts';

/**
 * What the operator keeps of the objects it watches (the informers' transforms). The API server sends
 * whole objects; a TaskManager pod with its managed fields is several kilobytes, and the operator reads a
 * few dozen bytes of it. Caching only those is what lets one replica watch thousands of jobs in a small
 * memory limit. Every field read from a cached pod or node must be kept here: `slim.test.ts` checks the
 * readers against pods that went through these functions.
 */

const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration';

/** The object's identity and what selects or owns it; never managedFields. */
function slimMeta(meta: V1ObjectMeta | undefined, keep: { labels: boolean }): V1ObjectMeta {
  if (!meta) return {};
  return {
    ...(meta.name !== undefined ? { name: meta.name } : {}),
    ...(meta.namespace !== undefined ? { namespace: meta.namespace } : {}),
    ...(meta.uid !== undefined ? { uid: meta.uid } : {}),
    ...(meta.resourceVersion !== undefined ? { resourceVersion: meta.resourceVersion } : {}),
    ...(meta.generation !== undefined ? { generation: meta.generation } : {}),
    ...(meta.deletionTimestamp !== undefined ? { deletionTimestamp: meta.deletionTimestamp } : {}),
    ...(keep.labels && meta.labels ? { labels: meta.labels } : {}),
    ...(meta.ownerReferences ? { ownerReferences: meta.ownerReferences } : {}),
  };
}

/**
 * A StreamJob without managedFields and kubectl's copy of the last applied spec. Its status is written
 * through the status subresource, where the API server keeps the stored metadata whatever the body
 * carries, so nothing dropped here is ever written back.
 */
export function slimStreamJob<T extends StreamJob | StreamJobSnapshot>(job: T): T {
  const { managedFields: _managed, annotations, ...metadata } = job.metadata;
  const kept = annotations && lastApplied in annotations ? withoutKey(annotations, lastApplied) : annotations;
  return { ...job, metadata: { ...metadata, ...(kept ? { annotations: kept } : {}) } };
}

/** The key of the job a StreamJobSnapshot is of ("namespace/jobName"): the snapshot informer's index. */
export function snapshotJobKey(snapshot: StreamJobSnapshot): string | undefined {
  const job = snapshot.spec?.jobName;
  return job ? `${snapshot.metadata.namespace ?? ''}/${job}` : undefined;
}

function withoutKey(record: Record<string, string>, key: string): Record<string, string> | undefined {
  const { [key]: _dropped, ...rest } = record;
  return Object.keys(rest).length ? rest : undefined;
}

function slimPodCondition(c: V1PodCondition): V1PodCondition {
  return {
    type: c.type,
    status: c.status,
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
    ...(c.message !== undefined ? { message: c.message } : {}),
  };
}

function slimContainerStatus(c: V1ContainerStatus): V1ContainerStatus {
  const { waiting, terminated } = c.state ?? {};
  return {
    name: c.name,
    image: '',
    imageID: '',
    ready: c.ready,
    restartCount: c.restartCount,
    state: {
      ...(waiting ? { waiting: { reason: waiting.reason, message: waiting.message } } : {}),
      ...(terminated
        ? {
            terminated: {
              exitCode: terminated.exitCode,
              ...(terminated.reason !== undefined ? { reason: terminated.reason } : {}),
              ...(terminated.message !== undefined ? { message: terminated.message } : {}),
            },
          }
        : {}),
      ...(c.state?.running ? { running: {} } : {}),
    },
  };
}

/** A TaskManager pod as the operator observes it (observe.ts): labels, owner, node, phase, conditions, IP. */
export function slimPod(pod: V1Pod): V1Pod {
  const status = pod.status;
  return {
    ...withKind(pod),
    metadata: slimMeta(pod.metadata, { labels: true }),
    spec: { containers: [], ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}) },
    status: {
      ...(status?.phase !== undefined ? { phase: status.phase } : {}),
      ...(status?.conditions ? { conditions: status.conditions.map(slimPodCondition) } : {}),
      ...(status?.containerStatuses
        ? { containerStatuses: status.containerStatuses.map(slimContainerStatus) }
        : {}),
      ...(status?.podIP !== undefined ? { podIP: status.podIP } : {}),
      ...(status?.message !== undefined ? { message: status.message } : {}),
      ...(status?.reason !== undefined ? { reason: status.reason } : {}),
    },
  };
}

function slimNodeCondition(c: V1NodeCondition): V1NodeCondition {
  return {
    type: c.type,
    status: c.status,
    ...(c.lastTransitionTime !== undefined ? { lastTransitionTime: c.lastTransitionTime } : {}),
  };
}

/** A node as the operator observes it: its name and Ready condition (not its images or addresses). */
export function slimNode(node: V1Node): V1Node {
  return {
    ...withKind(node),
    metadata: slimMeta(node.metadata, { labels: false }),
    status: {
      conditions: (node.status?.conditions ?? []).filter((c) => c.type === 'Ready').map(slimNodeCondition),
    },
  };
}

function withKind(object: KubernetesObject): KubernetesObject {
  return {
    ...(object.apiVersion !== undefined ? { apiVersion: object.apiVersion } : {}),
    ...(object.kind !== undefined ? { kind: object.kind } : {}),
  };
}

/** The index key of a TaskManager pod: its job's "namespace/name", as the work queue keys jobs. */
export function podJobKey(pod: V1Pod): string | undefined {
  const job = pod.metadata?.labels?.[labels.job];
  return job && pod.metadata?.namespace ? `${pod.metadata.namespace}/${job}` : undefined;
}
