import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import {
  controlPaths,
  type NoProgressDocument,
  type TaskManagerStatusDocument,
} from '../../api/control-api.ts';
import { savepointIdPattern } from '../../api/savepoint-ref.ts';
import { CodedError } from '../../errors.ts';
import { serveMetrics } from '../../metrics-http.ts';

export interface ControlHandlers {
  ready: () => boolean;
  /** Liveness: undefined while every task makes progress, else what stalled. */
  noProgress: () => NoProgressDocument | undefined;
  status: () => TaskManagerStatusDocument;
  savepoint: (id: string) => Promise<unknown>;
  stop: (savepointId: string | undefined) => Promise<unknown>;
  /** A standby takes over its tasks (409 when it is not a standby, nor promoted already). */
  promote: () => unknown;
  /** Deletes a savepoint's objects from storage; one already gone is not an error. */
  disposeSavepoint: (id: string) => Promise<unknown>;
}

const maxBodyBytes = 16 * 1024;

export class RequestError extends CodedError {
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, message, false);
    this.status = status;
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(`${JSON.stringify(body)}\n`);
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes)
      throw new RequestError(413, 'BODY_TOO_LARGE', `request body over ${maxBodyBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new RequestError(
      400,
      'BODY_INVALID',
      `request body must be a JSON object: ${(error as Error).message}`,
    );
  }
}

function optionalId(body: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const value = body[field];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || !savepointIdPattern.test(value)) {
    throw new RequestError(400, 'FIELD_INVALID', `${field} must be a string matching ${savepointIdPattern}`);
  }
  return value;
}

/** The open watch responses of each control server (GET /v1/watch), ended by endWatches before it closes. */
const watchesOf = new WeakMap<Server, Set<ServerResponse>>();

/** A heartbeat line on every watch this often: idle connections through NAT or proxies stay open. */
const watchHeartbeatMs = 15_000;

/**
 * Ends every watch of the server: a stopping TaskManager ends them before it
 * closes its servers (which wait for open responses), and the operator then
 * finds the port refusing connections once the process is gone.
 */
export function endWatches(server: Server): void {
  for (const res of watchesOf.get(server) ?? []) res.end();
  watchesOf.get(server)?.clear();
}

/**
 * GET /v1/watch: a response that stays open while the process lives. The
 * operator holds one per active TaskManager; the kernel closes it the moment
 * the process dies (SIGKILL, OOM), which the operator sees at once, a second
 * or more before the kubelet reports the container's end.
 */
function serveWatch(server: Server, res: ServerResponse): void {
  let watches = watchesOf.get(server);
  if (!watches) {
    watches = new Set();
    watchesOf.set(server, watches);
  }
  const open = watches;
  open.add(res);
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' });
  res.write('{"serving":true}\n');
  const heartbeat = setInterval(() => res.write('\n'), watchHeartbeatMs).unref();
  res.on('close', () => {
    clearInterval(heartbeat);
    open.delete(res);
  });
}

/**
 * The TaskManager control API (DESIGN.md): health without credentials,
 * everything else with `Authorization: Bearer <job token>`.
 */
export function startControlServer(options: {
  /** undefined: every address (IPv6 and IPv4 where the host has both). */
  host: string | undefined;
  port: number;
  token: string;
  handlers: ControlHandlers;
}): Promise<Server> {
  const expected = Buffer.from(`Bearer ${options.token}`);
  const authorized = (req: IncomingMessage) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = `${req.method} ${path}`;
    if (route === 'GET /healthz') {
      const stalled = options.handlers.noProgress();
      return stalled ? send(res, 503, stalled) : void res.end('ok\n');
    }
    if (route === 'GET /readyz') {
      const ready = options.handlers.ready();
      return void res.writeHead(ready ? 200 : 503).end(ready ? 'ok\n' : 'restoring\n');
    }
    if (!authorized(req)) {
      return send(
        res,
        401,
        { code: 'UNAUTHORIZED', message: 'Authorization: Bearer <job token> required' },
        {
          'WWW-Authenticate': 'Bearer realm="weir-taskmanager"',
        },
      );
    }
    const handle = async () => {
      switch (route) {
        case `GET ${controlPaths.status}`:
          return send(res, 200, options.handlers.status());
        case `POST ${controlPaths.savepoints}`: {
          const id = optionalId(await jsonBody(req), 'id', true) as string;
          return send(res, 200, await options.handlers.savepoint(id));
        }
        case `GET ${controlPaths.watch}`:
          return serveWatch(server, res);
        case `POST ${controlPaths.promote}`:
          return send(res, 200, options.handlers.promote());
        case `POST ${controlPaths.stop}`: {
          const savepointId = optionalId(await jsonBody(req), 'savepointId', false);
          return send(res, 200, await options.handlers.stop(savepointId));
        }
        default: {
          const dispose = `DELETE ${controlPaths.savepoints}/`;
          const rest = route.startsWith(dispose) ? route.slice(dispose.length) : '';
          if (rest && !rest.includes('/')) {
            const id = optionalId({ id: decodeURIComponent(rest) }, 'id', true) as string;
            return send(res, 200, await options.handlers.disposeSavepoint(id));
          }
          return send(res, 404, { code: 'NOT_FOUND', message: `no route ${route}` });
        }
      }
    };
    handle().catch((error: unknown) => {
      const status = error instanceof RequestError ? error.status : 500;
      const coded = error as Partial<CodedError>;
      send(res, status, {
        code: coded.code ?? 'INTERNAL',
        message: (error as Error)?.message ?? String(error),
        retriable: coded.retriable ?? false,
      });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}

/**
 * The metrics port: Prometheus' /metrics, and GET /v1/status read-only
 * without the token. The status document holds no secret (task states,
 * partitions, offsets, lag, checkpoint ids), the same facts as the metrics,
 * and the job's NetworkPolicy admits this port from anywhere, as it must for
 * Prometheus; the control port, which acts, keeps its token.
 */
export function startMetricsServer(
  host: string | undefined,
  port: number,
  registry: Registry,
  /** The control API's status document, served read-only here too (kubectl weir describe reads it). */
  status?: () => TaskManagerStatusDocument,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === controlPaths.status && status) return send(res, 200, status());
    if (path !== '/metrics') return void res.writeHead(404).end('not found\n');
    serveMetrics(registry, res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
