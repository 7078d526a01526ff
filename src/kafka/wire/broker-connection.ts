import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { WireFormatError } from './wire-error.ts';
import { WireReader } from './wire-reader.ts';
import { WireWriter } from './wire-writer.ts';

/** How to reach a broker: the librdkafka security settings, read once (wire-security.ts). */
export interface WireSecurity {
  tls?: { ca?: string; certificate?: string; key?: string };
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string };
}

/** A failure of the connection itself (refused, reset, timed out, TLS): retriable by reconnecting. */
export class ConnectionError extends Error {
  readonly address: string;
  readonly tls: boolean;

  constructor(address: string, message: string, tls = false) {
    super(`${address}: ${message}`);
    this.address = address;
    this.tls = tls;
    this.name = 'ConnectionError';
  }
}

interface Pending {
  resolve(reader: WireReader): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * One connection to one broker: length-prefixed frames, requests pipelined
 * and matched to responses by correlation id. A response is handed over as a
 * reader over its own buffer, so what is decoded from it may stay views.
 */
/** The largest response frame read: fetches ask for 50 MiB at most (record-fetcher.ts), and a broker may pass that by one batch. */
export const maxResponseBytes = 128 * 1024 * 1024;

export class BrokerConnection {
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failure: Error | undefined;
  readonly address: string;
  private readonly socket: Socket;
  private readonly clientId: string;
  private readonly requestTimeoutMs: number;

  private constructor(address: string, socket: Socket, clientId: string, requestTimeoutMs: number) {
    this.address = address;
    this.socket = socket;
    this.clientId = clientId;
    this.requestTimeoutMs = requestTimeoutMs;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.fail(new ConnectionError(address, error.message)));
    socket.on('close', () => this.fail(new ConnectionError(address, 'connection closed')));
  }

  static open(
    host: string,
    port: number,
    options: { clientId: string; security: WireSecurity; connectTimeoutMs: number; requestTimeoutMs: number },
  ): Promise<BrokerConnection> {
    const address = `${host}:${port}`;
    const { tls } = options.security;
    return new Promise((resolve, reject) => {
      const socket = tls
        ? connectTls({
            host,
            port,
            ...(isIpAddress(host) ? {} : { servername: host }),
            ...(tls.ca ? { ca: tls.ca } : {}),
            ...(tls.certificate ? { cert: tls.certificate } : {}),
            ...(tls.key ? { key: tls.key } : {}),
          })
        : connectTcp({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionError(address, `no connection within ${options.connectTimeoutMs} ms`));
      }, options.connectTimeoutMs);
      const onError = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new ConnectionError(address, error.message, Boolean(tls) && isTlsFailure(error)));
      };
      socket.once('error', onError);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new BrokerConnection(address, socket, options.clientId, options.requestTimeoutMs));
      });
    });
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  /** Sends a request (header v1) and resolves with a reader positioned after the response header (v0). */
  request(
    apiKey: number,
    apiVersion: number,
    body: Buffer,
    timeoutMs = this.requestTimeoutMs,
  ): Promise<WireReader> {
    if (this.failure) return Promise.reject(this.failure);
    const correlationId = this.nextCorrelationId++;
    const header = new WireWriter()
      .int16(apiKey)
      .int16(apiVersion)
      .int32(correlationId)
      .string(this.clientId)
      .done();
    const size = Buffer.allocUnsafe(4);
    size.writeInt32BE(header.length + body.length);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          new ConnectionError(
            this.address,
            `no answer to request ${apiKey} v${apiVersion} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
      this.socket.write(Buffer.concat([size, header, body]));
    });
  }

  close(): void {
    this.fail(new ConnectionError(this.address, 'connection closed by the client'));
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 4) {
      const head = this.chunks[0] as Buffer;
      const first = head.length >= 4 ? head : Buffer.concat(this.chunks);
      const size = first.readInt32BE(0);
      if (size < 4 || size > maxResponseBytes) {
        // Not a Kafka response (a correlation id is 4 bytes; fetches ask for at most 50 MiB): nothing after it can be framed.
        this.chunks = [];
        this.buffered = 0;
        this.fail(
          new WireFormatError(
            `${this.address}: a response frame of ${size} bytes (from 4 to ${maxResponseBytes})`,
          ),
        );
        return;
      }
      if (this.buffered < 4 + size) return;
      // One contiguous buffer per response: records decoded from it are views into it.
      const all = this.chunks.length === 1 ? head : Buffer.concat(this.chunks, this.buffered);
      const frame = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
      this.dispatch(frame);
    }
  }

  private dispatch(frame: Buffer): void {
    const reader = new WireReader(frame);
    const correlationId = reader.int32();
    const pending = this.pending.get(correlationId);
    if (!pending) {
      this.fail(new ConnectionError(this.address, `response with unknown correlation id ${correlationId}`));
      return;
    }
    this.pending.delete(correlationId);
    clearTimeout(pending.timer);
    pending.resolve(reader);
  }

  private fail(error: Error): void {
    if (!this.failure) this.failure = error;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(this.failure);
    }
    this.pending.clear();
    this.socket.destroy();
  }
}

/** host:port of a bootstrap server ([v6]:port too). */
export function parseBrokerAddress(server: string): { host: string; port: number } {
  const at = server.lastIndexOf(':');
  return {
    host: server
      .slice(0, at)
      .trim()
      .replace(/^\[|\]$/g, ''),
    port: Number(server.slice(at + 1)),
  };
}

function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function isTlsFailure(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  return (
    /CERT|SSL|TLS|HOSTNAME|ALTNAME|SELF_SIGNED|ERR_SSL/i.test(code) ||
    /certificate|handshake|SSL|TLS/i.test(error.message)
  );
}
