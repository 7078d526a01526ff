/**
 * At most `limit` requests run at once; the others wait in arrival order. The operator asks every running
 * job's TaskManagers for status in the background, and a few thousand jobs turning Running together would
 * otherwise put one request (with its sockets, buffers and, for a pod that does not answer, its error) in
 * flight per TaskManager: at 5,000 jobs that was enough to exhaust a 256 MiB operator's heap.
 */
export class RequestSlots {
  private readonly limit: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error(`a slot limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(request: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // handed a slot on release
    try {
      return await request();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
