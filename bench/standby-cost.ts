/**
 * What a standby costs (issue 32): the CPU a standby TaskManager spends per
 * changelog record it applies, and its memory, beside the active
 * TaskManager's CPU per input record, measured in the same run on the
 * harness's Kafka and MinIO.
 *
 * One active TaskManager (keyed-count-sum, one task, 1 s checkpoints, state
 * on disk) and one standby TaskManager of the same task run as processes.
 * `--records` input records over `--keys` keys are written in batches; once
 * the active task has output all of them and the standby has applied the
 * changelog to its end, each process's CPU time (utime + stime from /proc)
 * since the load began, its resident set and its state directory are read.
 * With the key count below the records per interval, the changelog holds
 * fewer records than the input (one per changed key per checkpoint), which is
 * the point of logging at checkpoints.
 *
 * Usage: source .weir/harness/env && node bench/standby-cost.ts [--records 400000] [--keys 100000]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { repositoryRoot } from '../e2e/support/cli.ts';
import { createTopics, produce, readCommitted, uniqueName } from '../e2e/support/kafka-topics.ts';
import { type TaskManagerProcess, TaskManagers } from '../e2e/support/taskmanager-process.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '400000' },
    keys: { type: 'string', default: '100000' },
  },
});
const records = Number(values.records);
const keys = Number(values.keys);
const partitions = 4;
const token = randomBytes(16).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** utime + stime of the process, in milliseconds. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1000;
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

function stateMb(pid: number): number {
  const dir = `${process.env.TMPDIR ?? '/tmp'}/weir-state/${pid}`;
  try {
    return Number(execFileSync('du', ['-sk', dir]).toString().split('\t')[0]) / 1024;
  } catch {
    return 0;
  }
}

async function standbyStatus(tm: TaskManagerProcess) {
  const response = await fetch(`${await tm.controlUrl()}/v1/status`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  const body = (await response.json()) as { standby?: { applied: number; lag: number | null }[] };
  return body.standby?.[0];
}

const taskManagers = new TaskManagers();
try {
  const input = uniqueName('sbc-in');
  const output = uniqueName('sbc-out');
  await createTopics({ name: input, partitions }, { name: output, partitions });
  const env = {
    WEIR_ARGS: JSON.stringify({ input, output }),
    WEIR_ENTRY: `${repositoryRoot}/src/jobs/keyed-count-sum.ts`,
  };
  const settings = {
    job: uniqueName('sbc'),
    runId: 'r1',
    input,
    output,
    parallelism: 1,
    tasks: [0],
    interval: '1s',
    timeout: '10s',
    token,
  };
  const active = taskManagers.start(settings, env);
  const standby = taskManagers.start(settings, { ...env, WEIR_STANDBY: 'true' });
  await standby.waitForLog(
    'tailing',
    (l) => l.msg === 'standby: snapshots loaded; tailing the changelog',
    60_000,
  );
  await active.waitForLog('restored', (l) => l.msg === 'restored', 60_000);
  const activePid = active.child.pid as number;
  const standbyPid = standby.child.pid as number;
  const before = { active: cpuMs(activePid), standby: cpuMs(standbyPid) };
  const idleRss = rssMb(standbyPid);
  const started = Date.now();
  for (let from = 0; from < records; from += 20_000) {
    const n = Math.min(20_000, records - from);
    await produce(
      input,
      Array.from({ length: n }, (_, i) => ({ key: `k${(from + i) % keys}`, value: `v${from + i}` })),
    );
  }
  await readCommitted(output, partitions, { expected: records, timeoutMs: 600_000, quietMs: 0 });
  const processedMs = Date.now() - started;
  // The standby has applied everything once its lag is 0 and its count stops growing.
  let status = await standbyStatus(standby);
  for (let i = 0; i < 600; i++) {
    await sleep(1000);
    const next = await standbyStatus(standby);
    if (next?.lag === 0 && next.applied === status?.applied) break;
    status = next;
  }
  const after = { active: cpuMs(activePid), standby: cpuMs(standbyPid) };
  const applied = status?.applied ?? 0;
  const activeCpu = after.active - before.active;
  const standbyCpu = after.standby - before.standby;
  console.log(
    `\n${records.toLocaleString()} input records over ${keys.toLocaleString()} keys, one task, 1 s checkpoints, state on disk; processed in ${(processedMs / 1000).toFixed(1)} s`,
  );
  console.log('| | active TaskManager | standby TaskManager |');
  console.log('|---|---:|---:|');
  console.log(
    `| records handled | ${records.toLocaleString()} input | ${applied.toLocaleString()} changelog |`,
  );
  console.log(`| CPU | ${(activeCpu / 1000).toFixed(1)} s | ${(standbyCpu / 1000).toFixed(1)} s |`);
  console.log(
    `| CPU per record handled | ${((activeCpu * 1000) / records).toFixed(1)} µs | ${((standbyCpu * 1000) / Math.max(1, applied)).toFixed(1)} µs |`,
  );
  console.log(
    `| CPU per input record | ${((activeCpu * 1000) / records).toFixed(1)} µs | ${((standbyCpu * 1000) / records).toFixed(1)} µs |`,
  );
  console.log(
    `| resident set at the end | ${rssMb(activePid).toFixed(0)} MB | ${rssMb(standbyPid).toFixed(0)} MB (idle: ${idleRss.toFixed(0)} MB) |`,
  );
  console.log(
    `| state directory | ${stateMb(activePid).toFixed(0)} MB | ${stateMb(standbyPid).toFixed(0)} MB |`,
  );
  console.log(`\nstandby CPU against the active's, same run: ${(standbyCpu / activeCpu).toFixed(2)}×`);
  active.signal('SIGTERM');
  standby.signal('SIGTERM');
  await Promise.all([active.exited, standby.exited]);
} finally {
  taskManagers.killAll();
}
