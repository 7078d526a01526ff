import { after, before } from 'node:test';
import { type Cluster, connect, createTestNamespace, deleteNamespace } from './cluster.ts';
import { createMinioSecret } from './committed-state.ts';
import { type OperatorProcess, startNamespaceOperator } from './operator.ts';
import { applyCrd, StreamJobs } from './streamjobs.ts';

/** What a suite of StreamJob tests works with; filled in by its before hook. */
export interface JobSuite {
  cluster: Cluster;
  namespace: string;
  jobs: StreamJobs;
  operator: OperatorProcess;
}

/**
 * Registers the hooks every suite of real-runtime StreamJob tests needs: the
 * CRD, a namespace of its own with the `minio` Secret, and an operator that
 * watches only that namespace; all removed after the suite.
 */
export function jobSuite(namespacePrefix: string): JobSuite {
  const suite = {} as JobSuite;
  before(async () => {
    suite.cluster = connect();
    await applyCrd();
    suite.namespace = await createTestNamespace(suite.cluster, namespacePrefix);
    suite.jobs = new StreamJobs(suite.cluster, suite.namespace);
    await createMinioSecret(suite.cluster.core, suite.namespace);
    suite.operator = await startNamespaceOperator(suite.namespace);
  });
  after(async () => {
    await suite.operator?.stop();
    if (suite.namespace) await deleteNamespace(suite.cluster, suite.namespace);
  });
  return suite;
}
