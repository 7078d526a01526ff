import { delay } from '../../retry.ts';
import { type BrokerConnection, parseBrokerAddress, type WireSecurity } from './broker-connection.ts';
import {
  apis,
  findCoordinatorRequest,
  initProducerIdRequest,
  readFindCoordinator,
  readInitProducerId,
} from './messages.ts';
import { openBroker } from './open-broker.ts';

export interface FenceOptions {
  bootstrapServers: string;
  clientId: string;
  security: WireSecurity;
  transactionalId: string;
  transactionTimeoutMs: number;
  /** How long to keep trying; then the producer's own initialisation does it. */
  budgetMs: number;
  /** Wait between tries while the coordinator still aborts the old transaction. */
  retryMs?: number;
}

export type FenceResult =
  | { fenced: true; attempts: number; ms: number }
  | { fenced: false; attempts: number; ms: number; why: string };

const concurrentTransactions = 51;
const coordinatorMoved = new Set([14, 15, 16]); // LOAD_IN_PROGRESS, NOT_AVAILABLE, NOT_COORDINATOR

/**
 * Fences the transactional id's earlier holder and waits out the abort of
 * its open transaction, retrying every `retryMs`. A restarted task calls it
 * before its producer initialises: the coordinator answers the first
 * InitProducerId with CONCURRENT_TRANSACTIONS while it aborts the dead
 * task's transaction, and librdkafka retries that after a fixed 500 ms (not
 * a setting), which was most of a recovery's restore (BENCHMARKS.md). With
 * the abort done here, the producer's own InitProducerId succeeds at once.
 *
 * Never throws: anything unexpected (a refused ACL, a broker away) is left
 * for the producer's initialisation, which names it as it always has.
 */
export async function fenceTransactionalId(options: FenceOptions, now = Date.now): Promise<FenceResult> {
  const started = now();
  const retryMs = options.retryMs ?? 20;
  const open = (host: string, port: number) =>
    openBroker(host, port, {
      clientId: options.clientId,
      security: options.security,
      connectTimeoutMs: options.budgetMs,
      requestTimeoutMs: options.budgetMs,
      needs: [apis.findCoordinator, apis.initProducerId],
    });
  const connections: BrokerConnection[] = [];
  let attempts = 0;
  const result = (why?: string): FenceResult =>
    why === undefined
      ? { fenced: true, attempts, ms: now() - started }
      : { fenced: false, attempts, ms: now() - started, why };
  try {
    const { host, port } = parseBrokerAddress(options.bootstrapServers.split(',')[0] ?? '');
    const bootstrap = await open(host, port);
    connections.push(bootstrap);
    let coordinator: BrokerConnection | undefined;
    while (now() - started < options.budgetMs) {
      if (!coordinator || coordinator.closed) {
        const found = readFindCoordinator(
          await bootstrap.request(
            apis.findCoordinator.key,
            apis.findCoordinator.version,
            findCoordinatorRequest(options.transactionalId),
          ),
        );
        if (found.errorCode) {
          if (!coordinatorMoved.has(found.errorCode))
            return result(`FindCoordinator: error ${found.errorCode}`);
          await delay(retryMs);
          continue;
        }
        coordinator = await open(found.host, found.port);
        connections.push(coordinator);
      }
      attempts++;
      const answer = readInitProducerId(
        await coordinator.request(
          apis.initProducerId.key,
          apis.initProducerId.version,
          initProducerIdRequest(options.transactionalId, options.transactionTimeoutMs),
        ),
      );
      if (answer.errorCode === 0) return result();
      if (answer.errorCode === concurrentTransactions) {
        await delay(retryMs);
        continue;
      }
      if (coordinatorMoved.has(answer.errorCode)) {
        coordinator = undefined;
        continue;
      }
      return result(`InitProducerId: error ${answer.errorCode}`);
    }
    return result(`the old transaction was still being aborted after ${options.budgetMs} ms`);
  } catch (error) {
    return result((error as Error).message);
  } finally {
    for (const connection of connections) connection.close();
  }
}
