import {
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1ObjectMeta,
} from '@kubernetes/client-node';
import { group, plural, type StreamJob, version } from '../../api/streamjob.ts';
import type { FinalizerChange } from '../decide/deletion.ts';
import { httpStatus, OperatorError } from '../errors.ts';

/**
 * Adds or removes one finalizer of a StreamJob (or a StreamJobSnapshot) as a compare-and-swap of the
 * finalizer list alone: a JSON patch that tests the list it read, or, when
 * there is no list yet, a merge patch that carries the resourceVersion. A
 * patch made on a stale view is refused and retried on a fresh one, so no
 * other controller's finalizer is ever lost, and a status write in between
 * does not get in the way.
 */
export class FinalizerPatcher {
  private readonly api: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async apply(job: StreamJob, change: FinalizerChange): Promise<void> {
    await this.patch(plural, job.metadata, change.kind, change.finalizer);
  }

  /** The same compare-and-swap on any custom resource of the weir.dev group (by plural). */
  async patch(
    resource: string,
    metadata: Pick<V1ObjectMeta, 'name' | 'namespace' | 'finalizers' | 'resourceVersion'>,
    kind: 'addFinalizer' | 'removeFinalizer',
    finalizer: string,
  ): Promise<void> {
    const current = metadata.finalizers;
    const change = { kind, finalizer };
    const next =
      change.kind === 'addFinalizer'
        ? [...(current ?? []).filter((f) => f !== change.finalizer), change.finalizer]
        : (current ?? []).filter((f) => f !== change.finalizer);
    const [body, strategy] = current
      ? [
          [
            { op: 'test', path: '/metadata/finalizers', value: current },
            { op: 'replace', path: '/metadata/finalizers', value: next },
          ],
          PatchStrategy.JsonPatch,
        ]
      : [
          { metadata: { finalizers: next, resourceVersion: metadata.resourceVersion } },
          PatchStrategy.MergePatch,
        ];
    try {
      await this.api.patchNamespacedCustomObject(
        {
          group,
          version,
          plural: resource,
          namespace: metadata.namespace ?? '',
          name: metadata.name ?? '',
          body,
        },
        setHeaderOptions('Content-Type', strategy),
      );
    } catch (error) {
      const code = httpStatus(error);
      if (code === 404) return; // gone already
      throw new OperatorError(
        code === 409 || code === 422 ? 'FINALIZER_CONFLICT' : 'FINALIZER_PATCH_FAILED',
        `${change.kind === 'addFinalizer' ? 'adding' : 'removing'} finalizer ${change.finalizer} of ${resource}/${metadata.name}: ${(error as Error).message}`,
        true,
        { cause: error },
      );
    }
  }
}
