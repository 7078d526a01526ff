import type {
  V1Affinity,
  V1Container,
  V1LocalObjectReference,
  V1Pod,
  V1TopologySpreadConstraint,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { taskManagerContainerName } from '../../api/pod-shape-schema.ts';
import type { TaskManagerSpec } from '../../api/streamjob.ts';

/**
 * The TaskManager pod with the user's shaping (spec.taskManager's placement,
 * pull secrets, metadata, volumes and sidecars) merged in. The schema refuses
 * what would clash with Weir's own (label keys, volume names, mount paths,
 * the container name), so here Weir's parts are kept as they are and the
 * user's are added; Weir's labels are applied last all the same.
 */
export function shapePod(pod: V1Pod, tm: TaskManagerSpec): V1Pod {
  const spec = pod.spec;
  if (!spec) return pod;
  const containers = spec.containers.map((c) =>
    c.name === taskManagerContainerName && tm.volumeMounts?.length
      ? { ...c, volumeMounts: [...(c.volumeMounts ?? []), ...(tm.volumeMounts as V1VolumeMount[])] }
      : c,
  );
  const affinity = mergeAffinity(tm.affinity as V1Affinity | undefined, spec.affinity);
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      labels: { ...tm.podLabels, ...pod.metadata?.labels },
      ...(tm.podAnnotations || pod.metadata?.annotations
        ? { annotations: { ...tm.podAnnotations, ...pod.metadata?.annotations } }
        : {}),
    },
    spec: {
      ...spec,
      ...(affinity ? { affinity } : {}),
      ...(tm.topologySpreadConstraints?.length
        ? { topologySpreadConstraints: tm.topologySpreadConstraints as V1TopologySpreadConstraint[] }
        : {}),
      ...(tm.imagePullSecrets?.length
        ? { imagePullSecrets: tm.imagePullSecrets as V1LocalObjectReference[] }
        : {}),
      ...(tm.priorityClassName ? { priorityClassName: tm.priorityClassName } : {}),
      containers: [...containers, ...((tm.sidecars ?? []) as V1Container[])],
      volumes: [...(spec.volumes ?? []), ...((tm.volumes ?? []) as V1Volume[])],
    },
  };
}

/**
 * The user's affinity with Weir's (the preferred anti-affinity between an
 * index's slots) added: node affinity and pod affinity are the user's alone;
 * preferred anti-affinity terms are the user's, then Weir's; required ones the user's.
 */
export function mergeAffinity(
  user: V1Affinity | undefined,
  weir: V1Affinity | undefined,
): V1Affinity | undefined {
  if (!user) return weir;
  if (!weir?.podAntiAffinity) return user;
  const preferred = [
    ...(user.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []),
    ...(weir.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution ?? []),
  ];
  return {
    ...user,
    podAntiAffinity: { ...user.podAntiAffinity, preferredDuringSchedulingIgnoredDuringExecution: preferred },
  };
}
