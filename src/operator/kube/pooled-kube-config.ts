import { statSync } from 'node:fs';
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * A KubeConfig whose API calls share one connection pool. client-node 2.0 gives every request a new
 * undici Agent, so each status write, pod create and watch opened its own TLS connection: at 1,000 jobs
 * the handshakes and secure contexts were about a quarter of the operator's CPU (bench/operator-scale.ts,
 * BENCHMARKS.md). Headers (bearer tokens, exec credentials) are still applied per request by client-node;
 * only the transport is shared. A new pool replaces the old one when the TLS material changes: other
 * cluster or user, other inline data, or a rewritten CA, certificate or key file.
 */
export class PooledKubeConfig extends KubeConfig {
  private pool: { key: string; dispatcher: Dispatcher } | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return; // plain HTTP without TLS options: undici's global pool already keeps connections
    const key = this.transportKey();
    if (this.pool?.key === key) {
      context.setDispatcher(this.pool.dispatcher);
      // Never connected: closing it releases nothing but its bookkeeping.
      void fresh.close().catch(() => undefined);
      return;
    }
    const previous = this.pool;
    this.pool = { key, dispatcher: fresh };
    // In-flight requests on the old pool finish first; close() waits for them.
    void previous?.dispatcher.close().catch(() => undefined);
  }

  /** Everything the TLS connection is made from; a file counts by its path and modification time. */
  private transportKey(): string {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    const file = (path: string | undefined) => {
      if (!path) return undefined;
      try {
        const stat = statSync(path);
        return `${path}@${stat.mtimeMs}:${stat.size}`;
      } catch {
        return `${path}@missing`;
      }
    };
    return JSON.stringify([
      cluster?.name,
      cluster?.server,
      file(cluster?.caFile),
      cluster?.caData,
      cluster?.skipTLSVerify,
      cluster?.tlsServerName,
      cluster?.proxyUrl,
      user?.name,
      file(user?.certFile),
      user?.certData,
      file(user?.keyFile),
      user?.keyData,
    ]);
  }
}
