import { ports } from '../../api/constants.ts';
import { OperatorError } from '../errors.ts';

/** One task's checkpoint progress, as a TaskManager reports it on GET /v1/status. */
export interface TaskCheckpointReport {
  task: number;
  /** The checkpoint the task's state stands on (restored or completed); 0 before any. */
  checkpointId: number;
  /** Everything the task read before this time is committed; absent until its restore finished. */
  committedAsOf?: Date;
  consecutiveFailures: number;
}

export interface TaskManagerReport {
  runId: string;
  tasks: TaskCheckpointReport[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/**
 * Validates a TaskManager's status document. The TaskManager may run another
 * Weir version than the operator, so anything unexpected is an error naming
 * the field rather than a guess.
 */
export function parseTaskManagerStatus(body: unknown): TaskManagerReport {
  const invalid = (field: string, why: string) =>
    new OperatorError('TASKMANAGER_STATUS_INVALID', `status field ${field}: ${why}`, false);
  if (!isRecord(body)) throw invalid('(document)', 'not a JSON object');
  if (typeof body.runId !== 'string') throw invalid('runId', 'not a string');
  if (!Array.isArray(body.tasks)) throw invalid('tasks', 'not an array');
  const tasks = body.tasks.map((raw: unknown, i): TaskCheckpointReport => {
    if (!isRecord(raw)) throw invalid(`tasks[${i}]`, 'not an object');
    if (!nonNegativeInteger(raw.task)) throw invalid(`tasks[${i}].task`, 'not a task index');
    const failures = raw.consecutiveCheckpointFailures;
    if (!nonNegativeInteger(failures))
      throw invalid(`tasks[${i}].consecutiveCheckpointFailures`, 'not a count');
    if (!nonNegativeInteger(raw.lastCheckpointId))
      throw invalid(`tasks[${i}].lastCheckpointId`, 'not a checkpoint id');
    const report: TaskCheckpointReport = {
      task: raw.task,
      checkpointId: raw.lastCheckpointId,
      consecutiveFailures: failures,
    };
    if (raw.committedAsOf === null) return report;
    const asOf = typeof raw.committedAsOf === 'string' ? new Date(raw.committedAsOf) : undefined;
    if (!asOf || Number.isNaN(asOf.getTime()))
      throw invalid(`tasks[${i}].committedAsOf`, 'not a timestamp or null');
    return { ...report, committedAsOf: asOf };
  });
  return { runId: body.runId, tasks };
}

/**
 * One authenticated call to a TaskManager's control API. Network failures are
 * retriable; a refused token is not (the job's Secret holds a token this
 * operator's key did not derive: made by another key, or by hand).
 */
async function controlRequest(
  podIP: string,
  path: string,
  token: string,
  timeoutMs: number,
  body?: unknown,
  method?: 'DELETE',
): Promise<{ url: string; response: Response }> {
  const host = podIP.includes(':') ? `[${podIP}]` : podIP;
  const url = `http://${host}:${ports.control}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      ...(body === undefined
        ? { headers: { Authorization: `Bearer ${token}` }, ...(method ? { method } : {}) }
        : {
            method: 'POST',
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
            body: JSON.stringify(body),
          }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new OperatorError('TASKMANAGER_UNREACHABLE', `${url}: ${(error as Error).message}`, true, {
      cause: error,
    });
  }
  if (response.status === 401) {
    await response.body?.cancel();
    throw new OperatorError('TASKMANAGER_UNAUTHORIZED', `${url}: the job's token was refused`, false);
  }
  return { url, response };
}

/** GET /v1/status of one TaskManager pod over its control channel. */
export async function fetchTaskManagerStatus(
  podIP: string,
  token: string,
  timeoutMs: number,
): Promise<TaskManagerReport> {
  const { url, response } = await controlRequest(podIP, '/v1/status', token, timeoutMs);
  if (!response.ok) {
    await response.body?.cancel();
    throw new OperatorError('TASKMANAGER_STATUS_FAILED', `${url}: HTTP ${response.status}`, true);
  }
  return parseTaskManagerStatus(await response.json());
}

/**
 * POST /v1/savepoints on one TaskManager: its tasks snapshot every partition
 * under the savepoint's prefix, commit, and write the TaskManager's part of
 * the manifest. Resolves once that part is stored.
 */
export async function triggerTaskManagerSavepoint(
  podIP: string,
  token: string,
  savepointId: string,
  timeoutMs: number,
): Promise<void> {
  await postControl(podIP, '/v1/savepoints', token, timeoutMs, { id: savepointId });
}

/**
 * POST /v1/stop with a savepoint on one TaskManager: its tasks finish the
 * batch in hand, commit their last transaction, write their savepoint part
 * and stop taking input; the process then exits 0. Resolves once the part is
 * stored. Asking again (an operator restarted meanwhile) gets the same answer.
 */
export async function stopTaskManagerWithSavepoint(
  podIP: string,
  token: string,
  savepointId: string,
  timeoutMs: number,
): Promise<void> {
  await postControl(podIP, '/v1/stop', token, timeoutMs, { savepointId });
}

/**
 * DELETE /v1/savepoints/<id> on one TaskManager: it deletes every object of
 * the savepoint from the job's storage (the operator holds no storage
 * credentials). Deleting a savepoint that is already gone succeeds.
 */
export async function disposeTaskManagerSavepoint(
  podIP: string,
  token: string,
  savepointId: string,
  timeoutMs: number,
): Promise<void> {
  const path = `/v1/savepoints/${encodeURIComponent(savepointId)}`;
  const { url, response } = await controlRequest(podIP, path, token, timeoutMs, undefined, 'DELETE');
  if (response.ok) {
    await response.body?.cancel();
    return;
  }
  throw new OperatorError(
    'TASKMANAGER_SAVEPOINT_DISPOSE_FAILED',
    `${url}: HTTP ${response.status}: ${await errorDetail(response)}`,
    response.status >= 500,
  );
}

async function postControl(
  podIP: string,
  path: string,
  token: string,
  timeoutMs: number,
  body: Record<string, unknown>,
): Promise<void> {
  const { url, response } = await controlRequest(podIP, path, token, timeoutMs, body);
  if (response.ok) {
    await response.body?.cancel();
    return;
  }
  throw new OperatorError(
    'TASKMANAGER_SAVEPOINT_FAILED',
    `${url}: HTTP ${response.status}: ${await errorDetail(response)}`,
    response.status >= 500,
  );
}

/** The control API's error body as "CODE: message", or its raw text. */
async function errorDetail(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof parsed.message === 'string') return `${String(parsed.code ?? 'ERROR')}: ${parsed.message}`;
  } catch {
    // not JSON: the raw text is the best detail there is
  }
  return text.trim();
}
