/**
 * Hands out pod IPs from a node's /16. Allocation goes round-robin, so a
 * just-released address is not reused at once: a lingering client of the old
 * pod would otherwise reach the new one.
 */
export class IpPool {
  private readonly prefix: string;
  private readonly inUse = new Set<number>();
  private next = 2;
  private static readonly size = 65_534;

  constructor(cidr: string) {
    const match = /^(\d+)\.(\d+)\.0\.0\/16$/.exec(cidr);
    if (!match) throw new Error(`pod CIDR must be a /16 of the form a.b.0.0/16, got "${cidr}"`);
    this.prefix = `${match[1]}.${match[2]}`;
  }

  allocate(): string {
    for (let tries = 0; tries < IpPool.size; tries++) {
      const candidate = this.next;
      this.next = this.next >= IpPool.size ? 2 : this.next + 1;
      // .x.0 and .x.255 are avoided: some tools treat them as network or broadcast addresses.
      if (candidate % 256 === 0 || candidate % 256 === 255 || this.inUse.has(candidate)) continue;
      this.inUse.add(candidate);
      return this.format(candidate);
    }
    throw new Error(`pod CIDR ${this.prefix}.0.0/16 is exhausted`);
  }

  release(ip: string): void {
    const parts = ip.split('.');
    if (`${parts[0]}.${parts[1]}` !== this.prefix) return;
    this.inUse.delete(Number(parts[2]) * 256 + Number(parts[3]));
  }

  get allocated(): number {
    return this.inUse.size;
  }

  private format(n: number): string {
    return `${this.prefix}.${Math.floor(n / 256)}.${n % 256}`;
  }
}
