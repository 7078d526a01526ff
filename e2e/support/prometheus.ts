import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { requireEnv, waitFor } from './cluster.ts';
import { freePort } from './operator.ts';

export interface PromSeries {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}

/**
 * A real Prometheus (built from its Go module by the harness, on the PATH of
 * its env file) for one suite: it scrapes the suite's operator, and the
 * TaskManager pods of its namespace found through Kubernetes service
 * discovery, relabelled as the chart's PodMonitor has the Prometheus Operator
 * do it; it evaluates `ruleFiles` every second.
 */
export class PrometheusProcess {
  readonly url: string;
  private readonly child: ChildProcess;
  private readonly dir: string;

  private constructor(url: string, child: ChildProcess, dir: string) {
    this.url = url;
    this.child = child;
    this.dir = dir;
  }

  static async start(options: { operatorPort: number; namespace: string; ruleFiles: string[] }) {
    const dir = mkdtempSync(join(tmpdir(), 'weir-prometheus-'));
    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: options.ruleFiles,
      scrape_configs: [
        {
          job_name: 'weir-operator',
          // As the chart's ServiceMonitor: the per-job series keep their own namespace label.
          honor_labels: true,
          static_configs: [{ targets: [`127.0.0.1:${options.operatorPort}`] }],
        },
        {
          job_name: 'weir-taskmanagers',
          kubernetes_sd_configs: [
            {
              role: 'pod',
              kubeconfig_file: requireEnv('KUBECONFIG'),
              namespaces: { names: [options.namespace] },
            },
          ],
          // What the PodMonitor of charts/weir/templates/podmonitor.yaml becomes: its selector, its port,
          // and the namespace and pod target labels the Prometheus Operator adds.
          relabel_configs: [
            {
              source_labels: [
                '__meta_kubernetes_pod_label_app_kubernetes_io_component',
                '__meta_kubernetes_pod_label_app_kubernetes_io_managed_by',
              ],
              regex: 'taskmanager;weir-operator',
              action: 'keep',
            },
            {
              source_labels: ['__meta_kubernetes_pod_container_port_name'],
              regex: 'metrics',
              action: 'keep',
            },
            { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
            { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
    const port = await freePort();
    const log = createWriteStream(join(dir, 'prometheus.log'));
    const child = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const prometheus = new PrometheusProcess(`http://127.0.0.1:${port}`, child, dir);
    await waitFor(`Prometheus to be ready (log: ${join(dir, 'prometheus.log')})`, 30_000, async () => {
      if (child.exitCode !== null)
        throw new Error(`prometheus exited ${child.exitCode}: see ${dir}/prometheus.log`);
      const response = await fetch(`${prometheus.url}/-/ready`).catch(() => undefined);
      return response?.ok;
    });
    return prometheus;
  }

  /** An instant query's series. */
  async query(expr: string): Promise<PromSeries[]> {
    const response = await fetch(`${this.url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { result: PromSeries[] };
    };
    if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
    return body.data?.result ?? [];
  }

  async alerts(): Promise<PromAlert[]> {
    const body = (await (await fetch(`${this.url}/api/v1/alerts`)).json()) as {
      data: { alerts: PromAlert[] };
    };
    return body.data.alerts;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
