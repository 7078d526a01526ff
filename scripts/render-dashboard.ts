/**
 * Draws the Grafana dashboard (charts/weir/files/weir-dashboard.json) as an
 * SVG from a Prometheus's data: each panel's queries over the last
 * `--minutes`, as lines on a grid like Grafana's. It shows what the panels
 * show without a Grafana; docs/images/dashboard.svg was drawn from the local
 * cluster with it.
 * Usage: node scripts/render-dashboard.ts --prometheus URL [--minutes 15] [--namespace NS] [--out FILE]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dashboardSvg, fetchDashboardData, type Panel } from './dashboard-svg.ts';

const { values } = parseArgs({
  options: {
    prometheus: { type: 'string' },
    minutes: { type: 'string', default: '15' },
    namespace: { type: 'string', default: '.+' },
    out: { type: 'string', default: 'docs/images/dashboard.svg' },
  },
});
if (!values.prometheus) throw new Error('--prometheus URL is required');
const root = join(import.meta.dirname, '..');
const dashboard = JSON.parse(readFileSync(join(root, 'charts/weir/files/weir-dashboard.json'), 'utf8')) as {
  title: string;
  panels: Panel[];
};
const end = Math.floor(Date.now() / 1000);
const start = end - Number(values.minutes) * 60;
const data = await fetchDashboardData(values.prometheus, dashboard.panels, {
  start,
  end,
  namespace: values.namespace,
});
const out = join(root, values.out);
writeFileSync(out, dashboardSvg(dashboard.title, data, { start, end }));
process.stdout.write(
  `wrote ${out}: ${data.map((d) => `${d.panel.title} (${d.series.length} series)`).join(', ')}\n`,
);
