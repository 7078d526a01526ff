import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { dashboardSvg, fetchDashboardData, type Panel } from '../../../scripts/dashboard-svg.ts';
import { repositoryRoot, runTool } from '../../support/cli.ts';
import { waitFor } from '../../support/cluster.ts';
import { keyedInput } from '../../support/committed-state.ts';
import { needsPodCluster } from '../../support/harness-nodes.ts';
import { jobSuite } from '../../support/job-suite.ts';
import { createTopics, produce, uniqueName } from '../../support/kafka-topics.ts';
import { PrometheusProcess } from '../../support/prometheus.ts';
import { weirDevJob } from '../../support/streamjobs.ts';

const files = join(repositoryRoot, 'charts', 'weir', 'files');
const rules = join(files, 'weir-alerts.yaml');

describe('the monitoring kit in promtool', () => {
  it('promtool check rules passes the chart’s alert rules', async () => {
    const result = await runTool('promtool', ['check', 'rules', rules], { allowFailure: true });
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /SUCCESS: 6 rules found/);
  });

  it('promtool test rules: every alert fires in its unit test, and stays quiet when it should', async () => {
    const result = await runTool('promtool', ['test', 'rules', join(files, 'weir-alerts.test.yaml')], {
      allowFailure: true,
    });
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    const tested = readFileSync(join(files, 'weir-alerts.test.yaml'), 'utf8');
    const alerts = [...readFileSync(rules, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1] ?? '');
    for (const alert of alerts)
      assert.match(tested, new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`), alert);
  });
});

/**
 * The kit against a real Prometheus: it scrapes the suite's operator and a
 * running job's TaskManagers as the chart's ServiceMonitor and PodMonitor
 * would, every panel of the dashboard returns series, and an alert fires
 * for a job that keeps failing.
 */
describe('the monitoring kit in a real Prometheus', {
  skip: needsPodCluster('run the jobs it watches'),
}, () => {
  const suite = jobSuite('mon-prometheus');
  let prometheus: PrometheusProcess | undefined;

  before(async () => {
    prometheus = await PrometheusProcess.start({
      operatorPort: suite.operator.port,
      namespace: suite.namespace,
      ruleFiles: [rules],
    });
  });
  after(() => prometheus?.stop());

  it('scrapes a running job with its namespace, pod and streamjob, and every dashboard panel has series', async () => {
    const prom = prometheus as PrometheusProcess;
    const input = uniqueName('mon-in');
    const output = uniqueName('mon-out');
    await createTopics({ name: input, partitions: 2 }, { name: output, partitions: 2 });
    await suite.jobs.create(
      weirDevJob('counts', 'keyed-count-sum', {
        args: { input, output, version: 'v1' },
        storageUrl: 's3://weir/e2e-monitoring',
        interval: '500ms',
        spec: { parallelism: 2 },
      }),
    );
    // A job that never starts: its module does not exist, and every failure restarts it a second later.
    await suite.jobs.create(
      weirDevJob('broken', 'no-such-job', {
        args: {},
        storageUrl: 's3://weir/e2e-monitoring',
        interval: '1s',
        spec: { restartStrategy: { type: 'fixed-delay', attempts: 50, delay: '1s' } },
      }),
    );
    await suite.jobs.waitFor('counts', 'Running', (j) => j.status?.phase === 'Running', 120_000);
    await produce(input, keyedInput(0, 2000, 10));

    const series = await waitFor('the TaskManagers’ series in Prometheus', 60_000, async () => {
      const found = await prom.query(`weir_task_records_in_total{namespace="${suite.namespace}"}`);
      return found.length >= 2 && found.every((s) => Number(s.value[1]) > 0) ? found : undefined;
    });
    // More input now that Prometheus scrapes the pods: rates (records, checkpoint durations) need a counter that
    // moves between two scrapes, and the first input may all have been processed before the first one.
    for (let batch = 1; batch <= 5; batch++) {
      await produce(input, keyedInput(batch * 2000, 2000, 10));
      await delay(1_000);
    }
    for (const s of series) {
      assert.equal(s.metric.streamjob, 'counts');
      assert.match(s.metric.pod ?? '', /^counts-tm-[01]$/);
      assert.match(s.metric.task ?? '', /^s0-t[01]$/);
    }

    const dashboard = JSON.parse(readFileSync(join(files, 'weir-dashboard.json'), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) =>
      p.targets.map((t) => ({
        title: p.title,
        expr: t.expr.replaceAll('$namespace', suite.namespace).replaceAll('$streamjob', '.+'),
      })),
    );
    assert.ok(exprs.length >= 10);
    await waitFor('a series for every dashboard panel', 90_000, async () => {
      const empty: string[] = [];
      for (const { title, expr } of exprs) if ((await prom.query(expr)).length === 0) empty.push(title);
      return empty.length === 0 ? true : undefined;
    });

    // Drawn as scripts/render-dashboard.ts draws docs/images/dashboard.svg: a line in every panel.
    const end = Math.floor(Date.now() / 1000);
    const drawn = await fetchDashboardData(prom.url, dashboard.panels as Panel[], {
      start: end - 120,
      end,
      namespace: suite.namespace,
    });
    assert.deepEqual(
      drawn.filter((d) => !d.series.some((s) => s.points.length > 0)).map((d) => d.panel.title),
      [],
      'panels with nothing to draw',
    );
    const svg = dashboardSvg('Weir StreamJobs', drawn, { start: end - 120, end });
    assert.ok((svg.match(/<polyline /g)?.length ?? 0) >= drawn.length, 'a line in every panel');
    assert.ok(!svg.includes('No data'));
  });

  it('fires WeirStreamJobRestarting for the job that keeps failing, naming it', async () => {
    const prom = prometheus as PrometheusProcess;
    const firing = await waitFor('WeirStreamJobRestarting to fire', 180_000, async () =>
      (await prom.alerts()).find(
        (a) => a.labels.alertname === 'WeirStreamJobRestarting' && a.state === 'firing',
      ),
    );
    assert.deepEqual(
      {
        namespace: firing.labels.namespace,
        streamjob: firing.labels.streamjob,
        severity: firing.labels.severity,
      },
      { namespace: suite.namespace, streamjob: 'broken', severity: 'warning' },
    );
    assert.ok(
      !(await prom.alerts()).some((a) => a.labels.streamjob === 'counts'),
      'the healthy job raises nothing',
    );
  });
});
