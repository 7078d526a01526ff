import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Logger } from 'pino';
import { containerLogFiles, selectLogFile, streamLog } from './container-logs.ts';

export interface KubeletServerOptions {
  address: string;
  port: number;
  certFile: string;
  keyFile: string;
  /** The cluster CA: the API server's client certificate must chain to it. */
  caFile: string;
  logsDir: string;
  isRunning(namespace: string, pod: string, container: string): boolean;
  restartCount(namespace: string, pod: string, container: string): number | undefined;
  log: Logger;
}

/** The slice of the kubelet API that `kubectl logs` uses, served over mutual TLS. */
export function startKubeletServer(options: KubeletServerOptions): Promise<Server> {
  const server = createServer(
    {
      cert: readFileSync(options.certFile),
      key: readFileSync(options.keyFile),
      ca: readFileSync(options.caFile),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      try {
        serveLogs(req, res, options);
      } catch (error) {
        // A bad request must never take the node agent (and every pod on it) down.
        options.log.error({ err: error, url: req.url }, 'kubelet request failed');
        if (!res.headersSent) res.writeHead(500);
        res.end(`internal error: ${(error as Error).message}\n`);
      }
    },
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.address, () => resolve(server));
  });
}

function serveLogs(req: IncomingMessage, res: ServerResponse, options: KubeletServerOptions): void {
  const url = new URL(req.url ?? '/', 'https://kubelet');
  if (url.pathname === '/healthz') {
    res.end('ok');
    return;
  }
  const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
  if (req.method !== 'GET' || !match) {
    res.writeHead(404).end(`${url.pathname} is not served by the weir node agent\n`);
    return;
  }
  const [, namespace = '', pod = '', container = ''] = match;
  const previous = url.searchParams.get('previous') === 'true';
  const file = selectLogFile(
    containerLogFiles(options.logsDir, namespace, pod, container),
    options.restartCount(namespace, pod, container),
    previous,
  );
  if (!file) {
    const what = previous ? 'previous terminated container' : 'container';
    res.writeHead(404).end(`${what} "${container}" in pod "${pod}" has no logs\n`);
    return;
  }
  const tail = url.searchParams.get('tailLines');
  let closed = false;
  res.on('close', () => {
    closed = true;
  });
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  streamLog(
    {
      file,
      ...(tail ? { tailLines: Number(tail) } : {}),
      follow: url.searchParams.get('follow') === 'true' && !previous,
      isRunning: () => options.isRunning(namespace, pod, container),
      closed: () => closed,
    },
    res,
  )
    .catch((error: unknown) => options.log.warn({ err: error }, 'log stream failed'))
    .finally(() => res.end());
}
