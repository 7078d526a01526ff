import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const shim = join(import.meta.dirname, '..', 'kind', 'runc-shim');
const cache = process.env.WEIR_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'weir');

describe('weir-kind-runc (e2e/kind/runc-shim)', () => {
  it('passes its Go tests: CAP_SYS_RESOURCE and the OOM score adjustment removed from what runc reads, nothing else', async () => {
    const { stdout } = await promisify(execFile)('go', ['test', '-count=1', './...'], {
      cwd: shim,
      env: {
        ...process.env,
        GOMODCACHE: process.env.GOMODCACHE ?? join(cache, 'go', 'mod'),
        GOCACHE: process.env.GOCACHE ?? join(cache, 'go', 'build'),
        GOTOOLCHAIN: 'local',
        GOFLAGS: '-buildvcs=false',
      },
      timeout: 300_000,
    });
    assert.match(stdout, /^ok\s+weir\.dev\/kind\/runc-shim/m);
  });
});
