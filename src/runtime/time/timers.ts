import type { ValueState } from '../../sdk/state.ts';
import type { TimeDomain } from '../../sdk/time.ts';
import type { PartitionStores } from '../state/partition-stores.ts';

/**
 * Timers of one operator in one partition, kept in the partition's state (so
 * they are checkpointed and restored with it) as entries of the store
 * `<operator>/__timers`, named "<e|p><time>\0<state key>": one timer per
 * (domain, time, key), in time order when the names are sorted.
 */
export interface DueTimer {
  domain: TimeDomain;
  time: number;
  /** The key in its stored form (executor.stateKey). */
  stateKey: string;
}

/** Times are stored with a fixed width so that name order is time order (±10^15 ms: ±31,000 years). */
const timeOffset = 1e15;
const timeWidth = 16;

export function timerStoreName(operatorId: string): string {
  return `${operatorId}/__timers`;
}

function entryName(domain: TimeDomain, time: number, stateKey: string): string {
  const t = String(Math.trunc(time) + timeOffset).padStart(timeWidth, '0');
  return `${domain === 'event' ? 'e' : 'p'}${t}\u0000${stateKey}`;
}

function parseEntry(name: string): DueTimer {
  const cut = name.indexOf('\u0000');
  return {
    domain: name[0] === 'e' ? 'event' : 'processing',
    time: Number(name.slice(1, cut)) - timeOffset,
    stateKey: name.slice(cut + 1),
  };
}

/**
 * The earliest time of each operator's timers per domain, cached per
 * partition so that a batch without due timers costs a comparison, not a scan.
 * Rebuilt by a scan after restore; lowered by every registration.
 */
const earliest = new WeakMap<PartitionStores, Map<string, { event: number; processing: number }>>();

function cached(
  stores: PartitionStores,
  operatorId: string,
): { event: number; processing: number } | undefined {
  return earliest.get(stores)?.get(operatorId);
}

/** The state entry of one timer: present while the timer is set. */
function timerEntry(
  stores: PartitionStores,
  operatorId: string,
  domain: TimeDomain,
  time: number,
  stateKey: string,
): ValueState<number> {
  return stores.valueState<number>(timerStoreName(operatorId), entryName(domain, time, stateKey));
}

export function registerTimer(...timer: Parameters<typeof timerEntry>): void {
  timerEntry(...timer).set(1);
  const [stores, operatorId, domain, time] = timer;
  const known = cached(stores, operatorId);
  if (known) known[domain] = Math.min(known[domain], time);
}

export function deleteTimer(...timer: Parameters<typeof timerEntry>): void {
  timerEntry(...timer).clear();
}

/**
 * Removes and returns the operator's timers due by `watermark` (event time)
 * and `now` (processing time), earliest first.
 */
export function takeDueTimers(
  stores: PartitionStores,
  operatorId: string,
  watermark: number,
  now: number,
): DueTimer[] {
  const known = cached(stores, operatorId);
  if (known && known.event > watermark && known.processing > now) return [];
  const store = stores.stores.get(timerStoreName(operatorId));
  const next = { event: Number.POSITIVE_INFINITY, processing: Number.POSITIVE_INFINITY };
  const due: { name: string; timer: DueTimer }[] = [];
  if (store?.keysWithPrefix) {
    // A store that lists keys in order (on disk) gives each domain's timers earliest first: the due ones
    // are a prefix, and the first one not due is the next. A task with many timers set (a join keeps one
    // per waiting record) then pays for the due ones, not for all of them at every batch.
    for (const [domain, limit] of [
      ['event', watermark],
      ['processing', now],
    ] as const) {
      for (const name of store.keysWithPrefix(domain === 'event' ? 'e' : 'p')) {
        const timer = parseEntry(name);
        if (timer.time > limit) {
          next[domain] = timer.time;
          break;
        }
        due.push({ name, timer });
      }
    }
  } else {
    for (const name of store?.keys() ?? []) {
      const timer = parseEntry(name);
      if (timer.time <= (timer.domain === 'event' ? watermark : now)) due.push({ name, timer });
      else next[timer.domain] = Math.min(next[timer.domain], timer.time);
    }
  }
  let perOperator = earliest.get(stores);
  if (!perOperator) {
    perOperator = new Map();
    earliest.set(stores, perOperator);
  }
  perOperator.set(operatorId, next);
  due.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { timer } of due) deleteTimer(stores, operatorId, timer.domain, timer.time, timer.stateKey);
  return due.map((d) => d.timer);
}
