import { ports } from '../../api/constants.ts';
import {
  controlPaths,
  parseTaskManagerStatus,
  type SavepointRequest,
  type StopRequest,
  type TaskManagerReport,
} from '../../api/control-api.ts';
import { OperatorError } from '../errors.ts';

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
  const { url, response } = await controlRequest(podIP, controlPaths.status, token, timeoutMs);
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
  await postControl(podIP, controlPaths.savepoints, token, timeoutMs, {
    id: savepointId,
  } satisfies SavepointRequest);
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
  await postControl(podIP, controlPaths.stop, token, timeoutMs, { savepointId } satisfies StopRequest);
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
  const path = controlPaths.savepoint(savepointId);
  const { url, response } = await controlRequest(podIP, path, token, timeoutMs, undefined, 'DELETE');
  await expectOk(url, response, 'TASKMANAGER_SAVEPOINT_DISPOSE_FAILED');
}

/**
 * POST /v1/promote on a standby TaskManager: it takes over its tasks on its
 * warm state. Resolves once the TaskManager accepted (it restores and runs
 * after answering); asking one promoted already succeeds too.
 */
export async function promoteTaskManager(podIP: string, token: string, timeoutMs: number): Promise<void> {
  const { url, response } = await controlRequest(podIP, controlPaths.promote, token, timeoutMs, {});
  await expectOk(url, response, 'TASKMANAGER_PROMOTE_FAILED');
}

async function postControl(
  podIP: string,
  path: string,
  token: string,
  timeoutMs: number,
  body: SavepointRequest | StopRequest,
): Promise<void> {
  const { url, response } = await controlRequest(podIP, path, token, timeoutMs, body);
  await expectOk(url, response, 'TASKMANAGER_SAVEPOINT_FAILED');
}

/** A 2xx answer's body is dropped; any other is an error with `code`, retriable when the TaskManager erred (5xx). */
async function expectOk(url: string, response: Response, code: string): Promise<void> {
  if (response.ok) {
    await response.body?.cancel();
    return;
  }
  throw new OperatorError(
    code,
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
