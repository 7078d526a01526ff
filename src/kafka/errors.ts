import { backoffMs } from '../retry.ts';
import { KafkaError, kafkaErrorCodes } from './kafka-error.ts';
import type { LibrdKafkaError } from './native.ts';

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
 * A client's first connection, with its failure named: credentials the
 * brokers refused (KAFKA_AUTHENTICATION_FAILED) or a TLS handshake that failed
 * (KAFKA_TLS_FAILED), neither retriable; or no broker answering at all
 * (KAFKA_UNREACHABLE, retriable: the brokers may come up), naming the bootstrap
 * servers and how long it waited. librdkafka itself says only "broker
 * transport failure", and only once `timeoutMs` ran out: it tries a refused
 * login again until then. So a refusal fails the connection as soon as its
 * error log line arrives (`operation` names it), not a timeout later: a job
 * with a wrong password is told in a second, not in thirty.
 */
export async function connectTo<T>(
  bootstrapServers: string,
  timeoutMs: number,
  connect: () => Promise<T>,
  client?: ErrorEmitter,
  operation = 'connect',
): Promise<T> {
  // librdkafka says only "broker transport failure" when a connection fails; why (a refused login, a failed TLS
  // handshake, a refused connection) is in its error log lines, which errorLogSettings routes to events.
  let why: string | undefined;
  let early: KafkaError | undefined;
  let refuse: (error: KafkaError) => void = () => undefined;
  const refusedEarly = new Promise<never>((_, reject) => {
    refuse = reject;
  });
  const onLog = (line: LogLine) => {
    why = errorLine(line) ?? why;
    const refused = why && connectionRefusal(why);
    if (refused && !early) {
      early = refusal(operation, bootstrapServers, why ?? '', refused, refusalCodes[refused] ?? -1);
      refuse(early);
    }
  };
  client?.on('event.log', onLog);
  try {
    return await Promise.race([connect(), refusedEarly]);
  } catch (error) {
    if (error === early) throw error;
    const refused = why && connectionRefusal(why);
    if (refused && error instanceof KafkaError) {
      throw refusal(error.operation, bootstrapServers, why ?? '', refused, error.kafkaCode);
    }
    if (error instanceof KafkaError && unreachable.has(error.kafkaCode)) {
      throw new KafkaError(
        error.operation,
        `no broker of ${bootstrapServers} answered within ${Math.round(timeoutMs / 1000)}s (${why ?? error.detail})`,
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
  } finally {
    client?.off('event.log', onLog);
  }
}

/** librdkafka's own codes for the refusals connectionRefusal names. */
const refusalCodes: Record<string, number> = {
  KAFKA_AUTHENTICATION_FAILED: kafkaErrorCodes.authentication,
  KAFKA_TLS_FAILED: -181, // RD_KAFKA_RESP_ERR__SSL
};

/** A connection the brokers refused (credentials, TLS): fatal, never retried. */
function refusal(
  operation: string,
  bootstrapServers: string,
  why: string,
  code: string,
  kafkaCode: number,
): KafkaError {
  return new KafkaError(operation, `${bootstrapServers}: ${why}`, {
    kafkaCode,
    retriable: false,
    fatal: true,
    abortable: false,
    code,
  });
}

/** The cause a connection failure's log line names, when it is not the network. */
function connectionRefusal(line: string): string | undefined {
  if (/SASL authentication error|Authentication failed/i.test(line)) return 'KAFKA_AUTHENTICATION_FAILED';
  if (/SSL handshake failed|certificate verify failed/i.test(line)) return 'KAFKA_TLS_FAILED';
  return undefined;
}

/** Client settings under which librdkafka's error-level log lines arrive as 'event.log' events (and nowhere else). */
export const errorLogSettings = { log_level: 3, event_cb: true } as const;

/** A librdkafka log line, as an 'event.log' event carries it. */
export interface LogLine {
  severity?: number;
  message?: string;
}

/** The part of a librdkafka client that reports its log lines as events. */
export interface ErrorEmitter {
  on(event: 'event.log', listener: (line: LogLine) => void): unknown;
  off(event: 'event.log', listener: (line: LogLine) => void): unknown;
}

/** An error-level line's text without librdkafka's thread prefix; undefined for any other line. */
export function errorLine(line: LogLine): string | undefined {
  if ((line.severity ?? 7) > 3 || !line.message) return undefined;
  return line.message.replace(/^\[thrd:[^\]]*\]: /, '');
}

/**
 * A transactional producer's failure with its cause named. A transaction
 * that failed on the broker (say, AddPartitionsToTxn refused) makes every
 * later call fail with "Erroneous state"; the refusal itself is only in an
 * error log line, which `earlierError` carries. A topic authorization failure
 * names the topics the transaction writes, since the broker does not say
 * which of them the principal may not write. A producer fenced by a newer
 * instance sees "Fatal error" on its next call; the log line says fenced.
 */
export function transactionFailure(
  error: KafkaError,
  earlierError: string | undefined,
  writtenTopics: readonly string[],
): KafkaError {
  const failedEarlier =
    error.kafkaCode === kafkaErrorCodes.state || error.kafkaCode === kafkaErrorCodes.fatal;
  const earlier = failedEarlier ? earlierError : undefined;
  const cause = earlier ? `${error.detail}: the transaction failed earlier: ${earlier}` : error.detail;
  const topicDenied =
    error.kafkaCode === kafkaErrorCodes.topicAuthorizationFailed || /Topic authorization failed/i.test(cause);
  if (!topicDenied) {
    if (!earlier) return error;
    return new KafkaError(error.operation, cause, {
      kafkaCode: error.kafkaCode,
      retriable: false,
      fatal: error.fatal,
      abortable: true,
      ...(/authorization failed/i.test(earlier) ? { code: 'KAFKA_NOT_AUTHORIZED' } : {}),
      ...(/fenced|old epoch/i.test(earlier) ? { code: 'KAFKA_FENCED' } : {}),
    });
  }
  const topics = writtenTopics.length ? writtenTopics.join(', ') : 'its output topics';
  return new KafkaError(
    error.operation,
    `${cause}; this transaction writes to ${topics}: the job's principal needs WRITE and DESCRIBE on each`,
    {
      kafkaCode: kafkaErrorCodes.topicAuthorizationFailed,
      retriable: false,
      fatal: false,
      abortable: true,
      code: 'KAFKA_NOT_AUTHORIZED',
    },
  );
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

/** librdkafka calls started through settle() that have not answered yet. */
let pendingCalls = 0;

/**
 * How many librdkafka calls still wait for their answer. Node waits at exit
 * for native work still running in its thread pool, so one of them waiting on
 * an unreachable broker holds the process until its timeout.
 */
export function pendingKafkaCalls(): number {
  return pendingCalls;
}

/** Adapts a librdkafka callback to a promise that rejects with a KafkaError. */
export function settle<T>(
  operation: string,
  call: (callback: (error: LibrdKafkaError | null | undefined, value: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    pendingCalls++;
    let answered = false;
    const done = (error: LibrdKafkaError | null | undefined, value: T) => {
      if (!answered) {
        answered = true;
        pendingCalls--;
      }
      if (error) reject(toKafkaError(operation, error));
      else resolve(value);
    };
    try {
      call(done);
    } catch (error) {
      done(error as LibrdKafkaError, undefined as T);
    }
  });
}

/** Group-coordinator states that pass on their own. */
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, and UNSTABLE_OFFSET_COMMIT
// (offsets of a transaction still open: it commits or is aborted shortly).
const coordinatorNotReady = new Set([14, 15, 16, 88]);
/**
 * A partition's leader being elected or moved (LEADER_NOT_AVAILABLE,
 * NOT_LEADER_OR_FOLLOWER): a topic made a moment ago answers so until its
 * leader is up, which stopped a task querying its new changelog's end offsets.
 */
const leaderMoving = new Set([5, 6]);

/** Runs `call` again while it fails with a retriable Kafka error, for at most `budgetMs`. */
export async function withKafkaRetries<T>(call: () => Promise<T>, budgetMs = 30_000): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let attempt = 1; ; attempt++) {
    const delay = backoffMs(attempt, 2_000);
    try {
      return await call();
    } catch (error) {
      const retriable =
        error instanceof KafkaError &&
        (error.retriable || coordinatorNotReady.has(error.kafkaCode) || leaderMoving.has(error.kafkaCode));
      if (!retriable || Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
