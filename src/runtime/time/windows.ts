import type { StreamRecord } from '../../sdk/pipeline.ts';
import type { AggregateFunction, Window, WindowAssigner, WindowResult } from '../../sdk/windows.ts';
import type { PartitionStores } from '../state/partition-stores.ts';
import { registerTimer } from './timers.ts';

/**
 * The window operator's state of one key: its open windows as entries
 * "<start>|<end>" of the map state `<operator>/windows`, each with the
 * accumulator and whether (and how often) its result was emitted.
 *
 * Timing (Flink's rules): a window [start, end) fires once the watermark
 * reaches end − 1; it keeps its state, and takes late records, until the
 * watermark reaches end − 1 + allowedLateness, when its state is removed. A
 * record whose every window is past that goes to the late-records topic.
 */
interface WindowState {
  acc: unknown;
  /** Results emitted so far: 0 until the window fires. */
  emitted: number;
}

export interface WindowStep {
  id: string;
  assigner: WindowAssigner;
  aggregate: AggregateFunction<unknown, unknown, unknown, unknown>;
  allowedLatenessMs: number;
}

export type WindowOutcome =
  | { kind: 'results'; records: StreamRecord<unknown, WindowResult<unknown>>[] }
  | { kind: 'late' };

/** The windows a record at `timestamp` belongs to (before session merging). */
export function assignWindows(assigner: WindowAssigner, timestamp: number): Window[] {
  switch (assigner.kind) {
    case 'tumbling': {
      const start = Math.floor(timestamp / assigner.sizeMs) * assigner.sizeMs;
      return [{ start, end: start + assigner.sizeMs }];
    }
    case 'hopping': {
      const windows: Window[] = [];
      const last = Math.floor(timestamp / assigner.slideMs) * assigner.slideMs;
      for (let start = last; start > timestamp - assigner.sizeMs; start -= assigner.slideMs) {
        windows.push({ start, end: start + assigner.sizeMs });
      }
      return windows.reverse();
    }
    case 'session':
      return [{ start: timestamp, end: timestamp + assigner.gapMs }];
  }
}

const entryOf = (w: Window) => `${w.start}|${w.end}`;
function windowOf(entry: string): Window {
  const [start, end] = entry.split('|').map(Number) as [number, number];
  return { start, end };
}

export class WindowOperator {
  private readonly step: WindowStep;

  constructor(step: WindowStep) {
    this.step = step;
  }

  private windows(stores: PartitionStores, stateKey: string) {
    return stores.mapState<WindowState>(`${this.step.id}/windows`, stateKey);
  }

  private cleanupTime(w: Window): number {
    return w.end - 1 + this.step.allowedLatenessMs;
  }

  private result(key: unknown, w: Window, state: WindowState): StreamRecord<unknown, WindowResult<unknown>> {
    state.emitted += 1;
    return {
      key,
      value: {
        start: w.start,
        end: w.end,
        result: this.step.aggregate.result(state.acc, key, w),
        update: state.emitted - 1,
      },
      timestamp: w.end - 1,
    };
  }

  /** Adds a record to its windows; a window that already fired emits its updated result. */
  add(
    record: StreamRecord<unknown, unknown>,
    stateKey: string,
    stores: PartitionStores,
    watermark: number,
  ): WindowOutcome {
    const { aggregate } = this.step;
    const open = assignWindows(this.step.assigner, record.timestamp).filter(
      (w) => this.cleanupTime(w) > watermark,
    );
    if (open.length === 0) return { kind: 'late' };
    const windows = this.windows(stores, stateKey);
    const out: StreamRecord<unknown, WindowResult<unknown>>[] = [];
    for (let w of open) {
      let state: WindowState = windows.get(entryOf(w)) ?? { acc: aggregate.create(), emitted: 0 };
      if (this.step.assigner.kind === 'session')
        ({ window: w, state } = this.mergeSessions(w, state, stateKey, stores));
      state.acc = aggregate.add(state.acc, record);
      if (state.emitted > 0 || w.end - 1 <= watermark) out.push(this.result(record.key, w, state));
      windows.set(entryOf(w), state);
      registerTimer(stores, this.step.id, 'event', w.end - 1, stateKey);
      if (this.step.allowedLatenessMs > 0)
        registerTimer(stores, this.step.id, 'event', this.cleanupTime(w), stateKey);
    }
    return { kind: 'results', records: out };
  }

  /** A new session window merged with every window of the key it overlaps or touches. */
  private mergeSessions(
    window: Window,
    state: WindowState,
    stateKey: string,
    stores: PartitionStores,
  ): { window: Window; state: WindowState } {
    const merge = this.step.aggregate.merge;
    if (!merge) throw new Error(`session window "${this.step.id}" needs an aggregate with merge()`);
    const windows = this.windows(stores, stateKey);
    let merged = window;
    let acc = state.acc;
    let emitted = state.emitted;
    for (const [entry, other] of windows.entries()) {
      const w = windowOf(entry);
      if (w.start > merged.end || w.end < merged.start) continue;
      merged = { start: Math.min(merged.start, w.start), end: Math.max(merged.end, w.end) };
      acc = merge(acc, other.acc);
      emitted = Math.max(emitted, other.emitted);
      windows.delete(entry);
    }
    return { window: merged, state: { acc, emitted } };
  }

  /** The event-time timers of a key came due: windows that reached their end fire, expired ones are removed. */
  onTimer(
    key: unknown,
    stateKey: string,
    stores: PartitionStores,
    watermark: number,
  ): StreamRecord<unknown, WindowResult<unknown>>[] {
    const windows = this.windows(stores, stateKey);
    const out: StreamRecord<unknown, WindowResult<unknown>>[] = [];
    for (const [entry, state] of windows.entries()) {
      const w = windowOf(entry);
      const fires = state.emitted === 0 && w.end - 1 <= watermark;
      if (fires) out.push(this.result(key, w, state));
      // Only what changed is written: a window still open is left as it is.
      if (this.cleanupTime(w) <= watermark) windows.delete(entry);
      else if (fires) windows.set(entry, state);
    }
    return out;
  }
}
