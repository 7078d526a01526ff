import type { ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/** Answers a Prometheus scrape from `registry` (operator and TaskManager alike). */
export function serveMetrics(registry: Registry, res: ServerResponse): void {
  registry
    .metrics()
    .then((text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text))
    .catch((error: unknown) => res.writeHead(500).end(String(error)));
}
