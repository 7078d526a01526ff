import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { NodeAgent } from './agent.ts';
import { startControlServer } from './control-server.ts';

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    nodes: { type: 'string', default: '2' },
    'state-dir': { type: 'string' },
    'logs-dir': { type: 'string' },
    'mount-ledger': { type: 'string' },
    'image-map': { type: 'string' },
    'api-host': { type: 'string' },
    'api-port': { type: 'string', default: '6443' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'ca-cert': { type: 'string' },
    'control-port': { type: 'string', default: '10299' },
    'kubelet-version': { type: 'string', default: 'v0.0.0' },
    'pods-per-node': { type: 'string', default: '1100' },
  },
});

function required(name: keyof typeof values): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') {
    process.stderr.write(`weir node agent: --${name} is required\n`);
    process.exit(2);
  }
  return value;
}

const log = pino({ name: 'weir-node-agent' });
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(required('kubeconfig'));
const nodeCount = Number(values.nodes);
if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 16) {
  process.stderr.write(`weir node agent: --nodes must be an integer from 1 to 16, got "${values.nodes}"\n`);
  process.exit(2);
}

const agent = new NodeAgent(
  kubeConfig,
  {
    nodeCount,
    stateDir: required('state-dir'),
    logsDir: required('logs-dir'),
    mountLedger: required('mount-ledger'),
    imageMapFile: required('image-map'),
    apiServer: { host: required('api-host'), port: Number(values['api-port']) },
    tls: { certFile: required('tls-cert'), keyFile: required('tls-key'), caFile: required('ca-cert') },
    kubeletVersion: required('kubelet-version'),
    // Nominal figures: the scheduler needs capacity, and pods here are host processes.
    capacity: { cpu: '32', memory: '64Gi', pods: required('pods-per-node') },
  },
  log,
);

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping: killing pod processes and removing sandboxes');
  await agent.shutdown();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGHUP', () => {
  agent.reloadImages();
  log.info('image map reloaded');
});

await agent.start();
await startControlServer(agent, Number(values['control-port']));
log.info({ nodes: agent.nodeStates() }, 'node agent ready');
