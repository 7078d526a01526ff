import type { OffsetOutOfRangePolicy } from '../../api/taskmanager-env.ts';
import { backoffMs, delay } from '../../retry.ts';
import { KafkaError } from '../kafka-error.ts';
import type { BrokerConnection, WireSecurity } from './broker-connection.ts';
import { BrokerPool, isFatal, topicNotAuthorized } from './broker-pool.ts';
import {
  apis,
  type FetchedPartition,
  type FetchLimits,
  fetchRequest,
  listOffsetsRequest,
  offsetForLeaderEpochRequest,
  readFetch,
  readListOffsets,
  readOffsetForLeaderEpoch,
} from './messages.ts';
import { type ConsumedRecord, decodeRecordBatches } from './record-batch.ts';
import { WireFormatError } from './wire-error.ts';

export interface RecordFetcherOptions {
  bootstrapServers: string;
  clientId: string;
  readCommitted: boolean;
  security: WireSecurity;
  limits?: Partial<FetchLimits>;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Fetching pauses while this many records wait to be consumed (librdkafka's queued.min.messages). */
  maxBufferedRecords?: number;
  /** Or while their responses hold this many bytes. */
  maxBufferedBytes?: number;
  warn?: (message: string) => void;
  /**
   * What a position outside the partition's log means (retention deleted
   * records a suspended job had not read, or the log was truncated or
   * recreated): fail (the default: nothing is skipped or read twice
   * silently), or move to the earliest or latest offset, told to `onReset`.
   */
  offsetOutOfRange?: OffsetOutOfRangePolicy;
  onReset?: (reset: OffsetReset) => void;
}

/** A position the fetcher moved by the out-of-range policy. */
export interface OffsetReset {
  topic: string;
  partition: number;
  /**
   * out-of-range: the position was outside the log (logStart to logEnd).
   * truncated: a new leader's log diverged below the position (an unclean
   * leader election); the position moved back to where it diverged (logEnd),
   * to read the records that replaced the lost ones.
   */
  reason: 'out-of-range' | 'truncated';
  /** The position that was outside the log. */
  from: number;
  to: number;
  logStart?: number;
  logEnd: number;
  policy: Exclude<OffsetOutOfRangePolicy, 'fail'>;
}

/** A partition's fetch state. `position` undefined: it is looked up (`reset`: -2 earliest, -1 latest). */
interface Assigned {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  position: number | undefined;
  reset: -2 | -1;
  highWatermark: number | undefined;
  /** The broker said `position` is outside the log: the log's range is looked up before the next fetch. */
  outOfRange: boolean;
  /** The epoch of the leader metadata named (-1: unknown), sent with each fetch. */
  leaderEpoch: number;
  /** The partition leader epoch of the last batch fetched (-1: none yet). */
  fetched: { last: number };
  /** A new leader epoch: before the next fetch, the new leader says whether its log still holds `position`. */
  validate: boolean;
}

/** Partition errors after which the partition's leader is looked up again. */
const leaderMoved = new Set([
  3, // UNKNOWN_TOPIC_OR_PARTITION: the topic may be in creation
  5, // LEADER_NOT_AVAILABLE
  6, // NOT_LEADER_OR_FOLLOWER
  9, // REPLICA_NOT_AVAILABLE
  56, // KAFKA_STORAGE_ERROR
  74, // FENCED_LEADER_EPOCH
  75, // UNKNOWN_LEADER_EPOCH
  78, // OFFSET_NOT_AVAILABLE
]);
const offsetOutOfRange = 1;
const topicAuthorizationFailed = 29;

/**
 * Reads records of assigned partitions straight from their leaders with
 * Kafka's Fetch request, one loop per leader, ahead of the task (up to a
 * bounded buffer). Records are decoded from each response in place, so a
 * record costs an object and two buffer views, not the native client's
 * per-field copies. read_committed filters aborted transactions here, as the
 * Java consumer does, from the aborted list each response carries.
 *
 * Connection failures and leader moves are retried with backoff (as
 * librdkafka does, forever: health by progress judges a task that stops
 * reading); a refused login, TLS failure or authorization failure is
 * fatal and surfaces at the next consume().
 */
export class RecordFetcher {
  private readonly limits: FetchLimits;
  private readonly assigned = new Map<string, Assigned>();
  private readonly byLeader = new Map<number, Set<Assigned>>();
  private readonly homeless = new Set<Assigned>();
  private readonly pool: BrokerPool;
  private readonly queue: ConsumedRecord[][] = [];
  private queuedRecords = 0;
  private queuedBytes = 0;
  private readonly queueBytes: number[] = [];
  private rehoming = false;
  private stopped = false;
  private failure: KafkaError | undefined;
  private onRecords: (() => void) | undefined;
  private onRoom: (() => void)[] = [];

  private readonly options: RecordFetcherOptions;

  constructor(options: RecordFetcherOptions) {
    this.options = options;
    this.pool = new BrokerPool({
      bootstrapServers: options.bootstrapServers,
      clientId: options.clientId,
      security: options.security,
      connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    });
    this.limits = {
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 52_428_800,
      partitionMaxBytes: 1_048_576,
      readCommitted: options.readCommitted,
      ...options.limits,
    };
  }

  /** Starts fetching these partitions from these offsets (-2: earliest, -1: latest). */
  assign(positions: readonly { topic: string; partition: number; offset: number }[]): void {
    for (const { topic, partition, offset } of positions) {
      const key = `${topic}/${partition}`;
      if (this.assigned.has(key)) throw new Error(`${key} is assigned already`);
      const entry: Assigned = {
        topic,
        partition,
        key,
        position: offset >= 0 ? offset : undefined,
        reset: offset === -1 ? -1 : -2,
        highWatermark: undefined,
        outOfRange: false,
        leaderEpoch: -1,
        fetched: { last: -1 },
        validate: false,
      };
      this.assigned.set(key, entry);
      this.homeless.add(entry);
    }
    this.rehome();
  }

  /** Up to `max` fetched records, waiting at most `timeoutMs` for the first; rejects once fetching failed for good. */
  async consume(max: number, timeoutMs: number): Promise<ConsumedRecord[]> {
    if (!this.queuedRecords && !this.failure && !this.stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.onRecords = done;
      });
      this.onRecords = undefined;
    }
    if (this.failure && !this.queuedRecords) throw this.failure;
    const taken = this.take(max);
    if (this.onRoom.length && this.hasRoom()) for (const wake of this.onRoom.splice(0)) wake();
    return taken;
  }

  /** Whether fetching waits for the task to consume: the buffer holds maxBufferedRecords or maxBufferedBytes. */
  get backpressured(): boolean {
    return this.onRoom.length > 0;
  }

  /** The partition's high watermark as its last fetch saw it. */
  highWatermark(topic: string, partition: number): number | undefined {
    return this.assigned.get(`${topic}/${partition}`)?.highWatermark;
  }

  /** Records fetched and not yet consumed, of every partition. */
  get buffered(): number {
    return this.queuedRecords;
  }

  /** The next offset the partition's fetches ask for; undefined until it is known. */
  position(topic: string, partition: number): number | undefined {
    return this.assigned.get(`${topic}/${partition}`)?.position;
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.onRecords?.();
    for (const wake of this.onRoom.splice(0)) wake();
    await this.pool.close();
  }

  private take(max: number): ConsumedRecord[] {
    const head = this.queue[0];
    if (!head) return [];
    if (head.length <= max) {
      this.queue.shift();
      this.queuedRecords -= head.length;
      this.queuedBytes -= this.queueBytes.shift() ?? 0;
      return head;
    }
    // A response bigger than a batch: its bytes stay counted until its last record is taken.
    this.queuedRecords -= max;
    return head.splice(0, max);
  }

  private hasRoom(): boolean {
    return (
      this.queuedRecords < (this.options.maxBufferedRecords ?? 100_000) &&
      this.queuedBytes < (this.options.maxBufferedBytes ?? 64 * 1024 * 1024)
    );
  }

  private push(records: ConsumedRecord[], bytes: number): void {
    this.queue.push(records);
    this.queueBytes.push(bytes);
    this.queuedRecords += records.length;
    this.queuedBytes += bytes;
    this.onRecords?.();
  }

  private fail(error: KafkaError): void {
    this.failure ??= error;
    this.onRecords?.();
  }

  /** Finds the leaders of partitions that have none (assigned, or moved), with backoff, until all have one. */
  private rehome(): void {
    if (this.rehoming || this.stopped || this.failure) return;
    this.rehoming = true;
    void (async () => {
      for (let attempt = 0; this.homeless.size && !this.stopped && !this.failure; attempt++) {
        if (attempt) await delay(backoffMs(attempt));
        try {
          const leaders = await this.pool.leadersOf([...new Set([...this.homeless].map((a) => a.topic))]);
          for (const entry of [...this.homeless]) {
            const found = leaders.get(entry.key);
            if (!found || found.leader < 0 || !this.pool.knows(found.leader)) continue;
            this.homeless.delete(entry);
            // A new epoch after records were fetched: the log may have been truncated under the position (KIP-320).
            if (found.epoch !== entry.leaderEpoch && entry.fetched.last >= 0) entry.validate = true;
            entry.leaderEpoch = found.epoch;
            this.join(found.leader, entry);
          }
        } catch (error) {
          if (isFatal(error)) this.fail(error);
          else this.options.warn?.(`looking up partition leaders: ${(error as Error).message}`);
        }
      }
      this.rehoming = false;
    })();
  }

  private join(leader: number, entry: Assigned): void {
    const partitions = this.byLeader.get(leader);
    if (partitions) {
      partitions.add(entry);
      return;
    }
    const fresh = new Set([entry]);
    this.byLeader.set(leader, fresh);
    void this.fetchFrom(leader, fresh);
  }

  private leave(partitions: Set<Assigned>, entry: Assigned): void {
    partitions.delete(entry);
    this.homeless.add(entry);
    this.rehome();
  }

  /** Fetches the leader's partitions while it leads any of them. */
  private async fetchFrom(leader: number, partitions: Set<Assigned>): Promise<void> {
    let failures = 0;
    while (!this.stopped && !this.failure && partitions.size) {
      if (!this.hasRoom()) {
        await new Promise<void>((resolve) => this.onRoom.push(resolve));
        continue;
      }
      try {
        const connection = await this.pool.connection(leader);
        const unresolved = [...partitions].filter((p) => p.position === undefined);
        if (unresolved.length) await this.resolvePositions(connection, unresolved, partitions);
        const moved = [...partitions].filter((p) => p.validate && p.position !== undefined);
        if (moved.length) await this.validateEpochs(connection, moved, partitions);
        const outside = [...partitions].filter((p) => p.outOfRange);
        if (outside.length) await this.outOfRange(connection, outside, partitions);
        if (this.failure) return;
        const fetching = [...partitions].filter(
          (p) => p.position !== undefined && !p.outOfRange && !p.validate,
        );
        if (!fetching.length) continue;
        const request = fetchRequest(
          fetching.map((p) => ({
            topic: p.topic,
            partition: p.partition,
            offset: p.position as number,
            currentLeaderEpoch: p.leaderEpoch,
          })),
          this.limits,
        );
        const reader = await connection.request(
          apis.fetch.key,
          apis.fetch.version,
          request,
          this.limits.maxWaitMs + (this.options.requestTimeoutMs ?? 30_000),
        );
        failures = 0;
        const records = this.decode(readFetch(reader).partitions, partitions);
        if (records.length) this.push(records, reader.buffer.length);
      } catch (caught) {
        if (this.stopped) break; // close() cut the request short
        const error = caught instanceof WireFormatError ? malformedResponse(leader, caught) : caught;
        if (isFatal(error)) {
          this.fail(error);
          return;
        }
        this.pool.drop(leader);
        failures++;
        this.options.warn?.(`fetching from broker ${leader}: ${(error as Error).message}`);
        await delay(backoffMs(failures));
        // The broker may have lost its partitions' leadership while it was away.
        if (failures >= 2) for (const entry of [...partitions]) this.leave(partitions, entry);
      }
    }
    if (this.byLeader.get(leader) === partitions) this.byLeader.delete(leader);
  }

  /** A response's records, in order per partition; each partition's position moves past what it held. */
  private decode(fetched: FetchedPartition[], partitions: Set<Assigned>): ConsumedRecord[] {
    const records: ConsumedRecord[] = [];
    for (const answer of fetched) {
      const entry = this.assigned.get(`${answer.topic}/${answer.partition}`);
      if (!entry || !partitions.has(entry) || entry.position === undefined) continue;
      if (answer.errorCode !== 0) {
        this.partitionError(entry, answer.errorCode, partitions);
        continue;
      }
      entry.highWatermark = answer.highWatermark;
      if (!answer.records?.length) continue;
      entry.position = decodeRecordBatches(
        answer.records,
        entry.topic,
        entry.partition,
        entry.position,
        this.limits.readCommitted ? (answer.aborted ?? []) : undefined,
        records,
        entry.fetched,
      );
    }
    return records;
  }

  private partitionError(entry: Assigned, errorCode: number, partitions: Set<Assigned>): void {
    if (errorCode === offsetOutOfRange && entry.position !== undefined) {
      // The log's range decides, before the next fetch (outOfRange()).
      entry.outOfRange = true;
    } else if (errorCode === offsetOutOfRange) {
      this.fail(
        fatalError(
          'list offsets',
          `${entry.key}: the broker has no ${entry.reset === -2 ? 'earliest' : 'latest'} offset`,
          errorCode,
        ),
      );
    } else if (errorCode === topicAuthorizationFailed) {
      this.fail(topicNotAuthorized(entry.topic));
    } else if (leaderMoved.has(errorCode)) {
      this.leave(partitions, entry);
    } else {
      this.fail(fatalError('fetch', `${entry.key}: the broker answered error ${errorCode}`, errorCode));
    }
  }

  /**
   * Positions the broker said are outside their logs: the logs' ranges,
   * then the policy. A position inside the range again (a leader that caught
   * up) is fetched again; one outside fails the fetcher, or with `earliest` or
   * `latest` moves there, said in a warning and to onReset.
   */
  private async outOfRange(
    connection: BrokerConnection,
    entries: Assigned[],
    partitions: Set<Assigned>,
  ): Promise<void> {
    const ask = async (timestamp: -2 | -1) => {
      const request = listOffsetsRequest(
        entries.map((p) => ({ topic: p.topic, partition: p.partition, timestamp })),
        this.limits.readCommitted,
      );
      const answers = readListOffsets(
        await connection.request(apis.listOffsets.key, apis.listOffsets.version, request),
      );
      return new Map(
        answers.filter((a) => a.errorCode === 0).map((a) => [`${a.topic}/${a.partition}`, a.offset]),
      );
    };
    const starts = await ask(-2);
    const ends = await ask(-1);
    const policy = this.options.offsetOutOfRange ?? 'fail';
    for (const entry of entries) {
      const logStart = starts.get(entry.key);
      const logEnd = ends.get(entry.key);
      const position = entry.position;
      if (!partitions.has(entry) || position === undefined) continue;
      if (logStart === undefined || logEnd === undefined) {
        await delay(backoffMs(1)); // asked again before the next fetch
        continue;
      }
      entry.outOfRange = false;
      if (position >= logStart && position <= logEnd) continue;
      if (policy === 'fail') {
        const where =
          position < logStart
            ? 'before the log starts: the records between were deleted (retention) before they were read'
            : 'after the log ends: the log was truncated or the topic recreated';
        this.fail(
          fatalError(
            'fetch',
            `${entry.key}: the committed offset ${position} is outside the partition's log (${logStart} to ${logEnd}), ${where}; nothing is skipped or read again unless spec.kafka.offsetOutOfRange is set to earliest or latest`,
            offsetOutOfRange,
            'KAFKA_OFFSET_OUT_OF_RANGE',
          ),
        );
        return;
      }
      const to = policy === 'earliest' ? logStart : logEnd;
      this.options.warn?.(
        `${entry.key}: offset ${position} is outside the log (${logStart} to ${logEnd}); reading from the ${policy} offset ${to} (spec.kafka.offsetOutOfRange)`,
      );
      entry.position = to;
      this.options.onReset?.({
        topic: entry.topic,
        partition: entry.partition,
        reason: 'out-of-range',
        from: position,
        to,
        logStart,
        logEnd,
        policy,
      });
    }
  }

  /**
   * Partitions whose leader changed after records were fetched: the new
   * leader says where the epoch of the last batch fetched ends in its log.
   * Below the position, the log was truncated (an unclean leader election
   * replaced records the task has read): the fetcher fails with
   * KAFKA_LOG_TRUNCATED, or with an out-of-range policy moves back to where
   * the logs diverged, said in a warning and to onReset, as the Java consumer
   * does. An epoch the leader no longer knows is checked as out of range.
   */
  private async validateEpochs(
    connection: BrokerConnection,
    entries: Assigned[],
    partitions: Set<Assigned>,
  ): Promise<void> {
    const request = offsetForLeaderEpochRequest(
      entries.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        currentLeaderEpoch: p.leaderEpoch,
        leaderEpoch: p.fetched.last,
      })),
    );
    const answers = readOffsetForLeaderEpoch(
      await connection.request(apis.offsetForLeaderEpoch.key, apis.offsetForLeaderEpoch.version, request),
    );
    const policy = this.options.offsetOutOfRange ?? 'fail';
    for (const answer of answers) {
      const entry = this.assigned.get(`${answer.topic}/${answer.partition}`);
      const position = entry?.position;
      if (!entry || !partitions.has(entry) || !entry.validate || position === undefined) continue;
      if (answer.errorCode !== 0) {
        this.partitionError(entry, answer.errorCode, partitions);
        continue;
      }
      entry.validate = false;
      if (answer.endOffset < 0) {
        entry.outOfRange = true;
        continue;
      }
      if (answer.endOffset >= position) continue;
      const what = `${entry.key}: the new leader's log ends epoch ${entry.fetched.last} at offset ${answer.endOffset}, below the position ${position}: the log was truncated (an unclean leader election) and records from ${answer.endOffset} on were read from a log that is gone`;
      if (policy === 'fail') {
        this.fail(
          fatalError(
            'fetch',
            `${what}; they may differ from what the log holds now, so nothing more is read unless spec.kafka.offsetOutOfRange is set to earliest or latest (which read on from ${answer.endOffset})`,
            -1,
            'KAFKA_LOG_TRUNCATED',
          ),
        );
        return;
      }
      this.options.warn?.(`${what}; reading on from ${answer.endOffset} (spec.kafka.offsetOutOfRange)`);
      entry.position = answer.endOffset;
      this.options.onReset?.({
        topic: entry.topic,
        partition: entry.partition,
        reason: 'truncated',
        from: position,
        to: answer.endOffset,
        logEnd: answer.endOffset,
        policy,
      });
    }
  }

  private async resolvePositions(
    connection: BrokerConnection,
    unresolved: Assigned[],
    partitions: Set<Assigned>,
  ): Promise<void> {
    const request = listOffsetsRequest(
      unresolved.map((p) => ({ topic: p.topic, partition: p.partition, timestamp: p.reset })),
      this.limits.readCommitted,
    );
    for (const answer of readListOffsets(
      await connection.request(apis.listOffsets.key, apis.listOffsets.version, request),
    )) {
      const entry = this.assigned.get(`${answer.topic}/${answer.partition}`);
      if (!entry || !partitions.has(entry)) continue;
      if (answer.errorCode === 0) entry.position = answer.offset;
      else this.partitionError(entry, answer.errorCode, partitions);
    }
  }
}

/**
 * Bytes from a broker that do not decode, as the fetcher fails with them:
 * never retried (the same bytes decode the same way), naming the broker.
 */
function malformedResponse(leader: number, error: WireFormatError): KafkaError {
  return fatalError('fetch', `broker ${leader}: ${error.message}`, -1, error.code);
}

/** A failure retrying cannot mend: the fetcher stops with it, and the task fails naming it. */
function fatalError(operation: string, message: string, kafkaCode: number, code?: string): KafkaError {
  return new KafkaError(operation, message, {
    kafkaCode,
    retriable: false,
    fatal: true,
    abortable: false,
    ...(code ? { code } : {}),
  });
}
