import { KafkaError } from '../kafka-error.ts';
import { type BrokerConnection, parseBrokerAddress, type WireSecurity } from './broker-connection.ts';
import { apis, type BrokerAddress, metadataRequest, readMetadata } from './messages.ts';
import { openBroker } from './open-broker.ts';

export interface BrokerPoolOptions {
  bootstrapServers: string;
  clientId: string;
  security: WireSecurity;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

const topicAuthorizationFailed = 29;

/** A partition's leader (-1 while it has none) and that leader's epoch. */
export interface PartitionLeader {
  leader: number;
  epoch: number;
}

/**
 * One open connection per broker, opened on first use and again after it
 * broke, and the brokers' addresses as metadata names them: the bootstrap
 * servers first, then each node id.
 */
export class BrokerPool {
  private readonly options: BrokerPoolOptions;
  private readonly brokers = new Map<number, BrokerAddress>();
  private readonly connections = new Map<number | string, Promise<BrokerConnection>>();
  private closed = false;

  constructor(options: BrokerPoolOptions) {
    this.options = options;
  }

  /** Whether metadata named this broker. */
  knows(nodeId: number): boolean {
    return this.brokers.has(nodeId);
  }

  /**
   * Each partition's leader (key topic/partition; -1 while it has none),
   * asked of any broker; learns the brokers' addresses on the way. A topic
   * the principal may not describe fails with KAFKA_NOT_AUTHORIZED.
   */
  async leadersOf(topics: string[]): Promise<Map<string, PartitionLeader>> {
    const connection = await this.anyConnection();
    const metadata = readMetadata(
      await connection.request(apis.metadata.key, apis.metadata.version, metadataRequest(topics)),
    );
    for (const broker of metadata.brokers) this.brokers.set(broker.nodeId, broker);
    const leaders = new Map<string, PartitionLeader>();
    for (const topic of metadata.topics) {
      if (topic.errorCode === topicAuthorizationFailed) throw topicNotAuthorized(topic.name);
      for (const p of topic.partitions) {
        leaders.set(`${topic.name}/${p.partition}`, {
          leader: p.errorCode ? -1 : p.leader,
          epoch: p.errorCode ? -1 : p.leaderEpoch,
        });
      }
    }
    return leaders;
  }

  /** The open connection to a broker (a node id, or a bootstrap host:port), opened on first use. */
  async connection(broker: number | string): Promise<BrokerConnection> {
    const existing = this.connections.get(broker);
    if (existing) {
      const connection = await existing.catch(() => undefined);
      if (connection && !connection.closed) return connection;
      if (this.connections.get(broker) === existing) this.connections.delete(broker);
    }
    const address = typeof broker === 'number' ? this.brokers.get(broker) : parseBrokerAddress(broker);
    if (!address) throw new Error(`broker ${broker} is not known`);
    const opening = openBroker(address.host, address.port, {
      ...this.options,
      needs: [apis.metadata, apis.listOffsets, apis.fetch, apis.offsetForLeaderEpoch],
    });
    this.connections.set(broker, opening);
    opening.catch(() => {
      if (this.connections.get(broker) === opening) this.connections.delete(broker);
    });
    const connection = await opening;
    if (this.closed) connection.close();
    return connection;
  }

  /** Closes the broker's connection (a failed one): the next use opens another. */
  drop(nodeId: number): void {
    const existing = this.connections.get(nodeId);
    this.connections.delete(nodeId);
    existing?.then(
      (c) => c.close(),
      () => undefined,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const connections = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(
      connections.map((c) =>
        c.then(
          (connection) => connection.close(),
          () => undefined,
        ),
      ),
    );
  }

  /** A connection to a known broker, else to the bootstrap servers in turn. */
  private async anyConnection(): Promise<BrokerConnection> {
    for (const nodeId of this.brokers.keys()) {
      const existing = this.connections.get(nodeId);
      if (existing) {
        const connection = await existing.catch(() => undefined);
        if (connection && !connection.closed) return connection;
      }
    }
    let last: Error | undefined;
    for (const server of this.options.bootstrapServers.split(',')) {
      try {
        return await this.connection(server.trim());
      } catch (error) {
        if (isFatal(error)) throw error;
        last = error as Error;
      }
    }
    throw last ?? new Error('no bootstrap servers');
  }
}

/** A failure retrying cannot mend (a refused login, a TLS failure, a missing ACL). */
export function isFatal(error: unknown): error is KafkaError {
  return error instanceof KafkaError && !error.retriable;
}

export function topicNotAuthorized(topic: string): KafkaError {
  return new KafkaError(
    'fetch',
    `not authorized to read ${topic}: the job's principal needs READ and DESCRIBE on it`,
    {
      kafkaCode: topicAuthorizationFailed,
      retriable: false,
      fatal: true,
      abortable: false,
      code: 'KAFKA_NOT_AUTHORIZED',
    },
  );
}
