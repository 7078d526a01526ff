import { type KubeConfig, type KubernetesObject, KubernetesObjectApi, Watch } from '@kubernetes/client-node';
import type { ListResult, ListWatchSource, WatchEventType, WatchHandle, WatchStatus } from './informer.ts';

export interface ResourceSelector {
  apiVersion: string;
  kind: string;
  /** The collection path, e.g. /api/v1/pods or /apis/weir.dev/v1alpha1/namespaces/x/streamjobs. */
  path: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

const watchTimeoutSeconds = 25;

/** A ListWatchSource backed by a real API server. */
export function apiServerListWatch<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  selector: ResourceSelector,
): ListWatchSource<T> {
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  const watcher = new Watch(kubeConfig);
  return {
    async list(shape): Promise<ListResult<T>> {
      const items: T[] = [];
      let continueToken: string | undefined;
      let resourceVersion = '';
      do {
        const page = await objects.list<T>(
          selector.apiVersion,
          selector.kind,
          selector.namespace,
          undefined,
          undefined,
          undefined,
          selector.fieldSelector,
          selector.labelSelector,
          500,
          continueToken,
        );
        for (const item of page.items) {
          items.push(shape({ ...item, apiVersion: selector.apiVersion, kind: selector.kind }));
        }
        continueToken = page.metadata?._continue || undefined;
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      } while (continueToken);
      return { items, resourceVersion };
    },
    async watch(resourceVersion, onEvent, onClose): Promise<WatchHandle> {
      const controller = await watcher.watch(
        selector.path,
        {
          resourceVersion,
          allowWatchBookmarks: true,
          // client-node aborts a watch that is silent for 30 s; a server-side
          // timeout below that ends quiet watches cleanly instead.
          timeoutSeconds: watchTimeoutSeconds,
          labelSelector: selector.labelSelector,
          fieldSelector: selector.fieldSelector,
        },
        (type: string, object: unknown) => onEvent(type as WatchEventType, object as T | WatchStatus),
        (error: unknown) => onClose(error ?? undefined),
      );
      return { abort: () => controller.abort() };
    },
  };
}
