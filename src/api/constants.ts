/** Labels, ports and names shared by the operator and the runtime. Change one only on both sides at once. */
export const labels = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  job: 'weir.dev/job',
  podIndex: 'weir.dev/pod-index',
  /** Which of a pod index's slots the pod fills (0 unless spec.standby.replicas); absent is 0. */
  slot: 'weir.dev/slot',
  /** "true" on a pod created to run standby tasks (it may have been promoted since: status.standby says). */
  standbyAtStart: 'weir.dev/standby',
  run: 'weir.dev/run',
  specHash: 'weir.dev/spec-hash',
  restartEpoch: 'weir.dev/restart-epoch',
} as const;

export const managedBy = 'weir-operator';
export const taskManagerComponent = 'taskmanager';

export const ports = { control: 8081, metrics: 9249 } as const;

/** Holds a StreamJob's deletion until its final savepoint is taken (spec.savepoints.onDeletion). */
export const finalSavepointFinalizer = 'weir.dev/final-savepoint';

/**
 * Where a TaskManager that exits on an error writes its cause ("CODE: message"), and where the pod spec
 * tells the kubelet to read it from (Kubernetes' default path); the kubelet keeps up to 4096 bytes.
 */
export const terminationMessagePath = '/dev/termination-log';
export const terminationMessageMaxBytes = 4096;
