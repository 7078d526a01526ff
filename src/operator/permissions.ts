import { snapshotPlural } from '../api/snapshot.ts';
import { group, plural } from '../api/streamjob.ts';

/** One RBAC rule the operator needs, and the code path that needs it. */
export interface Permission {
  apiGroup: string;
  resource: string;
  verbs: readonly string[];
  /** When set, the rule covers only these objects by name. */
  resourceNames?: readonly string[];
  why: string;
}

/**
 * Stands for the name of the operator's control key Secret in rules; the
 * chart names it <release fullname>-control-key and passes that name to the
 * operator as WEIR_CONTROL_KEY_SECRET.
 */
export const controlKeySecretName = '<control-key-secret>';

/**
 * Everything the operator does against the API, per watched namespace (or
 * cluster-wide when it watches every namespace). The Helm chart's Roles and
 * ClusterRoles must grant exactly this; a test renders the chart and compares,
 * and the RBAC e2e test asks the API server with `kubectl auth can-i`.
 */
export const watchedNamespacePermissions: readonly Permission[] = [
  {
    apiGroup: group,
    resource: plural,
    verbs: ['list', 'watch', 'patch'],
    why: 'the StreamJob informer; the final-savepoint finalizer (spec.savepoints.onDeletion) is added and removed by patch',
  },
  {
    apiGroup: group,
    resource: `${plural}/status`,
    verbs: ['update'],
    why: 'the status recorder (replace with resourceVersion)',
  },
  {
    apiGroup: group,
    resource: `${plural}/finalizers`,
    verbs: ['update'],
    why: 'owner references with blockOwnerDeletion on clusters that enforce OwnerReferencesPermissionEnforcement',
  },
  {
    apiGroup: group,
    resource: snapshotPlural,
    verbs: ['list', 'watch', 'create', 'patch', 'delete'],
    why: "the StreamJobSnapshot informer; records of Weir's own savepoints created, their finalizer patched, the records the history limits drop deleted",
  },
  {
    apiGroup: group,
    resource: `${snapshotPlural}/status`,
    verbs: ['patch'],
    why: "a snapshot's state, read off its job's status",
  },
  {
    apiGroup: '',
    resource: 'pods',
    verbs: ['list', 'watch', 'create', 'delete'],
    why: 'the TaskManager pod informer and the actuator',
  },
  { apiGroup: '', resource: 'secrets', verbs: ['create'], why: 'the per-job control token (create-only)' },
  {
    apiGroup: '',
    resource: 'persistentvolumeclaims',
    verbs: ['create'],
    why: "a TaskManager pod's state claim (spec.taskManager.state.persistentVolume; create-only, deleted with the job by its owner reference)",
  },
  { apiGroup: '', resource: 'events', verbs: ['create'], why: 'the event recorder' },
  {
    apiGroup: 'networking.k8s.io',
    resource: 'networkpolicies',
    verbs: ['create', 'update', 'delete'],
    why: 'the per-job NetworkPolicy guarding the control port (replaced when it exists, deleted when turned off)',
  },
];

/** Cluster-scoped reads, needed in every mode. */
export const clusterPermissions: readonly Permission[] = [
  {
    apiGroup: '',
    resource: 'nodes',
    verbs: ['list', 'watch'],
    why: 'node readiness: pods on a lost node are replaced',
  },
];

/** In the operator's own namespace only. */
export const operatorNamespacePermissions: readonly Permission[] = [
  {
    apiGroup: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['get', 'create', 'update'],
    why: 'leader election between the operator replicas',
  },
  {
    apiGroup: '',
    resource: 'secrets',
    verbs: ['get', 'update'],
    resourceNames: [controlKeySecretName],
    why: 'the key job control tokens are derived from: read at start, generated into the chart-made Secret once',
  },
];
