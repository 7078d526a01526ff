import { KafkaError } from '../kafka-error.ts';
import { BrokerConnection, ConnectionError, type WireSecurity } from './broker-connection.ts';
import {
  apiNames,
  apis,
  readApiVersions,
  readSaslAuthenticate,
  readSaslHandshake,
  saslAuthenticateRequest,
  saslHandshakeRequest,
} from './messages.ts';
import { saslExchange } from './sasl.ts';

export interface OpenOptions {
  clientId: string;
  security: WireSecurity;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** The requests the caller will send, at their versions: the broker must serve each. */
  needs: readonly Api[];
}

type Api = (typeof apis)[keyof typeof apis];

/**
 * A connection ready for the fetch path: the broker serves every request
 * version it uses, and the SASL login (if any) is done. Failures are
 * KafkaErrors that name their cause: KAFKA_UNREACHABLE (retriable),
 * KAFKA_TLS_FAILED, KAFKA_AUTHENTICATION_FAILED, KAFKA_UNSUPPORTED_VERSION.
 */
export async function openBroker(
  host: string,
  port: number,
  options: OpenOptions,
): Promise<BrokerConnection> {
  let connection: BrokerConnection;
  try {
    connection = await BrokerConnection.open(host, port, options);
  } catch (error) {
    throw connectFailure(error as Error);
  }
  try {
    const { errorCode, versions } = readApiVersions(
      await connection.request(apis.apiVersions.key, apis.apiVersions.version, Buffer.alloc(0)),
    );
    if (errorCode)
      throw failure(
        'read API versions',
        `the broker answered error ${errorCode}`,
        'KAFKA_UNSUPPORTED_VERSION',
      );
    const sasl = options.security.sasl ? [apis.saslHandshake, apis.saslAuthenticate] : [];
    for (const api of [...options.needs, ...sasl]) {
      const range = versions.get(api.key);
      if (!range || api.version < range[0] || api.version > range[1]) {
        const served = range ? `it serves v${range[0]}–v${range[1]}` : 'it does not serve it';
        throw failure(
          'read API versions',
          `${connection.address} cannot serve ${apiNames[api.key]} v${api.version}: ${served}`,
          'KAFKA_UNSUPPORTED_VERSION',
        );
      }
    }
    if (options.security.sasl) await authenticate(connection, options.security.sasl);
    return connection;
  } catch (error) {
    connection.close();
    throw error instanceof KafkaError ? error : connectFailure(error as Error);
  }
}

async function authenticate(
  connection: BrokerConnection,
  sasl: NonNullable<WireSecurity['sasl']>,
): Promise<void> {
  const handshake = readSaslHandshake(
    await connection.request(
      apis.saslHandshake.key,
      apis.saslHandshake.version,
      saslHandshakeRequest(sasl.mechanism),
    ),
  );
  if (handshake.errorCode) {
    throw failure(
      'SASL handshake',
      `${connection.address} does not enable ${sasl.mechanism} (it enables ${handshake.mechanisms.join(', ') || 'none'})`,
      'KAFKA_AUTHENTICATION_FAILED',
    );
  }
  const exchange = saslExchange(sasl);
  let message: Buffer | undefined = exchange.first();
  while (message) {
    const answer = readSaslAuthenticate(
      await connection.request(
        apis.saslAuthenticate.key,
        apis.saslAuthenticate.version,
        saslAuthenticateRequest(message),
      ),
    );
    if (answer.errorCode) {
      throw failure(
        'SASL authentication',
        `${connection.address} refused ${sasl.mechanism} login of "${sasl.username}": ${answer.message ?? `error ${answer.errorCode}`}`,
        'KAFKA_AUTHENTICATION_FAILED',
      );
    }
    try {
      message = exchange.next(answer.bytes);
    } catch (error) {
      throw failure(
        'SASL authentication',
        `${connection.address}: ${(error as Error).message}`,
        'KAFKA_AUTHENTICATION_FAILED',
      );
    }
  }
}

function connectFailure(error: Error): KafkaError {
  if (error instanceof ConnectionError && error.tls) {
    return failure('connect', `TLS handshake with ${error.message}`, 'KAFKA_TLS_FAILED');
  }
  return new KafkaError('connect', error.message, {
    kafkaCode: -195,
    retriable: true,
    fatal: false,
    abortable: false,
    code: 'KAFKA_UNREACHABLE',
  });
}

function failure(operation: string, message: string, code: string): KafkaError {
  return new KafkaError(operation, message, {
    kafkaCode: -1,
    retriable: false,
    fatal: true,
    abortable: false,
    code,
  });
}
