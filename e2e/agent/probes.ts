import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { V1Container, V1Probe } from '@kubernetes/client-node';

export type ProbeResult = { ok: true } | { ok: false; message: string };

function resolvePort(port: number | string | undefined, container: V1Container): number | undefined {
  if (typeof port === 'number') return port;
  if (port === undefined) return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** Runs one probe against a container at the pod IP (exec probes enter the container's namespaces). */
export function runProbe(
  probe: V1Probe,
  container: V1Container,
  podIP: string,
  pid: number,
): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) {
    const port = resolvePort(probe.httpGet.port as number | string, container);
    if (port === undefined)
      return Promise.resolve({ ok: false, message: `unknown port ${probe.httpGet.port}` });
    const headers = Object.fromEntries((probe.httpGet.httpHeaders ?? []).map((h) => [h.name, h.value]));
    return new Promise((resolve) => {
      const req = request(
        {
          host: probe.httpGet?.host || podIP,
          port,
          path: probe.httpGet?.path ?? '/',
          headers,
          timeout: timeoutMs,
        },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          resolve(
            status >= 200 && status < 400
              ? { ok: true }
              : { ok: false, message: `HTTP probe failed with statuscode: ${status}` },
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms`)));
      req.on('error', (error) =>
        resolve({ ok: false, message: `Get "http://${podIP}:${port}": ${error.message}` }),
      );
      req.end();
    });
  }
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port as number | string, container);
    if (port === undefined)
      return Promise.resolve({ ok: false, message: `unknown port ${probe.tcpSocket.port}` });
    return new Promise((resolve) => {
      const socket = connect({ host: probe.tcpSocket?.host || podIP, port, timeout: timeoutMs });
      socket.once('connect', () => {
        socket.destroy();
        resolve({ ok: true });
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve({ ok: false, message: `dial tcp ${podIP}:${port}: timeout` });
      });
      socket.once('error', (error) =>
        resolve({ ok: false, message: `dial tcp ${podIP}:${port}: ${error.message}` }),
      );
    });
  }
  if (probe.exec?.command?.length) {
    const command = probe.exec.command;
    return new Promise((resolve) => {
      execFile(
        'nsenter',
        ['-t', String(pid), '-m', '-n', '--', ...command],
        { timeout: timeoutMs },
        (error, _out, err) =>
          resolve(
            error ? { ok: false, message: `exec probe failed: ${err || error.message}` } : { ok: true },
          ),
      );
    });
  }
  return Promise.resolve({ ok: false, message: 'probe has no handler (httpGet, tcpSocket or exec)' });
}

/** Counts consecutive results against the probe's thresholds, as the kubelet's prober does. */
export class ProbeTracker {
  private successes = 0;
  private failures = 0;
  state: boolean;
  lastMessage = '';

  private readonly successThreshold: number;
  private readonly failureThreshold: number;

  constructor(successThreshold: number, failureThreshold: number, initial: boolean) {
    this.successThreshold = successThreshold;
    this.failureThreshold = failureThreshold;
    this.state = initial;
  }

  record(result: ProbeResult): boolean {
    if (result.ok) {
      this.failures = 0;
      this.successes++;
      if (this.successes >= this.successThreshold) this.state = true;
    } else {
      this.successes = 0;
      this.failures++;
      this.lastMessage = result.message;
      if (this.failures >= this.failureThreshold) this.state = false;
    }
    return this.state;
  }
}

export interface ProberCallbacks {
  /** Readiness changed; the first call reports the initial state. */
  onReadiness(ready: boolean): void;
  /** Liveness crossed its failure threshold; called once. */
  onLivenessFailure(message: string): Promise<void>;
  /** While true no probe runs, as when the kubelet itself hangs (a frozen node); the container runs on. */
  paused?(): boolean;
}

/**
 * Runs a container's readiness and liveness probes on their schedules. A
 * probe still running when its next period starts is skipped, not stacked.
 */
export class ContainerProber {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly container: V1Container;
  private readonly target: { podIP: string; pid: number };
  private readonly callbacks: ProberCallbacks;
  private readonly onError: (error: unknown) => void;

  constructor(
    container: V1Container,
    target: { podIP: string; pid: number },
    callbacks: ProberCallbacks,
    onError: (error: unknown) => void,
  ) {
    this.container = container;
    this.target = target;
    this.callbacks = callbacks;
    this.onError = onError;
  }

  start(): void {
    const { readinessProbe, livenessProbe } = this.container;
    let ready = !readinessProbe;
    this.callbacks.onReadiness(ready);
    if (readinessProbe) {
      const tracker = new ProbeTracker(
        readinessProbe.successThreshold ?? 1,
        readinessProbe.failureThreshold ?? 3,
        false,
      );
      this.every(readinessProbe, async () => {
        const now = tracker.record(
          await runProbe(readinessProbe, this.container, this.target.podIP, this.target.pid),
        );
        if (now !== ready) {
          ready = now;
          this.callbacks.onReadiness(now);
        }
      });
    }
    if (livenessProbe) {
      const tracker = new ProbeTracker(1, livenessProbe.failureThreshold ?? 3, true);
      let failed = false;
      this.every(livenessProbe, async () => {
        const alive = tracker.record(
          await runProbe(livenessProbe, this.container, this.target.podIP, this.target.pid),
        );
        if (!alive && !failed) {
          failed = true;
          await this.callbacks.onLivenessFailure(tracker.lastMessage);
        }
      });
    }
  }

  stop(): void {
    for (const timer of this.timers.splice(0)) clearTimeout(timer);
  }

  private every(probe: V1Probe, run: () => Promise<void>): void {
    let busy = false;
    const tick = () => {
      if (busy || this.callbacks.paused?.()) return;
      busy = true;
      run()
        .catch(this.onError)
        .finally(() => {
          busy = false;
        });
    };
    const first = setTimeout(
      () => {
        tick();
        this.timers.push(setInterval(tick, (probe.periodSeconds ?? 10) * 1000));
      },
      (probe.initialDelaySeconds ?? 0) * 1000,
    );
    this.timers.push(first);
  }
}
