import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import type { TaskManagerReport } from '../../api/control-api.ts';
import type { StreamJobSnapshot } from '../../api/snapshot.ts';
import type { StreamJob } from '../../api/streamjob.ts';

/** "45s", "3m", "2h", "4d": how long ago, as kubectl prints ages. */
export function age(since: string | Date | undefined, now: Date): string {
  if (since === undefined) return '-';
  const seconds = Math.max(0, Math.floor((now.getTime() - new Date(since).getTime()) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 2 * 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/** Columns padded to their widest cell, two spaces apart, as kubectl get prints them. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** A message cut to `max` characters, on one line. */
export function oneLine(text: string | undefined, max = 80): string {
  if (!text) return '-';
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** What `kubectl weir status` shows of a job, as data (its -o json|yaml) and as a table row. */
export interface JobSummary {
  namespace: string;
  name: string;
  phase: string;
  parallelism: number;
  ready: string;
  checkpointAge: string;
  lag: number | null;
  restarts: number;
  lastFailure: string | null;
}

export function summarize(job: StreamJob, now: Date): JobSummary {
  const status = job.status;
  return {
    namespace: job.metadata.namespace ?? '',
    name: job.metadata.name ?? '',
    phase: status?.phase ?? 'Pending',
    parallelism: job.spec.parallelism,
    ready: `${status?.tasks?.ready ?? 0}/${status?.tasks?.total ?? job.spec.parallelism}`,
    checkpointAge: age(status?.checkpoint?.latestCompleted?.time, now),
    lag: status?.checkpoint?.lagRecords ?? null,
    restarts: status?.restarts?.count ?? 0,
    lastFailure: status?.restarts?.lastFailure?.message ?? null,
  };
}

export function statusTable(summaries: readonly JobSummary[], allNamespaces: boolean): string {
  const header = ['NAME', 'PHASE', 'PARALLELISM', 'READY', 'CHECKPOINT', 'LAG', 'RESTARTS', 'LAST FAILURE'];
  const rows = summaries.map((s) => [
    s.name,
    s.phase,
    String(s.parallelism),
    s.ready,
    s.checkpointAge,
    s.lag === null ? '-' : String(s.lag),
    String(s.restarts),
    oneLine(s.lastFailure ?? undefined, 60),
  ]);
  if (!allNamespaces) return table(header, rows);
  return table(
    ['NAMESPACE', ...header],
    rows.map((r, i) => [summaries[i]?.namespace ?? '', ...r]),
  );
}

/** How the job's latest change was rolled out: deployed, in progress, rolled back or failed. */
export function rollbackStatus(job: StreamJob): string {
  const status = job.status;
  const generation = job.metadata.generation ?? 0;
  const deployed = status?.deployment?.generation;
  const stable = status?.lastStableSpec?.generation;
  const upgrade = status?.upgrade;
  const lines = [
    `generation ${generation}; deployed: ${deployed ?? '-'}; last stable: ${stable ?? '-'}${stable !== undefined ? ` (${status?.lastStableSpec?.time})` : ''}`,
  ];
  if (upgrade) {
    const span = `generation ${upgrade.fromGeneration ?? '?'} → ${upgrade.toGeneration ?? '?'}`;
    const mode = upgrade.mode ? `, ${upgrade.mode}` : '';
    if (upgrade.step === 'RolledBack')
      lines.push(`rolled back: ${span}${mode}; generation ${stable ?? '?'} runs again`);
    else if (upgrade.step === 'Aborted')
      lines.push(`upgrade aborted: ${span}${mode} (no savepoint and no fallback); the old version runs`);
    else lines.push(`upgrade in progress: ${span}${mode}, step ${upgrade.step}`);
    if (upgrade.message) lines.push(`  ${upgrade.message}`);
  } else if (deployed === generation && stable === generation) {
    lines.push(`generation ${generation} is deployed and stable`);
  } else if (deployed === generation) {
    lines.push(`generation ${generation} is deployed, not yet stable`);
  } else {
    lines.push(`generation ${generation} is not deployed yet`);
  }
  return lines.join('\n');
}

/** `kubectl weir describe`: the job, its rollout, checkpoints, savepoints, failures, pods and events, on one screen. */
export function describe(
  job: StreamJob,
  seen: {
    pods: readonly V1Pod[];
    events: readonly CoreV1Event[];
    snapshots: readonly StreamJobSnapshot[];
    /** Each running TaskManager's own report, or why it could not be read. */
    reports: readonly { pod: string; report?: TaskManagerReport; error?: string }[];
  },
  now: Date,
): string {
  const { pods, events, snapshots, reports } = seen;
  const s = summarize(job, now);
  const status = job.status;
  const out = [
    `Name:         ${s.namespace}/${s.name}`,
    `Phase:        ${s.phase}   tasks ${s.ready} ready   parallelism ${s.parallelism}   run ${status?.run?.id ?? '-'}`,
    `Image:        ${job.spec.image}   entry ${job.spec.entry}`,
    `Checkpoint:   ${status?.checkpoint?.latestCompleted ? `#${status.checkpoint.latestCompleted.id}, ${s.checkpointAge} ago` : 'none yet'}   lag ${s.lag ?? '-'}   consecutive failures ${status?.checkpoint?.consecutiveFailures ?? 0}`,
    '',
    'Conditions:',
    ...(status?.conditions ?? []).map(
      (c) =>
        `  ${c.type.padEnd(12)} ${c.status.padEnd(6)} ${(c.reason ?? '').padEnd(18)} ${oneLine(c.message, 100)}`,
    ),
    '',
    'Rollout:',
    ...rollbackStatus(job)
      .split('\n')
      .map((l) => `  ${l}`),
    '',
    `Savepoints:   ${status?.savepointInProgress ? `taking ${status.savepointInProgress.id} (${status.savepointInProgress.reason})` : (status?.savepoints ?? []).length === 0 ? 'none' : ''}`.trimEnd(),
    ...(status?.savepoints ?? [])
      .slice(-5)
      .map(
        (p) =>
          `  ${p.id.padEnd(36)} ${(p.reason ?? '').padEnd(9)} ${age(p.time, now).padStart(4)} ago  ${p.path}`,
      ),
    ...(status?.lastSavepointFailure
      ? [`  failed: ${status.lastSavepointFailure.id}: ${oneLine(status.lastSavepointFailure.message, 100)}`]
      : []),
    '',
    `Snapshots:    ${snapshots.length === 0 ? 'none' : `${snapshots.length} (kubectl get streamjobsnapshots)`}`,
    ...snapshots.slice(-5).map((snapshot) => {
      const st = snapshot.status ?? {};
      const detail = st.state === 'Completed' ? st.path : oneLine(st.error ?? st.message, 70);
      return `  ${(snapshot.metadata.name ?? '').padEnd(36)} ${(st.state ?? 'New').padEnd(10)} ${(st.reason ?? '').padEnd(9)} ${age(snapshot.metadata.creationTimestamp, now).padStart(4)} ago  ${detail ?? ''}`.trimEnd();
    }),
    '',
    `Failures:     ${s.restarts} restart(s)`,
    ...(status?.restarts?.recentFailures ?? [])
      .slice(-5)
      .map((f) => `  ${age(f.time, now).padStart(4)} ago  ${oneLine(f.message, 110)}`),
    '',
    'TaskManagers:',
    ...pods.map((p) => {
      const container = p.status?.containerStatuses?.find((c) => c.name === 'taskmanager');
      const ready = p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      const role =
        p.metadata?.labels?.['weir.dev/standby'] === 'true' ? 'standby-at-start' : 'active-at-start';
      return `  ${(p.metadata?.name ?? '').padEnd(24)} ${(p.status?.phase ?? '-').padEnd(9)} ${ready ? 'ready' : 'not ready'}  ${role}  node ${p.spec?.nodeName ?? '-'}  restarts ${container?.restartCount ?? 0}`;
    }),
    '',
    "TaskManager reports (GET /v1/status on each pod's metrics port):",
    ...reports.flatMap(({ pod, report, error }) =>
      report ? reportLines(pod, report) : [`  ${pod.padEnd(24)} unavailable: ${oneLine(error, 90)}`],
    ),
    '',
    'Events:',
    ...events
      .slice(-10)
      .map(
        (e) =>
          `  ${age(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp, now).padStart(4)}  ${(e.type ?? '').padEnd(7)} ${(e.reason ?? '').padEnd(20)} ${oneLine(e.message, 100)}`,
      ),
  ];
  return out.join('\n');
}

/** One line per task of a TaskManager's own report: its state, checkpoint, commit age, lag and failures. */
function reportLines(pod: string, report: TaskManagerReport): string[] {
  const role =
    report.standbyLag !== undefined ? `standby, changelog lag ${report.standbyLag ?? '?'}` : 'active';
  const lines = [`  ${pod.padEnd(24)} run ${report.runId}  ${role}  ${report.tasks.length} task(s)`];
  for (const t of report.tasks) {
    const since =
      t.sinceCommitMs !== undefined
        ? `committed ${Math.round(t.sinceCommitMs / 1000)}s ago`
        : 'not restored yet';
    const warm = t.warmRestore
      ? `  ${t.warmRestore.warm ? 'warm restore' : `cold restore: ${oneLine(t.warmRestore.why, 60)}`}`
      : '';
    const resets = t.offsetResets?.length ? `  offset resets ${t.offsetResets.length}` : '';
    lines.push(
      `    s${t.stage ?? 0}-t${t.task}  ${t.state.padEnd(13)} checkpoint #${t.checkpointId}  ${since}  lag ${t.lag ?? '?'}  failures ${t.consecutiveFailures}${warm}${resets}`,
    );
  }
  return lines;
}
