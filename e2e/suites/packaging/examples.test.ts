import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

  it('has examples, each a StreamJob', () => {
    assert.ok(examples.length >= 3, `examples: ${examples.join(', ')}`);
    for (const file of examples) {
      const text = readFileSync(join(examplesDir, file), 'utf8');
      assert.equal((parse(text) as { kind?: string }).kind, 'StreamJob', file);
    }
  });

  it("runs jobs that exist: each entry is a module Weir's image ships (dist/jobs/x.js, built from src/jobs/x.ts)", () => {
    for (const file of examples) {
      const spec = (parse(readFileSync(join(examplesDir, file), 'utf8')) as { spec: { entry: string } }).spec;
      const match = /^\/opt\/weir\/dist\/(jobs\/[a-z0-9-]+)\.js$/.exec(spec.entry);
      assert.ok(match, `${file}: entry ${spec.entry} is not a module under /opt/weir/dist/jobs/`);
      assert.ok(existsSync(join(repositoryRoot, 'src', `${match[1]}.ts`)), `${file}: no src/${match[1]}.ts`);
    }
  });

  for (const file of examples) {
    // Strict field validation: a field the CRD does not know (a typo, a renamed setting) is an error
    // instead of being pruned silently, so an example cannot teach a setting that does nothing.
    it(`${file} is accepted with every field known to the CRD (server-side dry run)`, async () => {
      const out = await kubectl(
        'apply',
        '--dry-run=server',
        '--validate=strict',
        '-n',
        namespace,
        '-f',
        join(examplesDir, file),
      );
      assert.match(out, /streamjob\.weir\.dev\/\S+ created \(server dry run\)/);
    });
  }
});
