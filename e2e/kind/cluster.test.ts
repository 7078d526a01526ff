import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { installWeirChart } from '../support/chart.ts';
import { helm, kubectl, repositoryRoot } from '../support/cli.ts';
import { requireEnv, waitFor } from '../support/cluster.ts';

/**
 * The kind cluster from e2e/kind/up.sh, as a user's CI would use it: three
 * nodes of the node image built here, cluster DNS (which the local harness
 * lacks), pod traffic between nodes through the CNI agent, images loaded with
 * `kind load`, the harness's Kafka and MinIO reached by name as services
 * outside the cluster (e2e/kind/services.yaml), and the chart's operator
 * running from weir:dev.
 */
const skip = process.env.WEIR_KIND_CLUSTER
  ? false
  : 'needs the kind cluster: bash e2e/kind/up.sh, then source .weir/kind/env';

const namespace = 'weir-kind-smoke';
const scratch = mkdtempSync(join(tmpdir(), 'weir-kind-smoke-'));
const kubernetesVersion = /^KUBERNETES_VERSION=(\S+)$/m.exec(
  readFileSync(join(repositoryRoot, 'e2e/harness/versions.env'), 'utf8'),
)?.[1];
const image = 'docker.io/library/weir:dev';

/** A pod running `node -e script` from weir:dev on `node`, as the image's user; returns its name. */
async function nodePod(name: string, onNode: string, script: string, labels: Record<string, string> = {}) {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: {
      nodeName: onNode,
      restartPolicy: 'Never',
      containers: [{ name: 'main', image, imagePullPolicy: 'Never', command: ['node', '-e', script] }],
    },
  };
  const file = join(scratch, `${name}.json`);
  writeFileSync(file, JSON.stringify(pod));
  await kubectl('apply', '-f', file);
  return name;
}

/** Waits for pod `name` to reach one of `phases`; on a timeout the error holds `kubectl describe` of it. */
async function waitForPhase(name: string, phases: string[], timeoutMs = 120_000): Promise<string> {
  return waitFor(
    `pod ${name} in phase ${phases.join('/')}`,
    timeoutMs,
    async () => {
      const phase = await kubectl('-n', namespace, 'get', 'pod', name, '-o', 'jsonpath={.status.phase}');
      return phases.includes(phase) ? phase : undefined;
    },
    () => kubectl('-n', namespace, 'describe', 'pod', name),
  );
}

describe('kind cluster built here', { skip }, () => {
  before(async () => {
    await kubectl('delete', 'namespace', namespace, '--ignore-not-found', '--wait=true');
    await kubectl('create', 'namespace', namespace);
  });
  after(async () => {
    await helm('uninstall', 'weir', '--namespace', namespace, '--wait').catch(() => undefined);
    await kubectl('delete', 'namespace', namespace, '--ignore-not-found', '--wait=false');
  });

  it('has three Ready nodes at the harness’s Kubernetes version, on containerd', async () => {
    const nodes = JSON.parse(await kubectl('get', 'nodes', '-o', 'json')) as {
      items: {
        metadata: { name: string };
        status: {
          conditions: { type: string; status: string }[];
          nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string };
        };
      }[];
    };
    assert.equal(nodes.items.length, 3);
    for (const node of nodes.items) {
      assert.equal(
        node.status.conditions.find((c) => c.type === 'Ready')?.status,
        'True',
        node.metadata.name,
      );
      assert.equal(node.status.nodeInfo.kubeletVersion, kubernetesVersion, node.metadata.name);
      assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
    }
  });

  it('resolves Service names through CoreDNS, and pods on different nodes reach each other through a Service', async () => {
    const server = `require('node:http').createServer((q, s) => s.end(require('node:os').hostname())).listen(8080)`;
    await nodePod('echo', 'weir-e2e-worker', server, { app: 'echo' });
    await kubectl('-n', namespace, 'expose', 'pod', 'echo', '--port', '80', '--target-port', '8080');
    await waitForPhase('echo', ['Running']);
    const client = [
      `const dns = require('node:dns').promises;`,
      `(async () => {`,
      `  const api = await dns.lookup('kubernetes.default.svc.cluster.local');`,
      `  for (let i = 0; i < 60; i++) {`,
      `    try { const r = await fetch('http://echo.${namespace}.svc.cluster.local'); console.log(JSON.stringify({ api: api.address, echo: await r.text() })); return; }`,
      `    catch { await new Promise((r) => setTimeout(r, 1000)); }`,
      `  }`,
      `  process.exit(1);`,
      `})();`,
    ].join('\n');
    await nodePod('client', 'weir-e2e-worker2', client);
    assert.equal(
      await waitForPhase('client', ['Succeeded', 'Failed']),
      'Succeeded',
      await kubectl('-n', namespace, 'logs', 'client'),
    );
    const seen = JSON.parse(await kubectl('-n', namespace, 'logs', 'client')) as {
      api: string;
      echo: string;
    };
    const apiService = await kubectl(
      '-n',
      'default',
      'get',
      'service',
      'kubernetes',
      '-o',
      'jsonpath={.spec.clusterIP}',
    );
    assert.equal(seen.api, apiService, 'kubernetes.default resolves to the API Service');
    assert.equal(seen.echo, 'echo', 'the answer came from the pod on the other worker');
  });

  it('reaches the harness’s Kafka and MinIO by name through CoreDNS, and Kafka advertises that name to pods', async () => {
    const kafka = requireEnv('WEIR_POD_KAFKA_BOOTSTRAP');
    const minio = requireEnv('WEIR_POD_S3_ENDPOINT');
    // The TaskManagers' own Kafka client (librdkafka): the brokers it is told to use after bootstrapping are the
    // ones it reconnects to, so they must be the name too, not the host's address.
    const client = [
      `const Kafka = require('/opt/weir/node_modules/@confluentinc/kafka-javascript');`,
      `(async () => {`,
      `  const minio = await fetch(${JSON.stringify(`${minio}/minio/health/live`)});`,
      `  const producer = new Kafka.Producer({ 'metadata.broker.list': ${JSON.stringify(kafka)} });`,
      `  producer.connect({ timeout: 30000 }, (error, metadata) => {`,
      `    if (error) { console.error(String(error)); process.exit(1); }`,
      `    const brokers = metadata.brokers.map((b) => b.host + ':' + b.port);`,
      `    console.log(JSON.stringify({ minio: minio.status, brokers }));`,
      `    producer.disconnect();`,
      `  });`,
      `})().catch((error) => { console.error(String(error)); process.exit(1); });`,
    ].join('\n');
    await nodePod('services-by-name', 'weir-e2e-worker', client);
    const phase = await waitForPhase('services-by-name', ['Succeeded', 'Failed']);
    const logs = await kubectl('-n', namespace, 'logs', 'services-by-name');
    assert.equal(phase, 'Succeeded', logs);
    const seen = JSON.parse(logs) as { minio: number; brokers: string[] };
    assert.equal(seen.minio, 200, `MinIO's health at ${minio}`);
    assert.deepEqual(
      seen.brokers,
      [kafka],
      'the broker advertises its name on the listener the pod came in on',
    );
  });

  it('runs the chart’s operator from the loaded weir:dev image, ready on a worker', async () => {
    await installWeirChart('weir', namespace, [namespace], '--set', 'image.pullPolicy=Never');
    const pods = JSON.parse(
      await kubectl('-n', namespace, 'get', 'pods', '-l', 'app.kubernetes.io/name=weir', '-o', 'json'),
    ) as {
      items: {
        spec: { nodeName: string };
        status: { containerStatuses?: { ready: boolean; image: string }[] };
      }[];
    };
    assert.ok(pods.items.length > 0, 'operator pods');
    for (const pod of pods.items) {
      assert.ok(
        pod.status.containerStatuses?.every((c) => c.ready),
        JSON.stringify(pod.status),
      );
      assert.match(pod.spec.nodeName, /^weir-e2e-worker/);
    }
  });
});
