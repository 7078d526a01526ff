import { CodedError } from '../errors.ts';
import type { LibrdKafkaError } from './native.ts';

/**
 * A Kafka failure with a stable code and the retry classification librdkafka
 * gives it. `abortable` means the transaction must be aborted before retrying;
 * `fatal` means the client instance is unusable (for example, it was fenced).
 */
export class KafkaError extends CodedError {
  readonly kafkaCode: number;
  readonly fatal: boolean;
  readonly abortable: boolean;
  readonly operation: string;

  constructor(
    operation: string,
    message: string,
    details: { kafkaCode: number; retriable: boolean; fatal: boolean; abortable: boolean; code?: string },
  ) {
    super(details.code ?? `KAFKA_ERROR_${details.kafkaCode}`, `${operation}: ${message}`, details.retriable);
    this.operation = operation;
    this.kafkaCode = details.kafkaCode;
    this.fatal = details.fatal;
    this.abortable = details.abortable;
  }
}

/** librdkafka error codes that Weir reacts to by name. */
export const kafkaErrorCodes = {
  fenced: -144, // RD_KAFKA_RESP_ERR__FENCED
  producerFenced: 90, // PRODUCER_FENCED
  invalidProducerEpoch: 47,
  topicAlreadyExists: 36,
  unknownTopicOrPartition: 3,
  timedOut: -185,
  transport: -195, // RD_KAFKA_RESP_ERR__TRANSPORT
  allBrokersDown: -187,
  resolve: -193,
  authentication: -169, // RD_KAFKA_RESP_ERR__AUTHENTICATION
  saslAuthenticationFailed: 58,
  topicAuthorizationFailed: 29,
  groupAuthorizationFailed: 30,
  clusterAuthorizationFailed: 31,
  transactionalIdAuthorizationFailed: 53,
} as const;

const names: Record<number, string> = {
  [kafkaErrorCodes.fenced]: 'KAFKA_FENCED',
  [kafkaErrorCodes.producerFenced]: 'KAFKA_FENCED',
  [kafkaErrorCodes.invalidProducerEpoch]: 'KAFKA_FENCED',
  [kafkaErrorCodes.topicAlreadyExists]: 'KAFKA_TOPIC_EXISTS',
  [kafkaErrorCodes.unknownTopicOrPartition]: 'KAFKA_UNKNOWN_TOPIC',
  [kafkaErrorCodes.timedOut]: 'KAFKA_TIMED_OUT',
  [kafkaErrorCodes.authentication]: 'KAFKA_AUTHENTICATION_FAILED',
  [kafkaErrorCodes.saslAuthenticationFailed]: 'KAFKA_AUTHENTICATION_FAILED',
  [kafkaErrorCodes.topicAuthorizationFailed]: 'KAFKA_NOT_AUTHORIZED',
  [kafkaErrorCodes.groupAuthorizationFailed]: 'KAFKA_NOT_AUTHORIZED',
  [kafkaErrorCodes.clusterAuthorizationFailed]: 'KAFKA_NOT_AUTHORIZED',
  [kafkaErrorCodes.transactionalIdAuthorizationFailed]: 'KAFKA_NOT_AUTHORIZED',
};

/** Failures to reach any broker at all, as opposed to a broker that answered with an error. */
const unreachable = new Set<number>([
  kafkaErrorCodes.timedOut,
  kafkaErrorCodes.transport,
  kafkaErrorCodes.allBrokersDown,
  kafkaErrorCodes.resolve,
]);

/**
 * A client's first connection: when no broker answers, the error says which
 * bootstrap servers were tried and for how long (librdkafka says only
 * "broker transport failure"). Retriable: the brokers may come up.
 */
export async function connectTo<T>(
  bootstrapServers: string,
  timeoutMs: number,
  connect: () => Promise<T>,
): Promise<T> {
  try {
    return await connect();
  } catch (error) {
    if (error instanceof KafkaError && unreachable.has(error.kafkaCode)) {
      throw new KafkaError(
        error.operation,
        `no broker of ${bootstrapServers} answered within ${Math.round(timeoutMs / 1000)}s (${error.message.slice(error.operation.length + 2)})`,
        {
          kafkaCode: error.kafkaCode,
          retriable: true,
          fatal: false,
          abortable: false,
          code: 'KAFKA_UNREACHABLE',
        },
      );
    }
    throw error;
  }
}

export function toKafkaError(operation: string, error: LibrdKafkaError | Error): KafkaError {
  const native = error as Partial<LibrdKafkaError>;
  const kafkaCode = typeof native.code === 'number' ? native.code : -1;
  return new KafkaError(operation, error.message, {
    kafkaCode,
    retriable: native.isRetriable ?? false,
    fatal: native.isFatal ?? false,
    abortable: native.isTxnRequiresAbort ?? false,
    ...(names[kafkaCode] ? { code: names[kafkaCode] } : {}),
  });
}

/** Adapts a librdkafka callback to a promise that rejects with a KafkaError. */
export function settle<T>(
  operation: string,
  call: (callback: (error: LibrdKafkaError | null | undefined, value: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    call((error, value) => (error ? reject(toKafkaError(operation, error)) : resolve(value)));
  });
}

/** Group-coordinator states that pass on their own. */
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, and UNSTABLE_OFFSET_COMMIT
// (offsets of a transaction still open: it commits or is aborted shortly).
const coordinatorNotReady = new Set([14, 15, 16, 88]);

/** Runs `call` again while it fails with a retriable Kafka error, for at most `budgetMs`. */
export async function withKafkaRetries<T>(call: () => Promise<T>, budgetMs = 30_000): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await call();
    } catch (error) {
      const retriable =
        error instanceof KafkaError && (error.retriable || coordinatorNotReady.has(error.kafkaCode));
      if (!retriable || Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
