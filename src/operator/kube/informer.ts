import type { KubernetesObject } from '@kubernetes/client-node';

/**
 * A list-then-watch cache of one resource kind. It exists because the
 * client-node informer has had regressions (an empty cache right after start,
 * unhandled errors after a watch restart); every consumer in Weir goes through
 * this one tested layer instead.
 */

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface WatchStatus {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

export interface WatchHandle {
  abort(): void;
}

/** The two API calls an informer needs; a real one wraps the API server. */
export interface ListWatchSource<T> {
  /** Lists every object, each passed through `shape` as its page arrives, so whole pages are not held. */
  list(shape: (object: T) => T): Promise<ListResult<T>>;
  watch(
    resourceVersion: string,
    onEvent: (type: WatchEventType, object: T | WatchStatus) => void,
    onClose: (error?: unknown) => void,
  ): Promise<WatchHandle>;
}

export interface InformerHandlers<T> {
  onAdd?(object: T): void;
  onUpdate?(object: T, previous: T): void;
  onDelete?(object: T): void;
}

export interface InformerOptions<T = KubernetesObject> {
  /** Re-delivers every cached object as an update, so missed work is retried. */
  resyncMs: number;
  relistBackoff: { initialMs: number; maxMs: number };
  onError?: (error: unknown) => void;
  /**
   * Applied to every object before it is cached or handed to handlers: it keeps only what the operator
   * reads, so the cache of thousands of pods holds a fraction of what the API server sends.
   */
  transform?: (object: T) => T;
  /** A secondary key (e.g. a pod's job); `indexed(value)` returns the cached objects that have it. */
  indexBy?: (object: T) => string | undefined;
}

export function objectKey(object: KubernetesObject): string {
  const namespace = object.metadata?.namespace;
  const name = object.metadata?.name ?? '';
  return namespace ? `${namespace}/${name}` : name;
}

/** A watch that fails with 410 Gone must relist: its resourceVersion was compacted away. */
export function isResourceExpired(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { code?: unknown; statusCode?: unknown; reason?: unknown };
  return candidate.code === 410 || candidate.statusCode === 410 || candidate.reason === 'Expired';
}

export class Informer<T extends KubernetesObject> {
  private readonly cache = new Map<string, T>();
  private readonly index = new Map<string, Map<string, T>>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private resourceVersion = '';
  private watchHandle: WatchHandle | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = true;
  private synced = false;
  /** Bumped on every (re)start of the list/watch loop, so late callbacks of an old watch are ignored. */
  private generation = 0;

  private readonly source: ListWatchSource<T>;
  private readonly options: InformerOptions<T>;

  constructor(source: ListWatchSource<T>, options: InformerOptions<T>) {
    this.source = source;
    this.options = options;
  }

  subscribe(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** The cached objects whose `indexBy` key is `value`; empty without an `indexBy` option. */
  indexed(value: string): T[] {
    const entries = this.index.get(value);
    return entries ? [...entries.values()] : [];
  }

  /** Resolves once the first list is in the cache; later failures are retried in the background. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.relist();
    if (this.options.resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.options.resyncMs);
      this.resyncTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    this.watchHandle?.abort();
    this.watchHandle = undefined;
    clearInterval(this.resyncTimer);
    clearTimeout(this.retryTimer);
  }

  private async relist(): Promise<void> {
    const generation = ++this.generation;
    this.watchHandle?.abort();
    this.watchHandle = undefined;
    const result = await this.source.list((item) => this.shape(item));
    if (this.stopped || generation !== this.generation) return;
    this.replace(result.items);
    this.resourceVersion = result.resourceVersion;
    this.synced = true;
    await this.startWatch(generation);
  }

  /** Takes a list result, whose items are shaped already. */
  private replace(items: T[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      this.upsert(key, item);
    }
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.remove(key, old);
        this.emit((h) => h.onDelete?.(old));
      }
    }
  }

  private shape(item: T): T {
    return this.options.transform ? this.options.transform(item) : item;
  }

  private store(key: string, item: T, previous: T | undefined): void {
    this.cache.set(key, item);
    const indexBy = this.options.indexBy;
    if (!indexBy) return;
    const before = previous ? indexBy(previous) : undefined;
    const after = indexBy(item);
    if (before !== undefined && before !== after) this.unindex(before, key);
    if (after !== undefined) {
      const entries = this.index.get(after) ?? new Map<string, T>();
      entries.set(key, item);
      this.index.set(after, entries);
    }
  }

  private remove(key: string, old: T): void {
    this.cache.delete(key);
    const value = this.options.indexBy?.(old);
    if (value !== undefined) this.unindex(value, key);
  }

  private unindex(value: string, key: string): void {
    const entries = this.index.get(value);
    entries?.delete(key);
    if (entries?.size === 0) this.index.delete(value);
  }

  private upsert(key: string, item: T): void {
    const previous = this.cache.get(key);
    this.store(key, item, previous);
    if (!previous) {
      this.emit((h) => h.onAdd?.(item));
    } else if (previous.metadata?.resourceVersion !== item.metadata?.resourceVersion) {
      this.emit((h) => h.onUpdate?.(item, previous));
    }
  }

  private async startWatch(generation: number): Promise<void> {
    const handle = await this.source.watch(
      this.resourceVersion,
      (type, object) => {
        if (generation === this.generation) this.onWatchEvent(type, object);
      },
      (error) => {
        if (generation === this.generation) this.onWatchClosed(error);
      },
    );
    if (generation !== this.generation) {
      handle.abort();
      return;
    }
    this.watchHandle = handle;
    this.failures = 0;
  }

  private onWatchEvent(type: WatchEventType, object: T | WatchStatus): void {
    if (type === 'ERROR') {
      const status = object as WatchStatus;
      this.restart(isResourceExpired(status) ? 'relist' : 'rewatch', status);
      return;
    }
    const received = object as T;
    if (received.metadata?.resourceVersion) this.resourceVersion = received.metadata.resourceVersion;
    if (type === 'BOOKMARK') return;
    const key = objectKey(received);
    if (type === 'DELETED') {
      const old = this.cache.get(key);
      if (old) this.remove(key, old);
      const deleted = old ?? this.shape(received);
      this.emit((h) => h.onDelete?.(deleted));
      return;
    }
    this.upsert(key, this.shape(received));
  }

  private onWatchClosed(error?: unknown): void {
    if (this.stopped) return;
    // A clean close is the API server's watch timeout: resume from the last version.
    if (error === undefined || error === null) {
      this.restart('rewatch');
      return;
    }
    this.restart(isResourceExpired(error) ? 'relist' : 'rewatch', error);
  }

  private restart(mode: 'relist' | 'rewatch', error?: unknown): void {
    if (this.stopped) return;
    const generation = ++this.generation;
    this.watchHandle?.abort();
    this.watchHandle = undefined;
    if (error !== undefined) {
      this.failures++;
      this.options.onError?.(error);
    }
    const { initialMs, maxMs } = this.options.relistBackoff;
    const delay = this.failures === 0 ? 0 : Math.min(maxMs, initialMs * 2 ** (this.failures - 1));
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.stopped || generation !== this.generation) return;
      const attempt = mode === 'relist' ? this.relist() : this.startWatch(generation);
      attempt.catch((err: unknown) => this.restart(isResourceExpired(err) ? 'relist' : mode, err));
    }, delay);
  }

  private resync(): void {
    for (const item of this.cache.values()) this.emit((h) => h.onUpdate?.(item, item));
  }

  private emit(call: (handlers: InformerHandlers<T>) => void): void {
    for (const handlers of this.handlers) {
      try {
        call(handlers);
      } catch (error) {
        // A handler's bug must not stop the watch; it is reported, never swallowed.
        this.options.onError?.(error);
      }
    }
  }
}
