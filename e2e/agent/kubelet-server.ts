import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { Logger } from 'pino';
import { containerLogFiles, streamLog } from './container-logs.ts';

export interface KubeletServerOptions {
  address: string;
  port: number;
  certFile: string;
  keyFile: string;
  /** The cluster CA: the API server's client certificate must chain to it. */
  caFile: string;
  logsDir: string;
  isRunning(namespace: string, pod: string, container: string): boolean;
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
      const files = containerLogFiles(options.logsDir, namespace, pod, container);
      const previous = url.searchParams.get('previous') === 'true';
      const file = previous ? files.at(-2) : files.at(-1);
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
    },
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.address, () => resolve(server));
  });
}
