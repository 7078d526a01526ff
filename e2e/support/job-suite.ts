import { after, before } from 'node:test';
import { type Cluster, connect, createTestNamespace, deleteNamespace, waitFor } from './cluster.ts';
import { createMinioSecret } from './committed-state.ts';
import { type OperatorProcess, startNamespaceOperator } from './operator.ts';
import { StreamJobSnapshots } from './snapshots.ts';
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
  // StreamJobSnapshots carry the operator's finalizer: they go while it still runs, or the namespace would stay
  // Terminating after it stopped (what a user who uninstalls the operator first meets; docs/operating.md).
  if (suite.operator && suite.cluster && suite.namespace)
    await deleteJobsAndSnapshots(suite.cluster, suite.namespace);
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

/**
 * Deletes a namespace's StreamJobs, then its StreamJobSnapshots, and waits (at most a minute each) until the
 * operator has let them go: a job holds the snapshot its run restored from.
 */
export async function deleteJobsAndSnapshots(cluster: Cluster, namespace: string): Promise<void> {
  const jobs = new StreamJobs(cluster, namespace);
  const snapshots = new StreamJobSnapshots(cluster, namespace);
  const jobNames = async () => (await jobs.list()).map((j) => j.metadata.name ?? '');
  const snapshotNames = async () => (await snapshots.list()).map((s) => s.metadata.name ?? '');
  const report = (error: unknown) => process.stderr.write(`${(error as Error).message}\n`);
  for (const name of await jobNames().catch(() => [])) await jobs.delete(name).catch(() => undefined);
  await waitFor(`the StreamJobs of ${namespace} to go`, 60_000, async () =>
    (await jobNames()).length === 0 ? true : undefined,
  ).catch(report);
  for (const name of await snapshotNames().catch(() => []))
    await snapshots.delete(name).catch(() => undefined);
  await waitFor(`the StreamJobSnapshots of ${namespace} to go`, 60_000, async () =>
    (await snapshotNames()).length === 0 ? true : undefined,
  ).catch(report);
}
