import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { Informer, type InformerHandlers, type InformerOptions } from './informer.ts';
import { apiServerListWatch, type ResourceSelector } from './list-watch.ts';

/** A read-only view of cached objects, keyed "namespace/name". */
export interface ObjectCache<T> {
  get(key: string): T | undefined;
  list(): T[];
  /** The objects with this secondary key (the informer's `indexBy`). */
  indexed(value: string): T[];
}

/**
 * One informer per watched namespace (or one cluster-wide), seen as a single
 * cache: the namespaced install mode needs only Roles in those namespaces.
 */
export class InformerSet<T extends KubernetesObject> implements ObjectCache<T> {
  private readonly informers: Informer<T>[];

  constructor(
    kubeConfig: KubeConfig,
    resource: {
      apiVersion: string;
      kind: string;
      collection: (namespace?: string) => string;
      labelSelector?: string;
    },
    namespaces: string[],
    options: InformerOptions<T>,
  ) {
    const scopes = namespaces.length ? namespaces : [undefined];
    this.informers = scopes.map((namespace) => {
      const selector: ResourceSelector = {
        apiVersion: resource.apiVersion,
        kind: resource.kind,
        path: resource.collection(namespace),
        ...(namespace ? { namespace } : {}),
        ...(resource.labelSelector ? { labelSelector: resource.labelSelector } : {}),
      };
      return new Informer<T>(apiServerListWatch<T>(kubeConfig, selector), options);
    });
  }

  subscribe(handlers: InformerHandlers<T>): void {
    for (const informer of this.informers) informer.subscribe(handlers);
  }

  async start(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
  }

  stop(): void {
    for (const informer of this.informers) informer.stop();
  }

  get hasSynced(): boolean {
    return this.informers.every((i) => i.hasSynced);
  }

  get(key: string): T | undefined {
    for (const informer of this.informers) {
      const found = informer.get(key);
      if (found) return found;
    }
    return undefined;
  }

  list(): T[] {
    return this.informers.flatMap((i) => i.list());
  }

  indexed(value: string): T[] {
    return this.informers.flatMap((i) => i.indexed(value));
  }
}
