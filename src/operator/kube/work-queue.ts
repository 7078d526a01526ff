/**
 * A keyed work queue: a key is queued at most once, at most one reconcile
 * per key runs at a time (a key added while it runs is run again after), and
 * failures are retried with capped exponential back-off unless the error says
 * it is not retriable.
 */

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export type ReconcileFn = (key: string) => Promise<ReconcileResult | undefined>;

export interface WorkQueueOptions {
  concurrency: number;
  backoff: { baseMs: number; maxMs: number };
  onError?: (key: string, error: unknown, retryInMs: number | undefined) => void;
  onDone?: (key: string, durationMs: number, failed: boolean) => void;
}

export function isRetriable(error: unknown): boolean {
  return (error as { retriable?: unknown })?.retriable !== false;
}

export class WorkQueue {
  private readonly reconcile: ReconcileFn;
  private readonly options: WorkQueueOptions;
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly idleWaiters: (() => void)[] = [];
  private started = false;

  constructor(reconcile: ReconcileFn, options: WorkQueueOptions) {
    this.reconcile = reconcile;
    this.options = options;
  }

  get depth(): number {
    return this.queue.length;
  }

  start(): void {
    this.started = true;
    this.pump();
  }

  /** Stops taking work and resolves once in-flight reconciles finish. */
  async stop(): Promise<void> {
    this.started = false;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    if (this.running.size === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  add(key: string): void {
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Adds the key after a delay; an earlier pending delay for the key wins. */
  addAfter(key: string, delayMs: number): void {
    const at = Date.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  private pump(): void {
    while (this.started && this.running.size < this.options.concurrency && this.queue.length > 0) {
      const key = this.queue.shift() as string;
      this.queued.delete(key);
      this.running.add(key);
      void this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    const started = performance.now();
    let failed = false;
    try {
      const result = await this.reconcile(key);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (error) {
      failed = true;
      if (isRetriable(error)) {
        const attempt = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, attempt);
        const delay = Math.min(this.options.backoff.maxMs, this.options.backoff.baseMs * 2 ** (attempt - 1));
        this.options.onError?.(key, error, delay);
        this.addAfter(key, delay);
      } else {
        this.failures.delete(key);
        this.options.onError?.(key, error, undefined);
      }
    } finally {
      this.options.onDone?.(key, performance.now() - started, failed);
      this.running.delete(key);
      if (this.dirty.delete(key)) this.add(key);
      if (this.running.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      this.pump();
    }
  }
}
