import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { kubectl, repositoryRoot } from '../../support/cli.ts';
import { type Cluster, connect, createTestNamespace, deleteNamespace } from '../../support/cluster.ts';
import { applyCrd } from '../../support/streamjobs.ts';

const examplesDir = join(repositoryRoot, 'examples');
const examples = readdirSync(examplesDir).filter((f) => f.endsWith('.yaml'));

describe('examples/: every StreamJob passes the API server validation', () => {
  let cluster: Cluster;
  let namespace: string;

  before(async () => {
    cluster = connect();
    await applyCrd();
    namespace = await createTestNamespace(cluster, 'weir-examples');
  });
  after(async () => {
    await deleteNamespace(cluster, namespace);
  });

  it('has examples, each a commented StreamJob', () => {
    assert.ok(examples.length >= 3, `examples: ${examples.join(', ')}`);
    for (const file of examples) {
      const text = readFileSync(join(examplesDir, file), 'utf8');
      assert.equal((parse(text) as { kind?: string }).kind, 'StreamJob', file);
      assert.ok(text.split('\n').filter((l) => l.trim().startsWith('#')).length >= 3, `${file} is commented`);
    }
  });

  for (const file of examples) {
    it(`${file} is accepted (server-side dry run)`, async () => {
      const out = await kubectl('apply', '--dry-run=server', '-n', namespace, '-f', join(examplesDir, file));
      assert.match(out, /streamjob\.weir\.dev\/\S+ created \(server dry run\)/);
    });
  }
});
