import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 to a harness service. Stopping it refuses new
 * connections and cuts the open ones, which is what a client sees when the
 * service goes down.
 */
export class TcpProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private accepting = true;

  private constructor(server: Server) {
    this.server = server;
  }

  static start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server);
    server.on('connection', (client) => {
      if (!proxy.accepting) return void client.destroy();
      const upstream = createConnection(target);
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on('close', () => proxy.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(proxy)));
  }

  get url(): string {
    const address = this.server.address();
    return typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
  }

  /** Cuts every connection and refuses new ones (the port stays bound, so nothing else can take it). */
  cut(): void {
    this.accepting = false;
    for (const s of this.sockets) s.destroy();
  }

  /** Accepts connections again: the service is back. */
  heal(): void {
    this.accepting = true;
  }

  close(): void {
    this.cut();
    this.server.close();
  }
}
