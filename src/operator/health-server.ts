import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { serveMetrics } from '../metrics-http.ts';

export interface HealthServerOptions {
  host: string;
  port: number;
  ready: () => boolean;
  registry: Registry;
}

/** /healthz (the process serves), /readyz (caches synced) and /metrics (Prometheus). */
export function startHealthServer(options: HealthServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.end('ok\n');
    } else if (path === '/readyz') {
      const ready = options.ready();
      res.writeHead(ready ? 200 : 503).end(ready ? 'ok\n' : 'caches not synced\n');
    } else if (path === '/metrics') {
      serveMetrics(options.registry, res);
    } else {
      res.writeHead(404).end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}
