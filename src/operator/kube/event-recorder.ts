import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { snapshotKind } from '../../api/snapshot.ts';
import { apiVersion, kind, type StreamJob } from '../../api/streamjob.ts';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid: string;
  resourceVersion?: string;
}

/** A StreamJob as the object its Events are about. */
export function streamJobEventTarget(job: StreamJob): EventTarget {
  return {
    apiVersion,
    kind,
    name: job.metadata.name ?? '',
    namespace: job.metadata.namespace ?? '',
    uid: job.metadata.uid ?? '',
    ...(job.metadata.resourceVersion ? { resourceVersion: job.metadata.resourceVersion } : {}),
  };
}

/** A StreamJobSnapshot as the object its Events are about. */
export function snapshotEventTarget(
  namespace: string,
  snapshot: { name: string; uid: string; resourceVersion?: string },
): EventTarget {
  return {
    apiVersion,
    kind: snapshotKind,
    name: snapshot.name,
    namespace,
    uid: snapshot.uid,
    ...(snapshot.resourceVersion ? { resourceVersion: snapshot.resourceVersion } : {}),
  };
}

/** Writes core/v1 Events for a resource; a failed write is logged, never fatal. */
export class EventRecorder {
  private readonly core: CoreV1Api;
  private readonly component: string;
  private readonly log: Logger;

  constructor(kubeConfig: KubeConfig, component: string, log: Logger) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.component = component;
    this.log = log;
  }

  async record(
    target: EventTarget,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace: target.namespace,
        body: {
          metadata: { name: `${target.name}.${randomBytes(8).toString('hex')}`, namespace: target.namespace },
          involvedObject: {
            apiVersion: target.apiVersion,
            kind: target.kind,
            name: target.name,
            namespace: target.namespace,
            uid: target.uid,
            resourceVersion: target.resourceVersion,
          },
          type,
          reason,
          message,
          source: { component: this.component },
          reportingComponent: this.component,
          reportingInstance: this.component,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (error) {
      this.log.warn({ err: error, reason }, 'could not record event');
    }
  }
}
