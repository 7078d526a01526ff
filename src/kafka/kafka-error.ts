import { CodedError } from '../errors.ts';

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
  /** What went wrong, without the operation in front (the message is "operation: detail"). */
  readonly detail: string;

  constructor(
    operation: string,
    message: string,
    details: { kafkaCode: number; retriable: boolean; fatal: boolean; abortable: boolean; code?: string },
  ) {
    super(details.code ?? `KAFKA_ERROR_${details.kafkaCode}`, `${operation}: ${message}`, details.retriable);
    this.operation = operation;
    this.detail = message;
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
  state: -172, // RD_KAFKA_RESP_ERR__STATE: the transaction already failed
  fatal: -150, // RD_KAFKA_RESP_ERR__FATAL: the instance is unusable; why is in the "Fatal error" log line
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
