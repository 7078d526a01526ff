import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { NodeAgent, NodeState } from './agent.ts';

/**
 * Loopback-only HTTP for tests and people: node loss and pod partitions.
 *   GET  /healthz
 *   GET  /v1/nodes
 *   POST /v1/nodes/{name}/state?to=running|frozen|stopped
 *   GET  /v1/pods/{namespace}/{name}   (every instance this agent runs: uid, node, containers)
 *   POST /v1/pods/{namespace}/{name}/network?link=up|down[&uid=<pod uid>]
 *   POST /v1/pods/{namespace}/{name}/network?drop=<address>:<port>&state=on|off
 */
export function startControlServer(agent: NodeAgent, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    try {
      route(agent, req, res);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ error: (error as Error).message })}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function route(agent: NodeAgent, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://agent');
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
  };
  const fail = (error: unknown) => reply(400, { error: (error as Error).message });
  if (req.method === 'GET' && url.pathname === '/healthz') {
    reply(200, { ok: true });
    return;
  }
  if (req.method === 'GET' && url.pathname === '/v1/nodes') {
    reply(200, agent.nodeStates());
    return;
  }
  const nodeMatch = /^\/v1\/nodes\/([^/]+)\/state$/.exec(url.pathname);
  if (req.method === 'POST' && nodeMatch) {
    const to = url.searchParams.get('to');
    if (to !== 'running' && to !== 'frozen' && to !== 'stopped') {
      reply(400, { error: `query parameter "to" must be running, frozen or stopped, got "${to}"` });
      return;
    }
    agent
      .setNodeState(nodeMatch[1] ?? '', to satisfies NodeState)
      .then(() => reply(200, agent.nodeStates()))
      .catch(fail);
    return;
  }
  const instanceMatch = /^\/v1\/pods\/([^/]+)\/([^/]+)$/.exec(url.pathname);
  if (req.method === 'GET' && instanceMatch) {
    reply(200, agent.podInstances(instanceMatch[1] ?? '', instanceMatch[2] ?? ''));
    return;
  }
  const podMatch = /^\/v1\/pods\/([^/]+)\/([^/]+)\/network$/.exec(url.pathname);
  if (req.method === 'POST' && podMatch) {
    const drop = url.searchParams.get('drop');
    if (drop !== null) {
      const state = url.searchParams.get('state');
      if (state !== 'on' && state !== 'off') {
        reply(400, { error: `query parameter "state" must be on or off, got "${state}"` });
        return;
      }
      agent
        .setPodTraffic(podMatch[1] ?? '', podMatch[2] ?? '', drop, state === 'on')
        .then(() => reply(200, { drop, state }))
        .catch(fail);
      return;
    }
    const link = url.searchParams.get('link');
    if (link !== 'up' && link !== 'down') {
      reply(400, { error: `query parameter "link" must be up or down, got "${link}"` });
      return;
    }
    agent
      .setPodNetwork(
        podMatch[1] ?? '',
        podMatch[2] ?? '',
        link === 'up',
        url.searchParams.get('uid') ?? undefined,
      )
      .then((veth) => reply(200, { veth, link }))
      .catch(fail);
    return;
  }
  reply(404, { error: `${req.method} ${url.pathname} is not an agent endpoint` });
}
