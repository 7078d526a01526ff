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
 *
 * Several alignments may be open at once (a barrier re-read after a restart
 * beside a savepoint asked for now): a record stays held while any open
 * alignment has seen a barrier in its channel, and ending one alignment
 * releases only the records no other alignment still holds. Within one
 * upstream layout a key always travels in one channel (its source partition
 * maps to one upstream task), so holding a channel back keeps per-key order.
 * A barrier written by an upstream stage of another parallelism (read after a
 * rescale) belongs to a savepoint of that layout, which this task cannot be
 * part of; holding its channel would let the same keys overtake each other
 * through the new layout's channels, so it is ignored.
 */

/** The header of a watermark marker in a repartition topic: the upstream task's watermark, or "idle". */
export const watermarkHeader = 'weir.watermark';

/** The header naming the upstream task that wrote a repartition record. */
export const fromTaskHeader = 'weir.from';
/** On a join's other-side record sent on through a repartition topic: the id of the input it came from. */
export const joinInputHeader = 'weir.join.input';
/** The header of a barrier record: the savepoint id it stands for. Its key and value are empty. */
export const barrierHeader = 'weir.barrier';
/** The header of a barrier record: how many tasks the writing stage ran (its layout). */
export const barrierTasksHeader = 'weir.tasks';

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
  private held: { channel: string; record: M }[] = [];

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

  /**
   * What to do with a record just read: process it, keep it for after the
   * cut, or (a barrier) nothing more. `barrierTasks` is the parallelism the
   * barrier's writer ran with, when the barrier says.
   */
  admit(
    partition: number,
    from: number,
    barrier: string | undefined,
    record: M,
    now: number,
    barrierTasks?: number,
  ): Admission {
    const channel = `${partition}/${from}`;
    if (barrier !== undefined) {
      if (barrierTasks === undefined || barrierTasks === this.upstreamTasks) {
        this.alignment(barrier, now).seen.add(channel);
      }
      return 'barrier';
    }
    if (this.held.length > 0 || this.alignments.size > 0) {
      if (this.heldBack(channel)) {
        this.held.push({ channel, record });
        return 'held';
      }
    }
    return 'process';
  }

  /** Whether an open alignment has seen a barrier in the channel. */
  private heldBack(channel: string): boolean {
    for (const alignment of this.alignments.values()) if (alignment.seen.has(channel)) return true;
    return false;
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
   * records no other open alignment holds back, in the order they were read,
   * to be admitted again. Records of a channel another alignment still holds
   * stay held, so they never enter that alignment's cut.
   */
  release(id: string): M[] {
    this.alignments.delete(id);
    const released: M[] = [];
    const kept: { channel: string; record: M }[] = [];
    for (const entry of this.held) {
      if (this.heldBack(entry.channel)) kept.push(entry);
      else released.push(entry.record);
    }
    this.held = kept;
    return released;
  }

  /**
   * Ends every alignment (the task stops, and no cut can be taken any more):
   * every held record, in the order read, to be processed before the last
   * commit, since the positions committed are past them.
   */
  releaseAll(): M[] {
    this.alignments.clear();
    const released = this.held.map((entry) => entry.record);
    this.held = [];
    return released;
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
