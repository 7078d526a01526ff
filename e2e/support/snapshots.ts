import { CustomObjectsApi } from '@kubernetes/client-node';
import { type StreamJobSnapshot, snapshotPlural } from '../../src/api/snapshot.ts';
import { httpStatus } from '../../src/operator/errors.ts';
import { type Cluster, waitFor } from './cluster.ts';

const group = 'weir.dev';
const version = 'v1alpha1';

/** StreamJobSnapshots of one namespace, as a user makes and reads them. */
export class StreamJobSnapshots {
  private readonly api: CustomObjectsApi;
  private readonly namespace: string;

  constructor(cluster: Cluster, namespace: string) {
    this.api = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
    this.namespace = namespace;
  }

  create(name: string, spec: { jobName: string; disposeOnDelete?: boolean }): Promise<StreamJobSnapshot> {
    return this.api.createNamespacedCustomObject({
      group,
      version,
      plural: snapshotPlural,
      namespace: this.namespace,
      body: { apiVersion: `${group}/${version}`, kind: 'StreamJobSnapshot', metadata: { name }, spec },
    }) as Promise<StreamJobSnapshot>;
  }

  /** The snapshot, or undefined once it is gone. */
  async get(name: string): Promise<StreamJobSnapshot | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject({
        group,
        version,
        plural: snapshotPlural,
        namespace: this.namespace,
        name,
      })) as StreamJobSnapshot;
    } catch (error) {
      if (httpStatus(error) === 404) return undefined;
      throw error;
    }
  }

  async list(): Promise<StreamJobSnapshot[]> {
    const list = (await this.api.listNamespacedCustomObject({
      group,
      version,
      plural: snapshotPlural,
      namespace: this.namespace,
    })) as { items: StreamJobSnapshot[] };
    return list.items;
  }

  async delete(name: string): Promise<void> {
    await this.api.deleteNamespacedCustomObject({
      group,
      version,
      plural: snapshotPlural,
      namespace: this.namespace,
      name,
    });
  }

  /** Waits until the snapshot satisfies `check` (undefined: it is gone), and returns it. */
  async waitFor(
    name: string,
    what: string,
    check: (snapshot: StreamJobSnapshot | undefined) => boolean,
    timeoutMs = 90_000,
  ): Promise<StreamJobSnapshot | undefined> {
    let last: StreamJobSnapshot | undefined;
    const found = await waitFor(
      `streamjobsnapshot ${name}: ${what}`,
      timeoutMs,
      async () => {
        last = await this.get(name);
        return check(last) ? { last } : undefined;
      },
      () => JSON.stringify(last ? { metadata: last.metadata, status: last.status } : 'gone'),
    );
    return found.last;
  }
}
