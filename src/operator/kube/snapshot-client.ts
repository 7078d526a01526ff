import { CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { labels, managedBy } from '../../api/constants.ts';
import {
  type StreamJobSnapshot,
  type StreamJobSnapshotStatus,
  snapshotFinalizer,
  snapshotKind,
  snapshotPlural,
  snapshotStatusFields,
} from '../../api/snapshot.ts';
import { apiVersion, group, version } from '../../api/streamjob.ts';
import type { SnapshotAction, SnapshotRef } from '../decide/snapshots.ts';
import { httpStatus, OperatorError } from '../errors.ts';
import type { FinalizerPatcher } from './finalizers.ts';

/**
 * Writes StreamJobSnapshots: the records of Weir's own savepoints, every
 * snapshot's status, its finalizer, and the deletion of records whose
 * savepoints the history limits dropped. Each call is idempotent: an object
 * that exists already or is gone already is not an error.
 */
export class SnapshotClient {
  private readonly api: CustomObjectsApi;
  private readonly finalizers: FinalizerPatcher;

  constructor(kubeConfig: KubeConfig, finalizers: FinalizerPatcher) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.finalizers = finalizers;
  }

  async apply(namespace: string, action: SnapshotAction): Promise<void> {
    switch (action.kind) {
      case 'createSnapshot':
        return this.create(namespace, action);
      case 'patchSnapshotStatus':
        return this.patchStatus(namespace, action.snapshot.name, action.status);
      case 'addSnapshotFinalizer':
      case 'removeSnapshotFinalizer':
        return this.finalizers.patch(
          snapshotPlural,
          { ...metadataOf(action.snapshot), namespace },
          action.kind === 'addSnapshotFinalizer' ? 'addFinalizer' : 'removeFinalizer',
          snapshotFinalizer,
        );
      case 'deleteSnapshot':
        return this.delete(namespace, action.snapshot);
    }
  }

  private async create(
    namespace: string,
    action: Extract<SnapshotAction, { kind: 'createSnapshot' }>,
  ): Promise<void> {
    const body: StreamJobSnapshot = {
      apiVersion,
      kind: snapshotKind,
      metadata: {
        name: action.name,
        namespace,
        labels: { [labels.job]: action.jobName, [labels.managedBy]: managedBy },
        finalizers: [snapshotFinalizer],
      },
      spec: {
        jobName: action.jobName,
        savepointId: action.savepointId,
        disposeOnDelete: true,
        backoffLimit: 0,
      },
    };
    try {
      await this.api.createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural: snapshotPlural,
        body,
      });
    } catch (error) {
      // Made by an earlier pass whose result the cache did not show yet: a later pass writes its status.
      if (httpStatus(error) === 409) return;
      throw failure('SNAPSHOT_CREATE_FAILED', `creating StreamJobSnapshot ${action.name}`, error);
    }
    await this.patchStatus(namespace, action.name, action.status);
  }

  private async patchStatus(namespace: string, name: string, status: StreamJobSnapshotStatus): Promise<void> {
    const body = { status: Object.fromEntries(snapshotStatusFields.map((k) => [k, status[k] ?? null])) };
    try {
      await this.api.patchNamespacedCustomObjectStatus(
        { group, version, namespace, plural: snapshotPlural, name, body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      if (httpStatus(error) === 404) return;
      throw failure('SNAPSHOT_STATUS_FAILED', `writing the status of StreamJobSnapshot ${name}`, error);
    }
  }

  private async delete(namespace: string, snapshot: SnapshotRef): Promise<void> {
    try {
      await this.api.deleteNamespacedCustomObject({
        group,
        version,
        namespace,
        plural: snapshotPlural,
        name: snapshot.name,
        body: { preconditions: { uid: snapshot.uid } },
      });
    } catch (error) {
      const code = httpStatus(error);
      if (code === 404 || code === 409) return; // gone, or a new object of that name: not ours to delete
      throw failure('SNAPSHOT_DELETE_FAILED', `deleting StreamJobSnapshot ${snapshot.name}`, error);
    }
  }
}

function metadataOf(snapshot: SnapshotRef) {
  return {
    name: snapshot.name,
    // An object without finalizers has no list to test: the patcher then carries the resourceVersion.
    ...(snapshot.finalizers.length ? { finalizers: [...snapshot.finalizers] } : {}),
    ...(snapshot.resourceVersion ? { resourceVersion: snapshot.resourceVersion } : {}),
  };
}

function failure(code: string, what: string, error: unknown): OperatorError {
  return new OperatorError(code, `${what}: ${(error as Error).message}`, true, { cause: error });
}
