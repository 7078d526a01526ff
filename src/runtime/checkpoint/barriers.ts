/**
 * Savepoint barriers across a repartition topic (DESIGN.md, "Barriers and
 * watermarks cross stages in-band"). Every record an upstream task writes to a
 * repartition topic names the task in a header; at a savepoint the task writes
 * a barrier record into every partition it feeds, in the transaction that
 * commits its part of the savepoint. A downstream task's part is its state once
 * it has read the barrier from every upstream task in every partition it owns:
 * the cut. Records of an upstream task after its barrier are held, not
 * processed, until the cut is taken, so they fall on the far side of it.
 *
 *   upstream u ──▶ [ r r r B(u) r' r' ]  partition p
 *                         │          └── held until aligned, then processed
 *                         └── (p, u) seen
 *   aligned(id) ⇔ every (owned partition, upstream task) pair has been seen
 */

/** The header naming the upstream task that wrote a repartition record. */
export const fromTaskHeader = 'weir.from';
/** The header of a barrier record: the savepoint id it stands for. Its key and value are empty. */
export const barrierHeader = 'weir.barrier';

export type Admission = 'process' | 'held' | 'barrier';

interface Alignment {
  seen: Set<string>;
  /** When the first barrier of this id arrived. */
  since: number;
  /** Whether this task was asked for the savepoint (a barrier may arrive before the request). */
  requested: boolean;
}

/**
 * The alignment state of one downstream task. `M` is whatever the task holds
 * a record as. One savepoint is aligned at a time: the operator asks for one
 * savepoint of a job at a time.
 */
export class BarrierAlignment<M> {
  private readonly partitions: readonly number[];
  private readonly upstreamTasks: number;
  private readonly alignments = new Map<string, Alignment>();
  private held: M[] = [];

  constructor(partitions: readonly number[], upstreamTasks: number) {
    this.partitions = partitions;
    this.upstreamTasks = upstreamTasks;
  }

  private alignment(id: string, now: number): Alignment {
    let alignment = this.alignments.get(id);
    if (!alignment) {
      alignment = { seen: new Set(), since: now, requested: false };
      this.alignments.set(id, alignment);
    }
    return alignment;
  }

  /** What to do with a record just read: process it, keep it for after the cut, or (a barrier) nothing more. */
  admit(partition: number, from: number, barrier: string | undefined, record: M, now: number): Admission {
    const channel = `${partition}/${from}`;
    if (barrier !== undefined) {
      this.alignment(barrier, now).seen.add(channel);
      return 'barrier';
    }
    for (const alignment of this.alignments.values()) {
      if (alignment.seen.has(channel)) {
        this.held.push(record);
        return 'held';
      }
    }
    return 'process';
  }

  /** This task was asked for savepoint `id`. */
  request(id: string, now: number): void {
    this.alignment(id, now).requested = true;
  }

  aligned(id: string): boolean {
    const seen = this.alignments.get(id)?.seen.size ?? 0;
    return seen === this.partitions.length * this.upstreamTasks;
  }

  /** Whether records wait behind a barrier: no checkpoint may commit positions past them until they are processed. */
  get holding(): boolean {
    return this.held.length > 0;
  }

  /** How many records wait behind a barrier. */
  get heldCount(): number {
    return this.held.length;
  }

  /**
   * Ends alignment `id` (its cut was taken, or it was given up): the held
   * records, in the order they were read, to be admitted again.
   */
  release(id: string): M[] {
    this.alignments.delete(id);
    const held = this.held;
    this.held = [];
    return held;
  }

  /**
   * Alignments nobody asked for within `unrequestedMs`, or not aligned within
   * `timeoutMs` of their first barrier: barriers re-read after a restart, or a
   * savepoint whose request failed elsewhere. Their ids, to release.
   */
  expired(now: number, timeoutMs: number, unrequestedMs: number): string[] {
    const ids: string[] = [];
    for (const [id, a] of this.alignments) {
      if (now - a.since > timeoutMs || (!a.requested && now - a.since > unrequestedMs)) ids.push(id);
    }
    return ids;
  }
}
