import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { connectTo, toKafkaError, transactionFailure } from './errors.ts';
import type { KafkaError } from './kafka-error.ts';

/** Stands in for a librdkafka client's log events; each test emits what the client would log. */
class TestingClient extends EventEmitter {}

const native = (code: number, message: string) =>
  Object.assign(new Error(message), { code, isRetriable: false, isFatal: false, isTxnRequiresAbort: false });

/** A first connection to b1:9094 that fails with librdkafka's "broker transport failure" after logging `line`. */
function transportFailureAfterLogging(client: TestingClient, line: string): Promise<KafkaError> {
  return connectTo(
    'b1:9094',
    30_000,
    async () => {
      client.emit('event.log', { severity: 3, message: line });
      throw toKafkaError('connect producer t0', native(-195, 'broker transport failure'));
    },
    client,
  ).catch((e: unknown) => e as KafkaError);
}

describe('Kafka errors name their cause', () => {
  const codes: [number, string][] = [
    [-169, 'KAFKA_AUTHENTICATION_FAILED'],
    [58, 'KAFKA_AUTHENTICATION_FAILED'],
    [29, 'KAFKA_NOT_AUTHORIZED'],
    [30, 'KAFKA_NOT_AUTHORIZED'],
    [53, 'KAFKA_NOT_AUTHORIZED'],
    [90, 'KAFKA_FENCED'],
    [-1, 'KAFKA_ERROR_-1'],
  ];
  for (const [kafkaCode, code] of codes) {
    it(`librdkafka ${kafkaCode} → ${code}`, () => {
      assert.equal(toKafkaError('op', native(kafkaCode, 'm')).code, code);
    });
  }

  it('no broker answering a first connection names the bootstrap servers and is retriable', async () => {
    const error = await connectTo('b1:9092,b2:9092', 30_000, () =>
      Promise.reject(toKafkaError('connect producer t0', native(-195, 'broker transport failure'))),
    ).catch((e: unknown) => e as KafkaError);
    assert.equal(error.code, 'KAFKA_UNREACHABLE');
    assert.equal(error.retriable, true);
    assert.equal(
      error.message,
      'connect producer t0: no broker of b1:9092,b2:9092 answered within 30s (broker transport failure)',
    );
  });

  it('a broker that answered with an error is not called unreachable', async () => {
    const error = await connectTo('b1:9092', 30_000, () =>
      Promise.reject(toKafkaError('connect producer t0', native(-169, 'SASL authentication error'))),
    ).catch((e: unknown) => e as KafkaError);
    assert.equal(error.code, 'KAFKA_AUTHENTICATION_FAILED');
  });

  it('credentials the broker refused are named from the librdkafka error log, not called unreachable', async () => {
    const client = new TestingClient();
    const error = await transportFailureAfterLogging(
      client,
      '[thrd:sasl_ssl://b1:9094/bootstrap]: sasl_ssl://b1:9094/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512',
    );
    assert.equal(error.code, 'KAFKA_AUTHENTICATION_FAILED');
    assert.equal(error.retriable, false);
    assert.match(
      error.message,
      /^connect producer t0: b1:9094: sasl_ssl:\/\/b1:9094\/bootstrap: SASL authentication error/,
    );
    assert.equal(client.listenerCount('event.log'), 0, 'the listener is removed');
  });

  it('a refusal fails the connection when its log line arrives, not when librdkafka gives up', async () => {
    const client = new TestingClient();
    // librdkafka would answer only at its timeout; this connect never answers at all.
    const pending = connectTo(
      'b1:9094',
      30_000,
      () => new Promise<never>(() => undefined),
      client,
      'describe topic in',
    );
    client.emit('event.log', {
      severity: 3,
      message:
        'sasl_ssl://b1:9094/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed',
    });
    const error = await pending.catch((e: unknown) => e as KafkaError);
    assert.equal(error.code, 'KAFKA_TLS_FAILED');
    assert.equal(error.retriable, false);
    assert.match(
      error.message,
      /^describe topic in: b1:9094: sasl_ssl:\/\/b1:9094\/bootstrap: SSL handshake failed/,
    );
    assert.equal(client.listenerCount('event.log'), 0, 'the listener is removed');
  });

  it('a refused connection stays unreachable, with the librdkafka reason', async () => {
    const error = await transportFailureAfterLogging(
      new TestingClient(),
      'sasl_ssl://b1:9094/bootstrap: Connect to ipv4#10.0.0.1:9094 failed: Connection refused',
    );
    assert.equal(error.code, 'KAFKA_UNREACHABLE');
    assert.match(
      error.message,
      /answered within 30s \(sasl_ssl:\/\/b1:9094\/bootstrap: Connect to .* Connection refused\)$/,
    );
  });
});

describe('a transaction failure names its cause', () => {
  const denied =
    'Failed to add partition(s) to transaction on broker TxnCoordinator/1: Broker: Topic authorization failed';
  const cases: [string, KafkaError, string | undefined, string[], string, RegExp][] = [
    [
      'a produce refused because the transaction failed on a topic ACL',
      toKafkaError('produce to out', native(-172, 'Local: Erroneous state')),
      `Current transaction failed in state InTransaction: ${denied}`,
      ['out'],
      'KAFKA_NOT_AUTHORIZED',
      /^produce to out: Local: Erroneous state: the transaction failed earlier: .*Topic authorization failed; this transaction writes to out: the job's principal needs WRITE and DESCRIBE on each$/,
    ],
    [
      'a refusal the broker answered directly',
      toKafkaError('send offsets to transaction', native(29, denied)),
      undefined,
      ['out-a', 'out-b'],
      'KAFKA_NOT_AUTHORIZED',
      /writes to out-a, out-b: the job's principal needs WRITE/,
    ],
    [
      'an erroneous state after another failure keeps that failure in the message',
      toKafkaError('commit transaction', native(-172, 'Local: Erroneous state')),
      'Current transaction failed in state InTransaction: Broker: Request timed out',
      ['out'],
      'KAFKA_ERROR_-172',
      /the transaction failed earlier: .*Request timed out$/,
    ],
    [
      'a produce after the producer was fenced by a newer instance (a zombie)',
      toKafkaError('produce to out', native(-150, 'Local: Fatal error')),
      'Fatal error: Broker: Producer attempted an operation with an old epoch: Producer fenced by newer instance',
      ['out'],
      'KAFKA_FENCED',
      /^produce to out: Local: Fatal error: the transaction failed earlier: .*old epoch: Producer fenced by newer instance$/,
    ],
    [
      'a fatal error for another reason keeps its line',
      toKafkaError('commit transaction', native(-150, 'Local: Fatal error')),
      'Fatal error: Local: Inconsistent state: Unable to reconstruct MessageSet',
      ['out'],
      'KAFKA_ERROR_-150',
      /Fatal error: the transaction failed earlier: .*Unable to reconstruct MessageSet$/,
    ],
    [
      'any other failure stays as it is',
      toKafkaError('commit transaction', native(90, 'Broker: Producer fenced')),
      `Current transaction failed in state InTransaction: ${denied}`,
      ['out'],
      'KAFKA_FENCED',
      /^commit transaction: Broker: Producer fenced$/,
    ],
  ];
  for (const [what, error, line, topics, code, message] of cases) {
    it(what, () => {
      const named = transactionFailure(error, line, topics);
      assert.equal(named.code, code);
      assert.match(named.message, message);
      assert.equal(named.operation, error.operation);
    });
  }
});
