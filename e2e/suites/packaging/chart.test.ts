import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { crdFiles } from '../../../src/api/crd-yaml.ts';
import {
  clusterPermissions,
  controlKeySecretName,
  operatorNamespacePermissions,
  type Permission,
  watchedNamespacePermissions,
} from '../../../src/operator/permissions.ts';
import { helm, repositoryRoot, runTool } from '../../support/cli.ts';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  rules?: Rule[];
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

const chart = join(repositoryRoot, 'charts', 'weir');

async function render(...values: string[]): Promise<Manifest[]> {
  const text = await helm('template', 'weir', chart, '--namespace', 'weir-system', ...values);
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

function only(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name ? ` ${name}` : ''}`);
  return found[0] as Manifest;
}

/**
 * "group/resource[/name]:verb" cells, so rule sets compare regardless of how
 * rules are grouped; a permission's placeholder names become the chart's.
 */
function cells(rules: readonly Rule[] | readonly Permission[]): string[] {
  const out: string[] = [];
  for (const rule of rules) {
    const groups = 'apiGroups' in rule ? rule.apiGroups : [rule.apiGroup];
    const resources = 'resources' in rule ? rule.resources : [rule.resource];
    const names = (rule.resourceNames ?? ['']).map((n) =>
      n === controlKeySecretName ? 'weir-control-key' : n,
    );
    for (const g of groups)
      for (const r of resources)
        for (const n of names) for (const v of rule.verbs) out.push(`${g}/${r}${n ? `/${n}` : ''}:${v}`);
  }
  return out.sort();
}

type Container = {
  args: string[];
  image: string;
  env: { name: string; value?: string }[];
  securityContext: Record<string, unknown>;
};
function operatorContainer(manifests: Manifest[]): Container {
  const deployment = only(manifests, 'Deployment');
  const spec = deployment.spec as { template: { spec: { containers: Container[] } } };
  return spec.template.spec.containers[0] as Container;
}

describe('Helm chart charts/weir', () => {
  it('passes helm lint --strict, in both RBAC modes', async () => {
    await helm('lint', '--strict', chart);
    await helm('lint', '--strict', chart, '--set', 'watchNamespaces={team-a,team-b}');
  });

  it('runs two operator replicas with leader election and the weir entrypoint', async () => {
    const manifests = await render();
    const deployment = only(manifests, 'Deployment');
    assert.equal((deployment.spec as { replicas: number }).replicas, 2);
    const container = operatorContainer(manifests);
    assert.deepEqual(container.args, ['operator']);
    const chartYaml = readFileSync(join(chart, 'Chart.yaml'), 'utf8');
    const appVersion = /appVersion: "(.+)"/.exec(chartYaml)?.[1];
    assert.equal(container.image, `ghcr.io/weir-dev/weir:${appVersion}`);
    const env = new Map(container.env.map((e) => [e.name, e.value]));
    assert.equal(env.get('WEIR_LEADER_ELECTION_ID'), 'weir');
    assert.equal(env.get('WEIR_WATCH_NAMESPACES'), '');
    assert.ok(env.has('WEIR_OPERATOR_NAMESPACE') && env.has('POD_NAME'));
    assert.equal(env.get('WEIR_CONTROL_KEY_SECRET'), 'weir-control-key');
    assert.equal(env.get('WEIR_STATUS_POLL_INTERVAL'), '30s');
    // The key Secret is rendered without data: the operator generates the key, so no render carries it.
    const key = only(manifests, 'Secret', 'weir-control-key');
    assert.equal(key.metadata.namespace, 'weir-system');
    assert.equal(key.data, undefined);
    assert.equal(key.stringData, undefined);
    const pdb = only(manifests, 'PodDisruptionBudget');
    assert.equal((pdb.spec as { minAvailable: number }).minAvailable, 1);
  });

  it('runs the operator as non-root with a read-only root file system and no capabilities', async () => {
    const manifests = await render();
    const deployment = only(manifests, 'Deployment');
    const podSpec = (deployment.spec as { template: { spec: { securityContext: Record<string, unknown> } } })
      .template.spec;
    assert.equal(podSpec.securityContext.runAsNonRoot, true);
    assert.equal(podSpec.securityContext.runAsUser, 65532);
    const container = operatorContainer(manifests);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities, { drop: ['ALL'] });
  });

  it('cluster-wide mode grants exactly the permissions the operator uses, and no wildcard', async () => {
    const manifests = await render();
    assert.deepEqual(
      cells(only(manifests, 'ClusterRole', 'weir-jobs').rules ?? []),
      cells(watchedNamespacePermissions),
    );
    assert.deepEqual(
      cells(only(manifests, 'ClusterRole', 'weir-nodes').rules ?? []),
      cells(clusterPermissions),
    );
    const own = only(manifests, 'Role', 'weir-operator');
    assert.equal(own.metadata.namespace, 'weir-system');
    assert.deepEqual(cells(own.rules ?? []), cells(operatorNamespacePermissions));
    assert.ok(
      cells(own.rules ?? []).includes('/secrets/weir-control-key:get'),
      'only its key Secret, by name',
    );
    for (const role of manifests.filter((m) => m.kind === 'ClusterRole' || m.kind === 'Role')) {
      for (const cell of cells(role.rules ?? []))
        assert.doesNotMatch(cell, /\*/, `${role.metadata.name}: ${cell}`);
    }
    const secretCells = cells(watchedNamespacePermissions).filter((c) => c.startsWith('/secrets:'));
    assert.deepEqual(secretCells, ['/secrets:create'], 'the operator never reads Secrets');
  });

  it('namespaced mode uses a Role per watched namespace and no cluster-wide job access', async () => {
    const manifests = await render('--set', 'watchNamespaces={team-a,team-b}');
    const roles = manifests.filter((m) => m.kind === 'Role' && m.metadata.name === 'weir-jobs');
    assert.deepEqual(roles.map((r) => r.metadata.namespace).sort(), ['team-a', 'team-b']);
    for (const role of roles) assert.deepEqual(cells(role.rules ?? []), cells(watchedNamespacePermissions));
    const bindings = manifests.filter((m) => m.kind === 'RoleBinding' && m.metadata.name === 'weir-jobs');
    assert.equal(bindings.length, 2);
    assert.deepEqual(
      manifests
        .filter((m) => m.kind === 'ClusterRole')
        .map((m) => m.metadata.name)
        .sort(),
      ['weir-nodes', 'weir-streamjobs-edit', 'weir-streamjobs-view'],
      'no cluster-wide access of its own; the aggregated roles grant nothing by themselves',
    );
    const env = new Map(operatorContainer(manifests).env.map((e) => [e.name, e.value]));
    assert.equal(env.get('WEIR_WATCH_NAMESPACES'), 'team-a,team-b');
  });

  it('renders the metrics Service, and the ServiceMonitor only when asked', async () => {
    const defaults = await render();
    const service = only(defaults, 'Service');
    assert.equal(service.metadata.name, 'weir-metrics');
    assert.equal(defaults.filter((m) => m.kind === 'ServiceMonitor').length, 0);
    const monitored = await render('--set', 'metrics.serviceMonitor.enabled=true');
    const monitor = only(monitored, 'ServiceMonitor');
    assert.equal(monitor.apiVersion, 'monitoring.coreos.com/v1');
  });

  it('passes through scheduling values and the log level', async () => {
    const manifests = await render(
      '--set',
      'nodeSelector.pool=stream',
      '--set',
      'tolerations[0].key=dedicated,tolerations[0].operator=Exists',
      '--set',
      'logLevel=debug',
      '--set',
      'image.tag=1.2.3',
    );
    const spec = (only(manifests, 'Deployment').spec as { template: { spec: Record<string, unknown> } })
      .template.spec;
    assert.deepEqual(spec.nodeSelector, { pool: 'stream' });
    assert.deepEqual(spec.tolerations, [{ key: 'dedicated', operator: 'Exists' }]);
    const container = operatorContainer(manifests);
    assert.equal(container.image, 'ghcr.io/weir-dev/weir:1.2.3');
    assert.equal(container.env.find((e) => e.name === 'WEIR_LOG_LEVEL')?.value, 'debug');
  });

  it('rejects bad values through values.schema.json, naming the value', async () => {
    const cases: [string[], RegExp][] = [
      [['--set', 'logLevel=verbose'], /logLevel/],
      [['--set', 'replicaCount=0'], /replicaCount/],
      [['--set', 'watchNamespaces={Team_A}'], /watchNamespaces/],
      [['--set', 'imagePolicy=Always'], /imagePolicy/],
      [['--set', 'nodeLostTimeout=soon'], /nodeLostTimeout/],
    ];
    for (const [values, named] of cases) {
      const result = await runTool('helm', ['template', 'weir', chart, ...values], { allowFailure: true });
      assert.notEqual(result.code, 0, `helm accepted ${values.join(' ')}`);
      assert.match(result.stderr, named);
    }
  });

  it('adds StreamJobs and StreamJobSnapshots to the view, edit and admin roles by aggregation, bound to no one', async () => {
    const manifests = await render();
    const view = only(manifests, 'ClusterRole', 'weir-streamjobs-view');
    assert.equal(view.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-view'], 'true');
    assert.deepEqual(cells(view.rules ?? []), [
      'weir.dev/streamjobs/scale:get',
      'weir.dev/streamjobs/scale:list',
      'weir.dev/streamjobs/scale:watch',
      'weir.dev/streamjobs/status:get',
      'weir.dev/streamjobs/status:list',
      'weir.dev/streamjobs/status:watch',
      'weir.dev/streamjobs:get',
      'weir.dev/streamjobs:list',
      'weir.dev/streamjobs:watch',
      'weir.dev/streamjobsnapshots/status:get',
      'weir.dev/streamjobsnapshots/status:list',
      'weir.dev/streamjobsnapshots/status:watch',
      'weir.dev/streamjobsnapshots:get',
      'weir.dev/streamjobsnapshots:list',
      'weir.dev/streamjobsnapshots:watch',
    ]);
    const edit = only(manifests, 'ClusterRole', 'weir-streamjobs-edit');
    assert.equal(edit.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-edit'], 'true');
    assert.equal(edit.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-admin'], 'true');
    assert.ok(!cells(edit.rules ?? []).some((c) => c.includes('/status:')), 'status stays the operator’s');
    // Taking and deleting savepoints is an edit: creating and deleting StreamJobSnapshots.
    assert.ok(cells(edit.rules ?? []).includes('weir.dev/streamjobsnapshots:create'));
    assert.ok(cells(edit.rules ?? []).includes('weir.dev/streamjobsnapshots:delete'));
    const bound = manifests
      .filter((m) => m.kind.endsWith('Binding'))
      .map((m) => (m.roleRef as { name: string }).name);
    assert.ok(!bound.some((name) => name.startsWith('weir-streamjobs-')), `bindings: ${bound.join(', ')}`);
    const without = await render('--set', 'rbac.aggregateToDefaultRoles=false');
    assert.equal(without.filter((m) => m.metadata.name.startsWith('weir-streamjobs-')).length, 0);
  });

  it('takes the operator’s topology spread and extra environment, and refuses a WEIR_ variable there', async () => {
    const manifests = await render(
      '--set',
      'topologySpreadConstraints[0].maxSkew=1,topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone,topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway',
      '--set',
      'extraEnv[0].name=HTTPS_PROXY,extraEnv[0].value=http://proxy:3128',
    );
    const spec = (only(manifests, 'Deployment').spec as { template: { spec: Record<string, unknown> } })
      .template.spec;
    assert.deepEqual(spec.topologySpreadConstraints, [
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' },
    ]);
    assert.equal(
      operatorContainer(manifests).env.find((e) => e.name === 'HTTPS_PROXY')?.value,
      'http://proxy:3128',
    );
    const refused = await runTool(
      'helm',
      ['template', 'weir', chart, '--set', 'extraEnv[0].name=WEIR_LOG_LEVEL'],
      {
        allowFailure: true,
      },
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /extraEnv/);
  });

  it('works as a subchart: global.imageRegistry and global.imagePullSecrets from the parent', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'weir-parent-'));
    try {
      mkdirSync(join(parent, 'charts'));
      cpSync(chart, join(parent, 'charts', 'weir'), { recursive: true });
      writeFileSync(
        join(parent, 'Chart.yaml'),
        'apiVersion: v2\nname: platform\nversion: 1.0.0\ndependencies:\n  - name: weir\n    version: 0.1.0\n',
      );
      writeFileSync(
        join(parent, 'values.yaml'),
        'global:\n  imageRegistry: mirror.example\n  imagePullSecrets: [{name: mirror-pull}]\nweir:\n  replicaCount: 1\n',
      );
      const text = await helm('template', 'platform', parent, '--namespace', 'weir-system');
      const manifests = parseAllDocuments(text)
        .map((d) => d.toJS() as Manifest | null)
        .filter((m): m is Manifest => m !== null);
      const deployment = only(manifests, 'Deployment');
      const spec = deployment.spec as { replicas: number; template: { spec: { imagePullSecrets: unknown } } };
      assert.equal(spec.replicas, 1);
      assert.deepEqual(spec.template.spec.imagePullSecrets, [{ name: 'mirror-pull' }]);
      assert.equal(operatorContainer(manifests).image, 'mirror.example/weir-dev/weir:0.1.0');
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('renders the monitoring kit only when asked: PodMonitor, PrometheusRule with every alert, dashboard ConfigMap', async () => {
    const defaults = await render();
    assert.deepEqual(
      defaults.filter(
        (m) => ['PodMonitor', 'PrometheusRule'].includes(m.kind) || m.metadata.name === 'weir-dashboard',
      ),
      [],
    );
    const kit = await render(
      '--set',
      'metrics.podMonitor.enabled=true,metrics.prometheusRule.enabled=true,metrics.dashboard.enabled=true',
      '--set',
      'watchNamespaces={team-a}',
    );
    const monitor = only(kit, 'PodMonitor').spec as {
      selector: { matchLabels: Record<string, string> };
      namespaceSelector: { matchNames: string[] };
      podMetricsEndpoints: { port: string }[];
    };
    assert.deepEqual(monitor.selector.matchLabels, {
      'app.kubernetes.io/component': 'taskmanager',
      'app.kubernetes.io/managed-by': 'weir-operator',
    });
    assert.deepEqual(monitor.namespaceSelector.matchNames, ['team-a']);
    assert.equal(monitor.podMetricsEndpoints[0]?.port, 'metrics');
    const rule = only(kit, 'PrometheusRule').spec as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const file = parse(readFileSync(join(chart, 'files', 'weir-alerts.yaml'), 'utf8')) as typeof rule;
    assert.deepEqual(rule, file, 'the PrometheusRule carries files/weir-alerts.yaml as it is');
    assert.equal(rule.groups.flatMap((g) => g.rules).length, 6);
    const dashboard = only(kit, 'ConfigMap', 'weir-dashboard') as Manifest & { data: Record<string, string> };
    assert.equal(dashboard.metadata.labels?.grafana_dashboard, '1');
    const panels = (JSON.parse(dashboard.data['weir-streamjobs.json'] ?? '{}') as { panels: unknown[] })
      .panels;
    assert.equal(panels.length, 10);
  });

  it('ships the CRD the schema renders in crds/', () => {
    for (const file of crdFiles.filter((f) => f.path.startsWith('charts/weir/'))) {
      assert.equal(readFileSync(join(chart, file.path.slice('charts/weir/'.length)), 'utf8'), file.render());
    }
  });

  it('manifests/install.yaml is the chart rendered (run `bash scripts/gen-manifests.sh` after a change)', async () => {
    const rendered = await runTool('bash', [join(repositoryRoot, 'scripts', 'gen-manifests.sh'), '--stdout']);
    assert.equal(readFileSync(join(repositoryRoot, 'manifests', 'install.yaml'), 'utf8'), rendered.stdout);
  });
});
