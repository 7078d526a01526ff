import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';

/**
 * A stand-in TaskManager for the operator's pod-management tests: it starts in
 * milliseconds and needs no Kafka, where the real runtime (tested with real
 * pods in e2e/suites/runtime/streamjob.test.ts) needs both. It is started by the
 * operator's own pod spec (image entrypoint + "taskmanager"), serves the
 * control port's health endpoints and the runtime's status shape, and lets
 * tests make it fail.
 *   GET  /healthz, /readyz
 *   GET  /v1/status                 (bearer token)
 *   POST /test/exit?code=N          (bearer token) exits with code N
 *   POST /test/unhealthy            (bearer token) fails /healthz from now on
 */
if (process.argv[2] !== 'taskmanager') {
  process.stderr.write(
    `taskmanager stand-in: expected the "taskmanager" command, got ${JSON.stringify(process.argv.slice(2))}\n`,
  );
  process.exit(64);
}
// The token is a file in WEIR_SECRETS_DIR in a pod (as the runtime reads it), a variable elsewhere.
const tokenFile = `${process.env.WEIR_SECRETS_DIR ?? '/nonexistent'}/WEIR_CONTROL_TOKEN`;
const token = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8') : process.env.WEIR_CONTROL_TOKEN;
const required = ['WEIR_JOB', 'WEIR_NAMESPACE', 'WEIR_RUN_ID', 'WEIR_TASKS', 'POD_IP'];
const missing = [...required.filter((name) => !process.env[name]), ...(token ? [] : ['WEIR_CONTROL_TOKEN'])];
if (missing.length) {
  process.stderr.write(`taskmanager stand-in: missing environment ${missing.join(', ')}\n`);
  process.exit(78);
}
const port = Number(process.env.WEIR_CONTROL_PORT ?? 8081);
let healthy = true;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://standin');
  if (url.pathname === '/healthz') {
    res.writeHead(healthy ? 200 : 500).end(healthy ? 'ok\n' : 'unhealthy\n');
    return;
  }
  if (url.pathname === '/readyz') {
    res.end('ok\n');
    return;
  }
  if (req.headers.authorization !== `Bearer ${token}`) {
    res.writeHead(401).end('unauthorized\n');
    return;
  }
  if (url.pathname === '/v1/status') {
    res.setHeader('Content-Type', 'application/json');
    res.end(
      JSON.stringify({
        job: process.env.WEIR_JOB,
        namespace: process.env.WEIR_NAMESPACE,
        runId: process.env.WEIR_RUN_ID,
        // The runtime's task shape, with nothing checkpointed: the operator's poll reads it as tasks restoring.
        tasks: (process.env.WEIR_TASKS ?? '').split(',').map((task) => ({
          task: Number(task),
          state: 'running',
          partitions: [],
          lastCheckpointId: 0,
          lastCheckpoint: null,
          committedAsOf: null,
          sinceCommitMs: null,
          consecutiveCheckpointFailures: 0,
        })),
        parallelism: Number(process.env.WEIR_PARALLELISM),
        pid: process.pid,
      }),
    );
    return;
  }
  if (req.method === 'POST' && url.pathname === '/test/exit') {
    const code = Number(url.searchParams.get('code') ?? '1');
    res.end('exiting\n', () => process.exit(code));
    return;
  }
  if (req.method === 'POST' && url.pathname === '/test/unhealthy') {
    healthy = false;
    res.end('unhealthy from now on\n');
    return;
  }
  res.writeHead(404).end('not found\n');
});
server.listen(port, process.env.POD_IP, () => {
  process.stdout.write(
    `${JSON.stringify({ msg: 'taskmanager stand-in ready', job: process.env.WEIR_JOB, tasks: process.env.WEIR_TASKS })}\n`,
  );
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
