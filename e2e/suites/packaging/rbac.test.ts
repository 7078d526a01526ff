import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  clusterPermissions,
  controlKeySecretName,
  operatorNamespacePermissions,
  watchedNamespacePermissions,
} from '../../../src/operator/permissions.ts';
import { helm, kubectl, repositoryRoot } from '../../support/cli.ts';
import { type Cluster, connect, createTestNamespace, deleteNamespace } from '../../support/cluster.ts';
import {
  accessMatrix,
  accessMismatches,
  grants,
  namedObjectQuestions,
  withNames,
} from '../../support/rbac.ts';
import { applyCrd } from '../../support/streamjobs.ts';

/**
 * The chart's cluster-wide RBAC, applied on its own (no operator runs), and
 * checked cell by cell with `kubectl auth can-i` against what the operator's
 * code uses (src/operator/permissions.ts). The namespaced mode is checked by
 * the helm-install suite, where the operator really runs under it.
 */
describe('chart RBAC, cluster-wide mode: exactly what the operator uses', () => {
  let cluster: Cluster;
  let releaseNamespace: string;
  let jobsNamespace: string;
  const release = `weir-rbac-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'weir-rbac-'));
  const manifest = join(dir, 'rbac.yaml');

  before(async () => {
    cluster = connect();
    // kubectl resolves streamjobs.weir.dev through discovery; without the CRD it asks about another resource.
    await applyCrd();
    releaseNamespace = await createTestNamespace(cluster, 'weir-rbac-op');
    jobsNamespace = await createTestNamespace(cluster, 'weir-rbac-jobs');
    const rendered = await helm(
      'template',
      release,
      join(repositoryRoot, 'charts', 'weir'),
      '--namespace',
      releaseNamespace,
      '--show-only',
      'templates/serviceaccount.yaml',
      '--show-only',
      'templates/rbac.yaml',
    );
    writeFileSync(manifest, rendered);
    await kubectl('apply', '-f', manifest);
  });
  after(async () => {
    await kubectl('delete', '--ignore-not-found', '-f', manifest).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await deleteNamespace(cluster, releaseNamespace);
    await deleteNamespace(cluster, jobsNamespace);
  });

  it('allows every verb the operator uses and denies every other cell of the matrix', async () => {
    const user = `system:serviceaccount:${releaseNamespace}:${release}`;
    const keySecret = `${release}-control-key`;
    const operatorNamespace = withNames(operatorNamespacePermissions, { [controlKeySecretName]: keySecret });
    const questions = [
      ...accessMatrix([jobsNamespace, releaseNamespace]),
      ...namedObjectQuestions(releaseNamespace, 'secrets', keySecret),
      ...namedObjectQuestions(jobsNamespace, 'secrets', keySecret),
    ];
    const mismatches = await accessMismatches(user, questions, (q) => {
      if (q.allNamespaces) return false;
      if (q.namespace === undefined) return grants(clusterPermissions, q);
      const here = q.namespace === releaseNamespace ? operatorNamespace : [];
      return grants([...watchedNamespacePermissions, ...here], q);
    });
    assert.deepEqual(mismatches, [], `${questions.length} questions asked`);
  });
});
