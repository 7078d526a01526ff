import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HttpMethod, RequestContext } from '@kubernetes/client-node';
import { PooledKubeConfig } from './pooled-kube-config.ts';

function config(cluster: { caData?: string; caFile?: string }, token = 'token-a'): PooledKubeConfig {
  const kc = new PooledKubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: false, ...cluster }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function request(kc: PooledKubeConfig) {
  const context = new RequestContext('https://127.0.0.1:6443/api/v1/pods', HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  return context;
}

describe('PooledKubeConfig', () => {
  it('gives every request the same connection pool, and each its own auth header', async () => {
    const kc = config({ caData: Buffer.from('ca-1').toString('base64') });
    const first = await request(kc);
    const second = await request(kc);
    assert.ok(first.getDispatcher());
    assert.equal(second.getDispatcher(), first.getDispatcher());
    assert.equal(second.getHeaders().Authorization, 'Bearer token-a');
  });

  it('makes a new pool when the TLS material changes: inline data, or a rewritten CA file', async () => {
    const inline = config({ caData: Buffer.from('ca-1').toString('base64') });
    const before = (await request(inline)).getDispatcher();
    inline.loadFromOptions({
      ...inline,
      clusters: [{ ...inline.clusters[0], caData: Buffer.from('ca-2').toString('base64') } as never],
    });
    assert.notEqual((await request(inline)).getDispatcher(), before);

    const dir = mkdtempSync(join(tmpdir(), 'weir-kubeconfig-'));
    try {
      const caFile = join(dir, 'ca.crt');
      writeFileSync(caFile, 'ca-1');
      const fromFile = config({ caFile });
      const old = (await request(fromFile)).getDispatcher();
      assert.equal((await request(fromFile)).getDispatcher(), old);
      writeFileSync(caFile, 'ca-2, rotated');
      utimesSync(caFile, new Date(), new Date(Date.now() + 1000));
      assert.notEqual((await request(fromFile)).getDispatcher(), old);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
