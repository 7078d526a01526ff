import type { JoinFunction, JoinSpec } from '../../sdk/joins.ts';
import type { StreamRecord } from '../../sdk/pipeline.ts';
import type { KeyedMapState, PartitionStores } from '../state/partition-stores.ts';
import { registerTimer } from './timers.ts';

/**
 * The join operators. Their state is kept per key in the partition of the
 * stage's source (the other side's partition of the same number is owned by
 * the same task and committed in the same transaction):
 *
 * - table: `<join>/table`, the latest value per key.
 * - temporal: `<join>/versions`, the key's versions by event time, and
 *   `<join>/pending`, stream records waiting for the watermark to reach
 *   their time; an event-time timer at that time joins them.
 * - window: `<join>/left` and `<join>/right`, each side's records of the
 *   key, named "<time>|<sequence>" so that name order is time order. A
 *   record is kept until the watermark passes its time + before + after +
 *   grace: by then no record it could match can still arrive unless late
 *   (this side's record is late after its time + after + grace, the other
 *   side's after its time + before + grace). An event-time timer at that
 *   point removes it, and emits it with null if it matched nothing and the
 *   join is left or outer. With no late records, the joined pairs are the
 *   same whatever order the two topics are read in, and so across restores.
 */

export type JoinOutcome = { kind: 'records'; records: StreamRecord<unknown, unknown>[] } | { kind: 'late' };

export interface JoinStep {
  id: string;
  spec: JoinSpec;
  fn: JoinFunction;
}

/** A kept record of one side of a window join, or a stream record waiting in a temporal join. */
interface Kept {
  v: unknown;
  ts: number;
  /** Matched at least once (window join, left and outer only). */
  m?: 1;
}

/** Times with a fixed width, so that names sort in time order (±10^15 ms). */
function timeName(ts: number): string {
  return String(Math.trunc(ts) + 1e15).padStart(16, '0');
}

/** The time an entry's name begins with. */
function timeOf(name: string): number {
  return Number(name.slice(0, 16)) - 1e15;
}

/**
 * Entry names come in name order (the store's key order, which is time
 * order here), so a range is found from the names alone, and only the
 * entries in it are read and decoded.
 */
function namesBetween(names: string[], from: number, to: number): string[] {
  const low = timeName(from);
  const high = timeName(to);
  return names.filter((n) => {
    const t = n.slice(0, 16);
    return t >= low && t <= high;
  });
}

const none: JoinOutcome = { kind: 'records', records: [] };

export class JoinOperator {
  private readonly step: JoinStep;

  constructor(step: JoinStep) {
    this.step = step;
  }

  private map<T>(stores: PartitionStores, name: string, stateKey: string): KeyedMapState<T> {
    return stores.mapState<T>(`${this.step.id}/${name}`, stateKey);
  }

  private joined(
    key: unknown,
    left: unknown,
    right: unknown,
    timestamp: number,
  ): StreamRecord<unknown, unknown> {
    return { key, value: this.step.fn(left, right, key), timestamp };
  }

  /** A record of the stage's own stream reached the join. `seq` is unique for the key's records. */
  onLeft(
    record: StreamRecord<unknown, unknown>,
    stateKey: string,
    stores: PartitionStores,
    watermark: number,
    seq: string,
  ): JoinOutcome {
    const { spec } = this.step;
    switch (spec.kind) {
      case 'table': {
        const current = stores.valueState<{ v: unknown }>(`${this.step.id}/table`, stateKey).get();
        if (!current && spec.mode === 'inner') return none;
        return {
          kind: 'records',
          records: [this.joined(record.key, record.value, current ? current.v : null, record.timestamp)],
        };
      }
      case 'temporal': {
        if (record.timestamp <= watermark) return { kind: 'late' };
        this.map<Kept>(stores, 'pending', stateKey).set(`${timeName(record.timestamp)}|${seq}`, {
          v: record.value,
          ts: record.timestamp,
        });
        registerTimer(stores, this.step.id, 'event', record.timestamp, stateKey);
        return none;
      }
      case 'window':
        return this.windowRecord('left', record, stateKey, stores, watermark, seq);
    }
  }

  /** A record of the join's other input: a table's update, or the other stream's record. */
  onRight(
    record: StreamRecord<unknown, unknown>,
    stateKey: string,
    stores: PartitionStores,
    watermark: number,
    seq: string,
  ): JoinOutcome {
    const { spec } = this.step;
    switch (spec.kind) {
      case 'table': {
        const table = stores.valueState<{ v: unknown }>(`${this.step.id}/table`, stateKey);
        // A tombstone deletes the key, as compaction will.
        if (record.value === null) table.clear();
        else table.set({ v: record.value });
        return none;
      }
      case 'temporal': {
        const versions = this.map<{ v: unknown }>(stores, 'versions', stateKey);
        versions.set(timeName(record.timestamp), { v: record.value });
        this.pruneVersions(stores, stateKey, watermark, spec.maxVersionsPerKey);
        return none;
      }
      case 'window':
        return this.windowRecord('right', record, stateKey, stores, watermark, seq);
    }
  }

  private windowRecord(
    side: 'left' | 'right',
    record: StreamRecord<unknown, unknown>,
    stateKey: string,
    stores: PartitionStores,
    watermark: number,
    seq: string,
  ): JoinOutcome {
    const spec = this.step.spec as Extract<JoinSpec, { kind: 'window' }>;
    const ts = record.timestamp;
    // The other side's records this one may match: [ts − before, ts + after] seen from the left.
    const [from, to] =
      side === 'left' ? [ts - spec.beforeMs, ts + spec.afterMs] : [ts - spec.afterMs, ts + spec.beforeMs];
    const lateAfter = ts + (side === 'left' ? spec.afterMs : spec.beforeMs) + spec.graceMs;
    if (watermark > lateAfter) return { kind: 'late' };
    const tracked = spec.mode !== 'inner';
    const other = this.map<Kept>(stores, side === 'left' ? 'right' : 'left', stateKey);
    const records: StreamRecord<unknown, unknown>[] = [];
    for (const name of namesBetween(other.names(), from, to)) {
      const kept = other.get(name) as Kept;
      records.push(
        side === 'left'
          ? this.joined(record.key, record.value, kept.v, Math.max(ts, kept.ts))
          : this.joined(record.key, kept.v, record.value, Math.max(ts, kept.ts)),
      );
      if (tracked && !kept.m) other.set(name, { ...kept, m: 1 });
    }
    const kept: Kept = { v: record.value, ts };
    if (tracked && records.length > 0) kept.m = 1;
    this.map<Kept>(stores, side, stateKey).set(`${timeName(ts)}|${seq}`, kept);
    registerTimer(stores, this.step.id, 'event', this.expiry(spec, ts), stateKey);
    return { kind: 'records', records };
  }

  private expiry(spec: Extract<JoinSpec, { kind: 'window' }>, ts: number): number {
    return ts + spec.beforeMs + spec.afterMs + spec.graceMs + 1;
  }

  /** An event-time timer of the key came due at `watermark`: what it releases, in time order. */
  onTimer(
    key: unknown,
    stateKey: string,
    stores: PartitionStores,
    watermark: number,
  ): StreamRecord<unknown, unknown>[] {
    const { spec } = this.step;
    if (spec.kind === 'table') return [];
    const out: StreamRecord<unknown, unknown>[] = [];
    if (spec.kind === 'temporal') {
      const pending = this.map<Kept>(stores, 'pending', stateKey);
      const versions = this.map<{ v: unknown }>(stores, 'versions', stateKey);
      const versionNames = versions.names();
      const pendingNames = pending.names();
      let released = 0;
      for (const name of pendingNames) {
        if (timeOf(name) > watermark) break;
        released++;
        const waiting = pending.get(name) as Kept;
        const at = versionAt(versionNames, waiting.ts);
        const valid = at === undefined ? null : (versions.get(at)?.v ?? null);
        if (valid !== null || spec.mode === 'left') out.push(this.joined(key, waiting.v, valid, waiting.ts));
        pending.delete(name);
      }
      const next = pendingNames[released];
      this.pruneVersions(stores, stateKey, watermark, spec.maxVersionsPerKey, {
        versions: versionNames,
        firstPending: next === undefined ? undefined : timeOf(next),
      });
      return out;
    }
    for (const side of ['left', 'right'] as const) {
      const kept = this.map<Kept>(stores, side, stateKey);
      const emitUnmatched = side === 'left' ? spec.mode !== 'inner' : spec.mode === 'outer';
      for (const name of kept.names()) {
        if (this.expiry(spec, timeOf(name)) > watermark) break;
        const record = emitUnmatched ? (kept.get(name) as Kept) : undefined;
        if (record && !record.m) {
          out.push(
            side === 'left'
              ? this.joined(key, record.v, null, record.ts)
              : this.joined(key, null, record.v, record.ts),
          );
        }
        kept.delete(name);
      }
    }
    return out.sort((a, b) => a.timestamp - b.timestamp);
  }

  /**
   * Keeps the versions a waiting or future record may still need: every one
   * after the floor (the watermark, or the earliest waiting record if that
   * is earlier), the one valid at the floor, and no more than the cap.
   */
  private pruneVersions(
    stores: PartitionStores,
    stateKey: string,
    watermark: number,
    cap: number,
    known?: { versions: string[]; firstPending: number | undefined },
  ): void {
    const versions = this.map<{ v: unknown }>(stores, 'versions', stateKey);
    const names = known?.versions ?? versions.names();
    let firstPending = known?.firstPending;
    if (!known) {
      const first = this.map<Kept>(stores, 'pending', stateKey).names()[0];
      firstPending = first === undefined ? undefined : timeOf(first);
    }
    const floor = Math.min(watermark, firstPending ?? Number.POSITIVE_INFINITY);
    const floorName = Number.isFinite(floor) ? timeName(floor) : floor < 0 ? '' : '~';
    // The last version at or before the floor is still valid there; those before it are not.
    let validAtFloor = -1;
    for (let i = 0; i < names.length && (names[i] as string) <= floorName; i++) validAtFloor = i;
    const drop = Math.max(validAtFloor, names.length - cap - 1, 0);
    for (let i = 0; i < drop; i++) versions.delete(names[i] as string);
  }
}

/** The name of the last version at or before `ts`, if any (its value null is a tombstone). */
function versionAt(names: string[], ts: number): string | undefined {
  const at = timeName(ts);
  let valid: string | undefined;
  for (const name of names) {
    if (name > at) break;
    valid = name;
  }
  return valid;
}
