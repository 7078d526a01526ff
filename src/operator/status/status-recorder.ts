import { isDeepStrictEqual } from 'node:util';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { group, plural, type StreamJob, type StreamJobStatus, version } from '../../api/streamjob.ts';
import { httpStatus, OperatorError } from '../errors.ts';

/**
 * Writes StreamJob status through the status subresource. A write that would
 * change nothing is skipped; the resourceVersion makes every write a
 * compare-and-swap, so a decision taken on a stale view is never recorded.
 */
export class StatusRecorder {
  private readonly api: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** Returns whether a write happened. */
  async record(job: StreamJob, status: StreamJobStatus): Promise<boolean> {
    if (isDeepStrictEqual(JSON.parse(JSON.stringify(job.status ?? {})), JSON.parse(JSON.stringify(status)))) {
      return false;
    }
    try {
      await this.api.replaceNamespacedCustomObjectStatus({
        group,
        version,
        plural,
        namespace: job.metadata.namespace ?? '',
        name: job.metadata.name ?? '',
        body: { ...job, status },
      });
      return true;
    } catch (error) {
      const code = httpStatus(error);
      if (code === 409) {
        throw new OperatorError(
          'STATUS_CONFLICT',
          `status of ${job.metadata.name} changed meanwhile; retrying`,
          true,
          {
            cause: error,
          },
        );
      }
      if (code === 404) return false;
      throw new OperatorError(
        'STATUS_WRITE_FAILED',
        `could not write status: ${(error as Error).message}`,
        true,
        {
          cause: error,
        },
      );
    }
  }
}
