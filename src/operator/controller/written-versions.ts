/**
 * The resourceVersions this operator wrote status over, per job uid, for a
 * moment after each write. The informer cache shows a write a few
 * milliseconds after it succeeded; a pass that starts meanwhile (a
 * TaskManager poll answering right after the write, say) would decide on the
 * version written over, and its own write would be refused as a conflict
 * (409) and retried. Such a pass is skipped instead: the watch event of the
 * write brings the job back on the fresh copy. After `graceMs` the cache is
 * trusted again whatever it shows, so a lost watch event cannot hold a job.
 */
export class WrittenVersions {
  private readonly written = new Map<string, { over: string; atMs: number }>();

  private readonly graceMs: number;

  constructor(graceMs = 2_000) {
    this.graceMs = graceMs;
  }

  /** A status write on the job of `uid`, over `resourceVersion`, succeeded at `nowMs`. */
  wrote(uid: string, resourceVersion: string | undefined, nowMs: number): void {
    this.prune(nowMs);
    if (uid && resourceVersion) this.written.set(uid, { over: resourceVersion, atMs: nowMs });
  }

  /**
   * How long until the cache's copy of the job (at `resourceVersion`) may be
   * decided on: 0 when it already shows the write (or no write is pending),
   * else what is left of the grace period.
   */
  staleForMs(uid: string, resourceVersion: string | undefined, nowMs: number): number {
    const entry = this.written.get(uid);
    if (!entry) return 0;
    const left = entry.atMs + this.graceMs - nowMs;
    if (entry.over !== resourceVersion || left <= 0) {
      this.written.delete(uid);
      return 0;
    }
    return left;
  }

  private prune(nowMs: number): void {
    for (const [uid, entry] of this.written) if (entry.atMs + this.graceMs < nowMs) this.written.delete(uid);
  }
}
