import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { labels, managedBy, ports, taskManagerComponent } from '../../api/constants.ts';
import { taskManagerPolicyName } from '../../api/names.ts';
import type { StreamJob } from '../../api/streamjob.ts';
import { ownerReference } from './taskmanager-pod.ts';

/** Who may reach a job's TaskManagers' control port: the operator's pods, by namespace and labels. */
export interface OperatorPeer {
  namespace: string;
  podLabels: Readonly<Record<string, string>>;
}

/**
 * The job's NetworkPolicy: its TaskManager pods accept connections on the
 * control port (savepoints, stops, status; the bearer token is the second
 * line) only from the operator's pods, and on the metrics port from anyone
 * (Prometheus runs wherever its users put it). Nothing else reaches them:
 * TaskManagers talk to each other through Kafka, never directly. Owned by
 * the StreamJob, so it goes with it. Enforced only where the cluster's
 * network plugin enforces NetworkPolicy (Calico, Cilium, Antrea, ...).
 */
export function taskManagerNetworkPolicy(job: StreamJob, operator: OperatorPeer): V1NetworkPolicy {
  const name = job.metadata.name ?? '';
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: taskManagerPolicyName(name),
      namespace: job.metadata.namespace,
      labels: { [labels.job]: name, [labels.managedBy]: managedBy, [labels.name]: 'weir' },
      ownerReferences: [ownerReference(job)],
    },
    spec: {
      podSelector: { matchLabels: { [labels.job]: name, [labels.component]: taskManagerComponent } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          _from: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': operator.namespace } },
              podSelector: { matchLabels: { ...operator.podLabels } },
            },
          ],
          ports: [{ port: ports.control, protocol: 'TCP' }],
        },
        { ports: [{ port: ports.metrics, protocol: 'TCP' }] },
      ],
    },
  };
}
