/**
 * The autoscaler on the local harness (issue 35): a load step and back, with
 * a load generator.
 *
 * A keyed-count-sum job spends `--work-micros` of CPU on each record (a busy
 * loop), so one task's capacity is known: the autoscaler's own measurement
 * (records per busy second) is printed. It reads a 12-partition topic at
 * parallelism 1 with spec.autoscaler on. The load runs at `--base` rec/s,
 * steps to 3 × base, then back to base:
 *
 * - step up: how many scaling decisions, to which parallelism, how long from
 *   the step to the last of them Running, each rescale's downtime (from the
 *   decision's Event to Running again: the baseline every scaling pays), and
 *   when the backlog fell under one second of input, against the goal
 *   catchUpDuration + the rescale downtime, as a ratio;
 * - step down: how many scale-downs, when (against scaleDownDelay), to which
 *   parallelism;
 * - exactly once: every key's count and sum in the committed output.
 *
 * This machine has 2 cores for the harness, Kafka, MinIO and every pod: tasks
 * share them, so a task's capacity falls as tasks are added; the figures say
 * so where it shows.
 *
 * With `--keys 1` every record goes to one partition: the skew case, where
 * more tasks cannot help and the autoscaler must not scale (its reason says
 * why).
 *
 * With `--noisy-minutes N` the load is instead 3 × base ± 30 %, changing every
 * 30 s, for N minutes: how many scalings (the goal is at most one).
 *
 * Usage: source .weir/harness/env && node bench/autoscaler.ts [--base 300] [--work-micros 1000] [--step-seconds 120] [--keys 96]
 */
import { parseArgs } from 'node:util';
import { requireEnv } from '../e2e/support/cluster.ts';
import { committedCountSumProblems, keyedInput } from '../e2e/support/committed-state.ts';
import { startJobNamespace, stopJobNamespace } from '../e2e/support/job-suite.ts';
import { createTopics, openWriter, uniqueName } from '../e2e/support/kafka-topics.ts';
import { autoscaledCountSumJob } from '../e2e/support/streamjobs.ts';
import type { StreamJob } from '../src/api/streamjob.ts';

const { values } = parseArgs({
  options: {
    base: { type: 'string', default: '300' },
    'work-micros': { type: 'string', default: '1000' },
    'step-seconds': { type: 'string', default: '120' },
    /** Keys of the input; 1 puts every record in one partition (the skew case: no scale-up can help). */
    keys: { type: 'string', default: '96' },
    /** Instead of the step: a noisy load around 3 × base (±30 % every 30 s) for this many minutes. */
    'noisy-minutes': { type: 'string' },
  },
});
const base = Number(values.base);
const workMicros = Number(values['work-micros']);
const stepMs = Number(values['step-seconds']) * 1000;
const partitions = 12;
const keys = Number(values.keys);
const catchUp = 60;
const scaleDownDelay = 60;

const suite = await startJobNamespace('bench-autoscaler', { WEIR_STATUS_POLL_INTERVAL: '2s' });
const { cluster, namespace, jobs } = suite;

interface Point {
  atMs: number;
  phase: string;
  tasks: number;
  held: number | undefined;
  lag: number | undefined;
  reason: string | undefined;
}

try {
  const input = uniqueName('as-in');
  const output = uniqueName('as-out');
  await createTopics({ name: input, partitions }, { name: output, partitions });
  await jobs.create(
    autoscaledCountSumJob('as', {
      input,
      output,
      workMicros,
      storageUrl: `s3://${requireEnv('WEIR_S3_BUCKET')}/bench-autoscaler`,
      autoscaler: {
        targetUtilization: 0.7,
        metricsWindow: '30s',
        stabilization: '20s',
        scaleDownDelay: `${scaleDownDelay}s`,
        catchUpDuration: `${catchUp}s`,
      },
    }),
  );
  await jobs.waitFor('as', 'Running', (j) => j.status?.phase === 'Running', 120_000);

  // The load: `rate` rec/s in batches every 100 ms; the rate changes at the phase boundaries. Bounded by time.
  let rate = base;
  let produced = 0;
  let stop = false;
  const started = Date.now();
  const writer = await openWriter(input);
  const load = (async () => {
    while (!stop && Date.now() - started < 3 * stepMs + 1_200_000) {
      const n = Math.round(rate / 10);
      await writer.write(keyedInput(produced, n, keys));
      produced += n;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();

  const timeline: Point[] = [];
  const sample = async () => {
    const job = await jobs.get('as');
    timeline.push({
      atMs: Date.now() - started,
      phase: job.status?.phase ?? '-',
      tasks: job.status?.tasks?.total ?? 0,
      held: job.status?.autoscaler?.parallelism,
      lag: job.status?.checkpoint?.lagRecords,
      reason: job.status?.autoscaler?.recommendation?.reason,
    });
    return job;
  };
  const until = async (endMs: number) => {
    let last: StreamJob | undefined;
    while (Date.now() - started < endMs) {
      last = await sample();
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return last;
  };

  const noisyMs = values['noisy-minutes'] ? Number(values['noisy-minutes']) * 60_000 : undefined;
  let stepAt: number;
  let downAt: number;
  let last: StreamJob | undefined;
  if (noisyMs !== undefined) {
    stepAt = Date.now() - started;
    for (let phase = 0; Date.now() - started < stepAt + noisyMs; phase++) {
      rate = 3 * base * (phase % 2 === 0 ? 1.3 : 0.7);
      await until(Math.min(stepAt + noisyMs, Date.now() - started + 30_000));
    }
    downAt = Date.now() - started;
    last = await sample();
  } else {
    await until(stepMs); // base load
    stepAt = Date.now() - started;
    rate = 3 * base;
    await until(2 * stepMs);
    downAt = Date.now() - started;
    rate = base;
    last = await until(3 * stepMs + scaleDownDelay * 1000);
  }
  stop = true;
  await load;
  await writer.close();

  const events = (
    await cluster.core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.uid=${last?.metadata.uid}`,
    })
  ).items
    .sort((a, b) => Number(a.metadata?.resourceVersion) - Number(b.metadata?.resourceVersion))
    .map((e) => ({
      atMs:
        new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime() - started,
      reason: e.reason ?? '',
      message: e.message ?? '',
    }));
  const scalings = events.filter((e) => e.reason.startsWith('AutoscalerScale'));
  // Each rescale's downtime: from its Event to the job Running again at the new parallelism.
  const downtimes = scalings.map((e) => {
    const to = Number(/→ (\d+) tasks/.exec(e.message)?.[1]);
    const back = timeline.find((p) => p.atMs > e.atMs && p.phase === 'Running' && p.tasks === to);
    return { to, ms: back ? back.atMs - e.atMs : Number.NaN };
  });
  const ups = scalings.filter((e) => e.reason === 'AutoscalerScaleUp' && e.atMs >= stepAt && e.atMs < downAt);
  const downs = scalings.filter((e) => e.reason === 'AutoscalerScaleDown' && e.atMs >= downAt);
  const lastUp = ups.at(-1);
  const lastUpRunning = lastUp ? downtimes[scalings.indexOf(lastUp)] : undefined;
  // The backlog under one second of input (3 × base) after the last scale-up.
  const caughtUp = timeline.find(
    (p) =>
      p.atMs > (lastUp?.atMs ?? stepAt) &&
      p.phase === 'Running' &&
      (p.lag ?? Number.POSITIVE_INFINITY) < 3 * base,
  );
  const maxDowntime = Math.max(0, ...downtimes.map((d) => d.ms).filter((ms) => Number.isFinite(ms)));
  const goalMs = catchUp * 1000 + maxDowntime;
  const catchUpMs = caughtUp ? caughtUp.atMs - stepAt : Number.NaN;
  const problems = await committedCountSumProblems(output, partitions, produced, keys);
  const measured = last?.status?.autoscaler?.measurements?.stages?.[0];
  const during = timeline.filter((p) => p.atMs >= stepAt && p.atMs < downAt).map((p) => p.tasks);

  const out = [
    `autoscaler bench: base ${base} rec/s, step to ${3 * base} rec/s, ${workMicros} µs of CPU per record, 12 partitions, ${keys} key(s)`,
    `  one task's measured rate: ${measured?.recordsPerBusySecond ?? '?'} rec per busy second (last window)`,
    `  step up: ${ups.length} decision(s): ${ups.map((e) => `${(e.atMs - stepAt) / 1000}s ${/(\d+ → \d+)/.exec(e.message)?.[1]}`).join(', ')}`,
    `  rescale downtime (decision → Running): ${downtimes.map((d) => `→${d.to}: ${(d.ms / 1000).toFixed(1)}s`).join(', ')}`,
    `  last scale-up Running ${lastUpRunning ? ((lastUp?.atMs ?? 0) - stepAt + lastUpRunning.ms) / 1000 : '?'}s after the step`,
    `  backlog under 1 s of input ${(catchUpMs / 1000).toFixed(1)}s after the step; goal catchUpDuration + downtime = ${(goalMs / 1000).toFixed(1)}s; ratio ${(catchUpMs / goalMs).toFixed(2)}`,
    `  step down: ${downs.length} decision(s): ${downs.map((e) => `${(e.atMs - downAt) / 1000}s after the step ${/(\d+ → \d+)/.exec(e.message)?.[1]}`).join(', ')} (scaleDownDelay ${scaleDownDelay}s)`,
    `  tasks during the step: ${Math.min(...during)}–${Math.max(...during)}; recommendation at the step's end: ${timeline.filter((p) => p.atMs < downAt).at(-1)?.reason ?? '-'}`,
    `  exactly once over ${produced} records: ${problems.length ? problems.slice(0, 5).join('; ') : 'every key counted 1..n and summed once'}`,
  ];
  if (noisyMs !== undefined) {
    out.splice(
      2,
      out.length - 3,
      `  noisy load ${3 * base} rec/s ± 30 % every 30 s for ${noisyMs / 60_000} min: ${scalings.length} scaling(s) (goal: at most 1); tasks ${Math.min(...during)}–${Math.max(...during)}`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
  for (const e of scalings)
    process.stdout.write(`    ${(e.atMs / 1000).toFixed(1)}s ${e.reason}: ${e.message}\n`);
} finally {
  await stopJobNamespace(suite);
}
