import { CoreV1Api, type KubeConfig, NetworkingV1Api, type V1Pod } from '@kubernetes/client-node';
import { taskManagerPodName, taskManagerPolicyName, tokenSecretName } from '../../api/names.ts';
import { deployedSpecOf, type StreamJob } from '../../api/streamjob.ts';
import { taskManagerEnv } from '../../api/taskmanager-env.ts';
import type { ActionOutcomes } from '../control/action-outcomes.ts';
import { jobToken } from '../control/job-token.ts';
import {
  disposeTaskManagerSavepoint,
  promoteTaskManager,
  stopTaskManagerWithSavepoint,
  triggerTaskManagerSavepoint,
} from '../control/taskmanager-client.ts';
import type { Action } from '../decide/pass.ts';
import type { SavepointOutcome, TriggerSavepoint } from '../decide/savepoint.ts';
import type { DisposalOutcome, DisposeSavepoints } from '../decide/savepoint-history.ts';
import type { PromoteStandby } from '../decide/standby.ts';
import { timingOf } from '../decide/timing.ts';
import type { StopWithSavepoint } from '../decide/upgrade.ts';
import { type OperatorPeer, taskManagerNetworkPolicy } from '../deploy/network-policy.ts';
import { stateClaim } from '../deploy/state-claim.ts';
import { type PodIdentity, taskManagerPod, tokenSecret } from '../deploy/taskmanager-pod.ts';
import { httpStatus, OperatorError } from '../errors.ts';
import type { SnapshotClient } from '../kube/snapshot-client.ts';

/** A promotion is answered before the standby restores: a request only. */
const promoteTimeoutMs = 5_000;

/** Deleting one savepoint's objects: a list and a few deletes. */
const disposalTimeoutMs = 60_000;

/** Carries out decided actions. Each is idempotent: an existing pod or a missing one is not an error. */
/** Whether jobs get a NetworkPolicy, and the operator pods it admits to the control port. */
export interface NetworkPolicySettings {
  enabled: boolean;
  operator: OperatorPeer;
}

export class Actuator {
  private readonly core: CoreV1Api;
  private readonly networking: NetworkingV1Api;
  private readonly networkPolicy: NetworkPolicySettings;
  /** Jobs (by uid) whose NetworkPolicy is known to be as configured (in place, or absent when turned off). */
  private readonly policiesEnsured = new Set<string>();
  /** Jobs (by uid) whose token Secret is known to exist, so it is not read on every pass. */
  private readonly secretsEnsured = new Set<string>();
  private readonly controlKey: Buffer;
  /** Where requests that end after this pass leave their outcomes, for the next pass to observe. */
  private readonly outcomes: ActionOutcomes;
  /** Pods (by uid) that answered a promotion: decide asks again on every pass, and this sends it once. */
  private readonly promoted = new Set<string>();
  private readonly snapshots: SnapshotClient;

  constructor(
    kubeConfig: KubeConfig,
    controlKey: Buffer,
    outcomes: ActionOutcomes,
    networkPolicy: NetworkPolicySettings,
    snapshots: SnapshotClient,
  ) {
    this.snapshots = snapshots;
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.networking = kubeConfig.makeApiClient(NetworkingV1Api);
    this.networkPolicy = networkPolicy;
    this.controlKey = controlKey;
    this.outcomes = outcomes;
  }

  /**
   * Carries out the actions in order; a run of pod creations (or deletions) goes at once, since those pods
   * do not depend on each other. Pods are made from the deployed spec (status.deployment), which an
   * upgrade moves.
   */
  async apply(job: StreamJob, actions: Action[]): Promise<void> {
    const deployed: StreamJob = { ...job, spec: deployedSpecOf(job) };
    // New pods read the token Secret at start: make sure it exists then, even if it was deleted meanwhile
    // (the way to renew a token made with another key).
    if (actions.some((a) => a.kind === 'createPod')) this.secretsEnsured.delete(job.metadata.uid ?? '');
    // A promotion that fails (the standby just ended, or is not reachable yet) holds up nothing else of the
    // pass; its error ends the pass afterwards, and the retry with backoff sends it again.
    let promotionFailure: unknown;
    for (let i = 0; i < actions.length; ) {
      const kind = actions[i]?.kind;
      let end = i + 1;
      if (kind === 'createPod' || kind === 'deletePod') {
        while (actions[end]?.kind === kind) end++;
      }
      const results = await Promise.allSettled(
        actions.slice(i, end).map((action) => this.applyOne(job, deployed, action)),
      );
      // Every request of the run has ended; the first failure is the reconcile's error.
      const failed = results.find((r) => r.status === 'rejected');
      if (failed && kind === 'promoteStandby') promotionFailure ??= failed.reason;
      else if (failed) throw failed.reason;
      i = end;
    }
    if (promotionFailure) throw promotionFailure;
  }

  private async applyOne(job: StreamJob, deployed: StreamJob, action: Action): Promise<void> {
    switch (action.kind) {
      case 'triggerSavepoint':
      case 'stopWithSavepoint':
        this.triggerSavepoint(deployed, action);
        return;
      case 'disposeSavepoints':
        this.disposeSavepoints(job, action);
        return;
      case 'ensureTokenSecret':
        await this.ensureTokenSecret(job);
        return;
      case 'ensureNetworkPolicy':
        await this.ensureNetworkPolicy(job);
        return;
      case 'createPod':
        // A warm upgrade's pods are the new version's, made from the spec while the old one stays deployed.
        await this.createPod(action.pod.warmFromRun ? job : deployed, action.pod);
        return;
      case 'deletePod':
        await this.deletePod(job, action.name, action.force);
        return;
      case 'promoteStandby':
        await this.promote(job, action);
        return;
      case 'createSnapshot':
      case 'patchSnapshotStatus':
      case 'addSnapshotFinalizer':
      case 'removeSnapshotFinalizer':
      case 'deleteSnapshot':
        await this.snapshots.apply(job.metadata.namespace ?? '', action);
        return;
    }
  }

  /** Tells a standby TaskManager to take over its tasks, once per pod (it answers at once, then restores). */
  private async promote(job: StreamJob, action: PromoteStandby): Promise<void> {
    if (this.promoted.has(action.uid)) return;
    if (!action.podIP) {
      throw new OperatorError('STANDBY_UNREACHABLE', `standby pod ${action.pod} has no IP yet`, true);
    }
    await promoteTaskManager(action.podIP, jobToken(this.controlKey, job), promoteTimeoutMs);
    this.promoted.add(action.uid);
  }

  /**
   * Starts the request in the background, once per savepoint id, so the
   * job's reconciles (a pod failure among them) never wait on TaskManagers
   * that take a while to snapshot. The next pass observes the outcome.
   */
  private triggerSavepoint(job: StreamJob, action: TriggerSavepoint | StopWithSavepoint): void {
    this.outcomes.requestSavepoint(job, action.id, () => this.requestSavepoint(job, action));
  }

  /**
   * Asks every TaskManager at once; the savepoint is complete only when all
   * of them stored their part. A failure is an outcome, not an error: it is
   * recorded in status rather than retried with the same id.
   */
  private async requestSavepoint(
    job: StreamJob,
    action: TriggerSavepoint | StopWithSavepoint,
  ): Promise<SavepointOutcome> {
    const token = jobToken(this.controlKey, job);
    const timeoutMs = timingOf(job.spec).savepointRequestTimeoutMs;
    const request =
      action.kind === 'stopWithSavepoint' ? stopTaskManagerWithSavepoint : triggerTaskManagerSavepoint;
    const results = await Promise.allSettled(
      action.targets.map((t) => request(t.podIP, token, action.id, timeoutMs)),
    );
    const failures = results.flatMap((r, i) =>
      r.status === 'rejected' ? [`${action.targets[i]?.pod}: ${(r.reason as Error).message}`] : [],
    );
    return failures.length
      ? { id: action.id, ok: false, message: failures.join('; ') }
      : { id: action.id, ok: true };
  }

  /** One disposal request per job at a time, in the background; its outcome wakes the job. */
  private disposeSavepoints(job: StreamJob, action: DisposeSavepoints): void {
    this.outcomes.requestDisposal(job, () => this.requestDisposal(job, action));
  }

  /** Deletes the savepoints one after another, stopping at the first failure (the rest wait for the retry). */
  private async requestDisposal(job: StreamJob, action: DisposeSavepoints): Promise<DisposalOutcome> {
    const token = jobToken(this.controlKey, job);
    const disposed: string[] = [];
    for (const id of action.ids) {
      try {
        await disposeTaskManagerSavepoint(action.target.podIP, token, id, disposalTimeoutMs);
        disposed.push(id);
      } catch (error) {
        return { disposed, failure: `${action.target.pod}: savepoint ${id}: ${(error as Error).message}` };
      }
    }
    return { disposed };
  }

  forget(uid: string): void {
    this.secretsEnsured.delete(uid);
    this.policiesEnsured.delete(uid);
    this.outcomes.forget(uid);
  }

  /**
   * Create-only on purpose: the token is derived from the operator's key, so
   * the operator never needs to read the Secret back, and its RBAC holds no
   * read access to Secrets in the jobs' namespaces. An existing Secret (409)
   * is the job's.
   */
  private async ensureTokenSecret(job: StreamJob): Promise<void> {
    const uid = job.metadata.uid ?? '';
    if (this.secretsEnsured.has(uid)) return;
    try {
      await this.core.createNamespacedSecret({
        namespace: job.metadata.namespace ?? '',
        body: tokenSecret(job, jobToken(this.controlKey, job)),
      });
    } catch (error) {
      if (httpStatus(error) !== 409) {
        throw wrap('SECRET_CREATE_FAILED', error, true, tokenSecretName(job.metadata.name ?? ''));
      }
    }
    this.secretsEnsured.add(uid);
  }

  /**
   * The job's NetworkPolicy as configured: created, or replaced when one of
   * that name exists (another operator release's labels), or deleted when the
   * policy is turned off. Once per job and operator process.
   */
  private async ensureNetworkPolicy(job: StreamJob): Promise<void> {
    const uid = job.metadata.uid ?? '';
    if (this.policiesEnsured.has(uid)) return;
    const namespace = job.metadata.namespace ?? '';
    const name = taskManagerPolicyName(job.metadata.name ?? '');
    if (!this.networkPolicy.enabled) {
      try {
        await this.networking.deleteNamespacedNetworkPolicy({ name, namespace });
      } catch (error) {
        if (httpStatus(error) !== 404) throw wrap('NETWORK_POLICY_DELETE_FAILED', error, true, name);
      }
      this.policiesEnsured.add(uid);
      return;
    }
    const body = taskManagerNetworkPolicy(job, this.networkPolicy.operator);
    try {
      await this.networking.createNamespacedNetworkPolicy({ namespace, body });
    } catch (error) {
      if (httpStatus(error) !== 409) throw wrap('NETWORK_POLICY_CREATE_FAILED', error, true, name);
      try {
        await this.networking.replaceNamespacedNetworkPolicy({ name, namespace, body });
      } catch (replaceError) {
        throw wrap('NETWORK_POLICY_CREATE_FAILED', replaceError, true, name);
      }
    }
    this.policiesEnsured.add(uid);
  }

  /**
   * The pod's state claim (local recovery), made before the pod that mounts
   * it; one already there (the pod's earlier life) is kept as it is. False
   * when the API server refused it: the pod is not made, and the refusal is
   * reported as the pod's.
   */
  private async ensureStateClaim(job: StreamJob, podName: string): Promise<boolean> {
    const claim = stateClaim(job, podName);
    if (!claim) return true;
    try {
      await this.core.createNamespacedPersistentVolumeClaim({
        namespace: job.metadata.namespace ?? '',
        body: claim,
      });
      return true;
    } catch (error) {
      const code = httpStatus(error);
      if (code === 409) return true;
      if (code === 422 || code === 400 || code === 403) {
        this.outcomes.podRejected(
          job.metadata.uid ?? '',
          podName,
          `the API server refused its state claim ${claim.metadata?.name}: ${serverMessage(error)}`,
        );
        return false;
      }
      throw error;
    }
  }

  private async createPod(job: StreamJob, identity: PodIdentity) {
    const body = taskManagerPod(job, identity);
    const uid = job.metadata.uid ?? '';
    const name = taskManagerPodName(job.metadata.name ?? '', identity.index, identity.slot);
    if (!(await this.ensureStateClaim(job, name))) return;
    const tooLarge = oversizedEnv(body);
    if (tooLarge) {
      // The kubelet would create it and exec would fail with E2BIG, naming nothing: refused here, saying why.
      this.outcomes.podRejected(uid, name, tooLarge);
      return;
    }
    try {
      await this.core.createNamespacedPod({ namespace: job.metadata.namespace ?? '', body });
      this.outcomes.podCreated(uid, name);
    } catch (error) {
      const code = httpStatus(error);
      if (code === 409) return; // created by an earlier pass the cache had not shown yet
      if (code === 422 || code === 400) {
        // The API server refused the pod itself: retrying the same spec cannot help, and the user must hear why.
        this.outcomes.podRejected(uid, name, `the API server refused to create it: ${serverMessage(error)}`);
        return;
      }
      throw wrap('POD_CREATE_FAILED', error, true, name);
    }
  }

  private async deletePod(job: StreamJob, name: string, force: boolean): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({
        name,
        namespace: job.metadata.namespace ?? '',
        ...(force ? { gracePeriodSeconds: 0 } : {}),
      });
    } catch (error) {
      if (httpStatus(error) === 404) return;
      throw wrap('POD_DELETE_FAILED', error, true, name);
    }
  }
}

function wrap(code: string, error: unknown, retriable = true, subject?: string): OperatorError {
  const body = (error as { body?: unknown }).body;
  const detail = typeof body === 'string' ? body : (error as Error).message;
  return new OperatorError(code, `${subject ? `${subject}: ` : ''}${detail}`, retriable, { cause: error });
}

/** What the API server said of a refused request: the Status's message, else the error's. */
function serverMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const status = JSON.parse(body) as { message?: unknown };
      if (typeof status.message === 'string') return status.message;
    } catch {
      return body;
    }
  }
  return (error as Error).message;
}

/** Linux's limit on one environment string, NAME=value included (MAX_ARG_STRLEN, 32 pages of 4 KiB). */
const maxEnvStringBytes = 131_072;

/** Why the pod's container could not start, if one of its env values is past what exec takes. */
function oversizedEnv(pod: V1Pod): string | undefined {
  for (const container of pod.spec?.containers ?? []) {
    for (const env of container.env ?? []) {
      const bytes = Buffer.byteLength(`${env.name}=${env.value ?? ''}`) + 1;
      if (bytes > maxEnvStringBytes) {
        const field = env.name === taskManagerEnv.args ? 'spec.args' : `the environment variable ${env.name}`;
        return `${field} is ${bytes} bytes as ${env.name}; one environment variable holds at most ${maxEnvStringBytes} bytes (Linux's MAX_ARG_STRLEN), so the TaskManager could not start: keep large inputs in a ConfigMap or the image`;
      }
    }
  }
  return undefined;
}
