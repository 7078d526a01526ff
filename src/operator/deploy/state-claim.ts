import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { stateClaimName } from '../../api/names.ts';
import { type StreamJob, taskManagerDefaults } from '../../api/streamjob.ts';
import { jobSelector, ownerReference } from './taskmanager-pod.ts';

/**
 * The PersistentVolumeClaim a TaskManager pod keeps its state on, with
 * spec.taskManager.state.persistentVolume (local recovery): one per pod name,
 * so a pod that comes back under its name mounts the same volume. Owned by
 * the StreamJob: deleted with it, never by the operator otherwise (a scaled
 * down pod's claim stays for when it comes back). Undefined without
 * persistentVolume.
 */
export function stateClaim(job: StreamJob, podName: string): V1PersistentVolumeClaim | undefined {
  const state = (job.spec.taskManager ?? taskManagerDefaults).state;
  if (state.store !== 'disk' || !state.persistentVolume) return undefined;
  const [key, value] = jobSelector(job.metadata.name ?? '').split('=') as [string, string];
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: stateClaimName(podName),
      namespace: job.metadata.namespace,
      labels: { [key]: value },
      ownerReferences: [ownerReference(job)],
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: state.volumeSize } },
      ...(state.persistentVolume.storageClassName
        ? { storageClassName: state.persistentVolume.storageClassName }
        : {}),
    },
  };
}
