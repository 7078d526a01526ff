import { appendFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Bind mounts need their target to exist, and pods see the host's file
 * system. Targets that do not exist are created on the host, and every path
 * created is recorded so that `harness:down` can remove it again.
 */
export class MountPoints {
  private readonly ledger: string;

  constructor(ledger: string) {
    this.ledger = ledger;
    mkdirSync(dirname(ledger), { recursive: true });
  }

  ensure(target: string, source: string): void {
    if (existsSync(target)) return;
    const missing: string[] = [];
    for (let dir = dirname(target); !existsSync(dir); dir = dirname(dir)) missing.unshift(dir);
    for (const dir of missing) this.record(dir, () => mkdirSync(dir));
    const sourceIsFile = existsSync(source) && statSync(source).isFile();
    this.record(target, () => (sourceIsFile ? writeFileSync(target, '') : mkdirSync(target)));
  }

  private record(path: string, create: () => void): void {
    create();
    appendFileSync(this.ledger, `${path}\n`);
  }
}
