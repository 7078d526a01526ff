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
 * The CRD, a namespace of its own with the `minio` Secret, and an operator
 * that watches only that namespace (with `operatorEnv` on top of its usual
 * settings). `into` is filled step by step, so that stopJobNamespace removes
 * what was made even when a later step failed.
 */
export async function startJobNamespace(
  namespacePrefix: string,
  operatorEnv?: Record<string, string>,
  into: Partial<JobSuite> = {},
): Promise<JobSuite> {
  const cluster = connect();
  into.cluster = cluster;
  await applyCrd();
  const namespace = await createTestNamespace(cluster, namespacePrefix);
  into.namespace = namespace;
  into.jobs = new StreamJobs(cluster, namespace);
  await createMinioSecret(cluster.core, namespace);
  into.operator = await startNamespaceOperator(namespace, operatorEnv);
  return into as JobSuite;
}

/** Stops the operator and deletes the namespace of startJobNamespace, as far as they were made. */
export async function stopJobNamespace(suite: Partial<JobSuite>): Promise<void> {
  await suite.operator?.stop();
  if (suite.cluster && suite.namespace) await deleteNamespace(suite.cluster, suite.namespace);
}

/** Registers the hooks every suite of real-runtime StreamJob tests needs: startJobNamespace before, its removal after. */
export function jobSuite(namespacePrefix: string, operatorEnv?: Record<string, string>): JobSuite {
  const suite = {} as JobSuite;
  before(async () => {
    await startJobNamespace(namespacePrefix, operatorEnv, suite);
  });
  after(() => stopJobNamespace(suite));
  return suite;
}
