/** One panel of the Grafana dashboard JSON, as far as drawing it needs. */
export interface Panel {
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig?: { defaults?: { unit?: string } };
  targets: { expr: string; legendFormat?: string }[];
}

export type DashboardData = {
  panel: Panel;
  series: { name: string; points: [number, number][] }[];
}[];

const colors = ['#73bf69', '#f2cc0c', '#5794f2', '#ff780a', '#b877d9', '#f2495c'];
const column = 40; // px per Grafana grid column (24 columns)
const row = 30; // px per Grafana grid row
const xmlText = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** A value as the panel's unit reads: bytes in MiB, seconds, rates and counts with k and M. */
export function formatValue(value: number, unit: string | undefined): string {
  const short = (v: number) =>
    Math.abs(v) >= 1e6
      ? `${(v / 1e6).toFixed(1)}M`
      : Math.abs(v) >= 1e3
        ? `${(v / 1e3).toFixed(1)}k`
        : `${+v.toFixed(2)}`;
  if (unit === 'bytes') return `${(value / 2 ** 20).toFixed(1)} MiB`;
  if (unit === 's') return `${+value.toFixed(2)} s`;
  if (unit === 'ops') return `${short(value)}/s`;
  return short(value);
}

/** The dashboard as an SVG: each panel at its grid position, each series a line over [start, end]. */
export function dashboardSvg(
  title: string,
  data: DashboardData,
  range: { start: number; end: number },
): string {
  const height = Math.max(...data.map((d) => d.panel.gridPos.y + d.panel.gridPos.h), 0) * row + 50;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${24 * column}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<title>${xmlText(title)}</title>`,
    `<rect width="100%" height="100%" fill="#111217"/>`,
    `<text x="12" y="28" fill="#ccccdc" font-size="16">${xmlText(title)}</text>`,
  ];
  for (const { panel, series } of data) {
    const x = panel.gridPos.x * column + 6;
    const y = panel.gridPos.y * row + 44;
    const w = panel.gridPos.w * column - 12;
    const h = panel.gridPos.h * row - 12;
    const unit = panel.fieldConfig?.defaults?.unit;
    parts.push(
      `<g transform="translate(${x},${y})">`,
      `<rect width="${w}" height="${h}" rx="3" fill="#181b1f" stroke="#2c3235"/>`,
      `<text x="8" y="16" fill="#ccccdc" font-size="12">${xmlText(panel.title)}</text>`,
    );
    const values = series.flatMap((s) => s.points.map(([, v]) => v));
    const plot = { left: 58, top: 26, width: w - 70, height: h - 62 };
    if (values.length === 0) {
      parts.push(
        `<text x="${w / 2}" y="${h / 2}" fill="#8e8e8e" text-anchor="middle">No data</text>`,
        '</g>',
      );
      continue;
    }
    const low = Math.min(0, ...values);
    const high = Math.max(...values, low + 1e-9);
    const px = (t: number) => plot.left + ((t - range.start) / (range.end - range.start)) * plot.width;
    const py = (v: number) => plot.top + plot.height - ((v - low) / (high - low)) * plot.height;
    for (const v of [low, (low + high) / 2, high]) {
      parts.push(
        `<line x1="${plot.left}" x2="${plot.left + plot.width}" y1="${py(v)}" y2="${py(v)}" stroke="#2c3235"/>`,
        `<text x="${plot.left - 4}" y="${py(v) + 4}" fill="#8e8e8e" text-anchor="end">${xmlText(formatValue(v, unit))}</text>`,
      );
    }
    series.slice(0, colors.length).forEach((s, i) => {
      const color = colors[i] ?? '#ccccdc';
      const points = s.points.map(([t, v]) => `${px(t).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points}"/>`,
        `<rect x="${8 + (i % 3) * Math.floor(w / 3)}" y="${h - 30 + Math.floor(i / 3) * 13}" width="10" height="3" fill="${color}"/>`,
        `<text x="${22 + (i % 3) * Math.floor(w / 3)}" y="${h - 26 + Math.floor(i / 3) * 13}" fill="#ccccdc">${xmlText(s.name.slice(0, 40))}</text>`,
      );
    });
    parts.push('</g>');
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Each panel's queries over [start, end] from a Prometheus, $namespace standing for `namespace` and $streamjob for any. */
export async function fetchDashboardData(
  prometheus: string,
  panels: readonly Panel[],
  options: { start: number; end: number; namespace: string },
): Promise<DashboardData> {
  const step = Math.max(1, Math.floor((options.end - options.start) / 120));
  const data: DashboardData = [];
  for (const panel of panels) {
    const series: DashboardData[number]['series'] = [];
    for (const target of panel.targets) {
      const query = target.expr.replaceAll('$namespace', options.namespace).replaceAll('$streamjob', '.+');
      const params = new URLSearchParams({
        query,
        start: String(options.start),
        end: String(options.end),
        step: String(step),
      });
      const body = (await (await fetch(`${prometheus}/api/v1/query_range?${params}`)).json()) as {
        status: string;
        error?: string;
        data?: { result: { metric: Record<string, string>; values: [number, string][] }[] };
      };
      if (body.status !== 'success') throw new Error(`${panel.title}: ${query}: ${body.error}`);
      for (const result of body.data?.result ?? []) {
        const legend = (target.legendFormat ?? '').replace(
          /\{\{(\w+)\}\}/g,
          (_, l: string) => result.metric[l] ?? '',
        );
        series.push({
          name: legend || JSON.stringify(result.metric),
          points: result.values
            .map(([t, v]) => [t, Number(v)] as [number, number])
            .filter(([, v]) => Number.isFinite(v)),
        });
      }
    }
    data.push({ panel, series });
  }
  return data;
}
