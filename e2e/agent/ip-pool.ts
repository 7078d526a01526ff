/**
 * Hands out pod IPs from a node's CIDR (a /16 to a /24). Allocation goes
 * round-robin, so a just-released address is not reused at once: a lingering
 * client of the old pod would otherwise reach the new one.
 */
export class IpPool {
  private readonly base: number;
  private readonly size: number;
  private readonly inUse = new Set<number>();
  private next = 2;

  constructor(cidr: string) {
    const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
    const octets = match ? match.slice(1, 5).map(Number) : [];
    const prefix = Number(match?.[5]);
    if (!match || octets.some((o) => o > 255) || prefix < 16 || prefix > 24) {
      throw new Error(`pod CIDR must be an IPv4 range from /16 to /24, got "${cidr}"`);
    }
    this.size = 2 ** (32 - prefix);
    const address = octets.reduce((acc, o) => acc * 256 + o, 0);
    if (address % this.size !== 0) throw new Error(`pod CIDR "${cidr}" has host bits set`);
    this.base = address;
  }

  allocate(): string {
    for (let tries = 0; tries < this.size; tries++) {
      const candidate = this.next;
      this.next = this.next >= this.size - 2 ? 2 : this.next + 1;
      // x.x.x.0 and x.x.x.255 are avoided: some tools treat them as network or broadcast addresses.
      if (candidate % 256 === 0 || candidate % 256 === 255 || this.inUse.has(candidate)) continue;
      this.inUse.add(candidate);
      return this.format(this.base + candidate);
    }
    throw new Error(`pod CIDR ${this.format(this.base)} is exhausted`);
  }

  release(ip: string): void {
    const value = ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const offset = value - this.base;
    if (offset >= 0 && offset < this.size) this.inUse.delete(offset);
  }

  get allocated(): number {
    return this.inUse.size;
  }

  private format(value: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
  }
}
