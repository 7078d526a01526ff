import {
  CoreV1Api,
  type CoreV1Event,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { labels, ports } from '../../api/constants.ts';
import { controlPaths, parseTaskManagerStatus, type TaskManagerReport } from '../../api/control-api.ts';
import { type StreamJobSnapshot, snapshotKind, snapshotPlural } from '../../api/snapshot.ts';
import { apiVersion, group, plural, type StreamJob, version } from '../../api/streamjob.ts';
import { CodedError } from '../../errors.ts';

/** The status code of a failed API call, when it has one. */
function httpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** A report larger than this is refused: a TaskManager runs at most a few thousand tasks. */
const maxReportBytes = 4 * 1024 * 1024;

/** What the plugin reads and changes, through the user's kubeconfig (KUBECONFIG, ~/.kube/config or in-cluster). */
export class PluginKube {
  readonly defaultNamespace: string;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(kubeConfig = PluginKube.load()) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.defaultNamespace =
      kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
  }

  static load(): KubeConfig {
    const config = new KubeConfig();
    config.loadFromDefault();
    return config;
  }

  async getJob(namespace: string, name: string): Promise<StreamJob> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        group,
        version,
        plural,
        namespace,
        name,
      })) as StreamJob;
    } catch (error) {
      if (httpStatus(error) === 404)
        throw new CodedError('NOT_FOUND', `streamjob "${name}" not found in namespace "${namespace}"`, false);
      throw this.apiError(`read streamjob ${namespace}/${name}`, error);
    }
  }

  async listJobs(namespace: string | undefined): Promise<StreamJob[]> {
    try {
      const list = (
        namespace === undefined
          ? await this.custom.listClusterCustomObject({ group, version, plural })
          : await this.custom.listNamespacedCustomObject({ group, version, plural, namespace })
      ) as { items: StreamJob[] };
      return list.items;
    } catch (error) {
      throw this.apiError(`list streamjobs${namespace ? ` in ${namespace}` : ''}`, error);
    }
  }

  /**
   * A merge patch of the job's spec, made from the job as just read: it
   * carries that resourceVersion, so a change in between is refused (409)
   * rather than overwritten, and the caller reads again.
   */
  async patchSpec(job: StreamJob, spec: Record<string, unknown>): Promise<StreamJob> {
    const namespace = job.metadata.namespace ?? '';
    const name = job.metadata.name ?? '';
    try {
      return (await this.custom.patchNamespacedCustomObject(
        {
          group,
          version,
          plural,
          namespace,
          name,
          body: { metadata: { resourceVersion: job.metadata.resourceVersion }, spec },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )) as StreamJob;
    } catch (error) {
      if (httpStatus(error) === 409)
        throw new CodedError('CONFLICT', `streamjob ${namespace}/${name} changed while it was patched`, true);
      throw this.apiError(`patch streamjob ${namespace}/${name}`, error);
    }
  }

  /** Creates a StreamJobSnapshot of the job (a name of its own, or one the API server completes). */
  async createSnapshot(
    job: StreamJob,
    options: { name?: string | undefined; disposeOnDelete: boolean },
  ): Promise<StreamJobSnapshot> {
    const namespace = job.metadata.namespace ?? '';
    const jobName = job.metadata.name ?? '';
    const body = {
      apiVersion,
      kind: snapshotKind,
      metadata: options.name ? { name: options.name } : { generateName: `${jobName}-snapshot-` },
      spec: { jobName, disposeOnDelete: options.disposeOnDelete },
    };
    try {
      return (await this.custom.createNamespacedCustomObject({
        group,
        version,
        plural: snapshotPlural,
        namespace,
        body,
      })) as StreamJobSnapshot;
    } catch (error) {
      if (httpStatus(error) === 409)
        throw new CodedError(
          'CONFLICT',
          `streamjobsnapshot "${options.name}" already exists in namespace "${namespace}": choose another --name`,
          false,
        );
      throw this.apiError(`create a streamjobsnapshot of ${namespace}/${jobName}`, error);
    }
  }

  async getSnapshot(namespace: string, name: string): Promise<StreamJobSnapshot> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        group,
        version,
        plural: snapshotPlural,
        namespace,
        name,
      })) as StreamJobSnapshot;
    } catch (error) {
      throw this.apiError(`read streamjobsnapshot ${namespace}/${name}`, error);
    }
  }

  /** The job's StreamJobSnapshots, oldest first; none when the CRD is not installed. */
  async snapshots(job: StreamJob): Promise<StreamJobSnapshot[]> {
    try {
      const list = (await this.custom.listNamespacedCustomObject({
        group,
        version,
        plural: snapshotPlural,
        namespace: job.metadata.namespace ?? '',
      })) as { items: StreamJobSnapshot[] };
      const created = (s: StreamJobSnapshot) => new Date(s.metadata.creationTimestamp ?? 0).getTime();
      return list.items
        .filter((s) => s.spec?.jobName === job.metadata.name)
        .sort((a, b) => created(a) - created(b));
    } catch (error) {
      if (httpStatus(error) === 404) return [];
      throw this.apiError(`list streamjobsnapshots in ${job.metadata.namespace}`, error);
    }
  }

  /**
   * A TaskManager's own report (GET /v1/status on its metrics port), through
   * the API server's pod proxy: validated like the operator validates it,
   * since the pod may run another Weir version.
   */
  async taskManagerReport(namespace: string, pod: string): Promise<TaskManagerReport> {
    let answer: unknown;
    try {
      // The client parses a JSON answer itself; it is typed as a string, which it is only when it is not JSON.
      answer = await this.core.connectGetNamespacedPodProxyWithPath({
        namespace,
        name: `${pod}:${ports.metrics}`,
        path: controlPaths.status.slice(1),
      });
    } catch (error) {
      throw this.apiError(`read the report of TaskManager ${pod}`, error);
    }
    const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
    if (text.length > maxReportBytes)
      throw new CodedError(
        'TASKMANAGER_STATUS_INVALID',
        `the report of ${pod} is over ${maxReportBytes} bytes`,
        false,
      );
    let body: unknown = answer;
    if (typeof answer === 'string') {
      try {
        body = JSON.parse(answer);
      } catch {
        throw new CodedError('TASKMANAGER_STATUS_INVALID', `the report of ${pod} is not JSON`, false);
      }
    }
    return parseTaskManagerStatus(body);
  }

  async pods(job: StreamJob): Promise<V1Pod[]> {
    const list = await this.core.listNamespacedPod({
      namespace: job.metadata.namespace ?? '',
      labelSelector: `${labels.job}=${job.metadata.name}`,
    });
    return list.items.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  }

  async events(job: StreamJob): Promise<CoreV1Event[]> {
    const list = await this.core.listNamespacedEvent({
      namespace: job.metadata.namespace ?? '',
      fieldSelector: `involvedObject.uid=${job.metadata.uid}`,
    });
    const when = (e: CoreV1Event) =>
      new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
    // Times have a resolution of a second; the resourceVersion orders events of one second as they were written.
    const written = (e: CoreV1Event) => Number(e.metadata?.resourceVersion ?? 0);
    return list.items.sort((a, b) => when(a) - when(b) || written(a) - written(b));
  }

  async podLog(namespace: string, pod: string, tailLines?: number): Promise<string> {
    try {
      return await this.core.readNamespacedPodLog({
        namespace,
        name: pod,
        container: 'taskmanager',
        ...(tailLines !== undefined ? { tailLines } : {}),
      });
    } catch (error) {
      if (httpStatus(error) === 404)
        throw new CodedError('NOT_FOUND', `pod "${pod}" not found in namespace "${namespace}"`, false);
      throw this.apiError(`read the log of pod ${namespace}/${pod}`, error);
    }
  }

  private apiError(what: string, error: unknown): CodedError {
    const status = httpStatus(error);
    const body = (error as { body?: unknown }).body;
    const message =
      typeof body === 'string' && body.includes('"message"')
        ? ((JSON.parse(body) as { message?: string }).message ?? body)
        : (error as Error).message;
    return new CodedError(
      status === 403 ? 'FORBIDDEN' : 'API_ERROR',
      `${what}: ${status ? `${status} ` : ''}${message}`,
      status === undefined || status >= 500,
    );
  }
}
