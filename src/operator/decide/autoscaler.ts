import { parseDuration } from '../../api/duration.ts';
import type { StreamJobSpec, StreamJobStatus } from '../../api/streamjob.ts';
import type { EventSpec } from './events.ts';
import type { LoadWindow, TaskLoad } from './load-window.ts';

export type AutoscalerStatus = NonNullable<StreamJobStatus['autoscaler']>;
type Measurements = NonNullable<AutoscalerStatus['measurements']>;
type StageMeasurement = NonNullable<Measurements['stages']>[number];

/** spec.autoscaler with its durations in milliseconds. */
export interface AutoscalerSettings {
  mode: 'apply' | 'recommend';
  targetUtilization: number;
  minParallelism: number;
  maxParallelism: number | undefined;
  metricsWindowMs: number;
  stabilizationMs: number;
  scaleDownDelayMs: number;
  catchUpMs: number;
}

export function autoscalerSettings(spec: StreamJobSpec): AutoscalerSettings | undefined {
  const a = spec.autoscaler;
  if (!a?.enabled) return undefined;
  return {
    mode: a.mode,
    targetUtilization: a.targetUtilization,
    minParallelism: a.minParallelism,
    maxParallelism: a.maxParallelism,
    metricsWindowMs: parseDuration(a.metricsWindow, 'spec.autoscaler.metricsWindow'),
    stabilizationMs: parseDuration(a.stabilization, 'spec.autoscaler.stabilization'),
    scaleDownDelayMs: parseDuration(a.scaleDownDelay, 'spec.autoscaler.scaleDownDelay'),
    catchUpMs: parseDuration(a.catchUpDuration, 'spec.autoscaler.catchUpDuration'),
  };
}

export interface AutoscalerInput {
  settings: AutoscalerSettings;
  /** The tasks per stage the job runs at now. */
  current: number;
  window: LoadWindow | undefined;
  /** Why no decision may be made now (a restore, an upgrade, a savepoint), if so. */
  busy: string | undefined;
  /** When the job was last deployed or rescaled (stabilization runs from the later of this and lastScaleTime). */
  deployedAt: Date | undefined;
  now: Date;
}

export interface AutoscalerDecision {
  status: AutoscalerStatus;
  events: EventSpec[];
}

/** What one stage needs: tasks, and the sentence that says why. */
interface StageNeed {
  stage: number;
  tasks: number;
  /** The most tasks that can help: one per input partition. */
  maxUseful: number;
  reason: string;
  measurement: StageMeasurement;
}

/** How often unchanged measurements are written to status again. */
export const measurementsRefreshMs = 60_000;

const round = (n: number) => Math.round(n);
const percent = (share: number) => Math.round(share * 100);

/**
 * The tasks one stage needs (DS2): the records that arrive per second (what
 * was processed plus the backlog's growth, over the window's latest quarter) and the backlog over the catch-up
 * time, at what one task does per busy second, each task at most
 * targetUtilization busy. Judged by the busiest task: its rate per busy
 * second is the stage's capacity per task, so skew counts against the stage.
 * A partition that alone keeps its task over the target cannot be spread by
 * more tasks: the stage then asks only for what the rest needs (plus that
 * partition's task), and never for fewer tasks than it has.
 */
export function stageNeed(
  stage: number,
  tasks: readonly TaskLoad[],
  settings: AutoscalerSettings,
  current: number,
): StageNeed {
  const processed = tasks.reduce((sum, t) => sum + t.inRate, 0);
  const lagRate = tasks.reduce((sum, t) => sum + t.lagRate, 0);
  const lag = tasks.reduce((sum, t) => sum + t.lag, 0);
  const partitions = tasks.reduce((sum, t) => sum + t.partitions, 0);
  const busiest = tasks.reduce((a, b) => (b.busy > a.busy ? b : a));
  const working = tasks.filter((t) => t.busy > 0.005 && t.inRate > 0);
  // Records per busy second of the busiest task (the mean of all when it did nothing measurable).
  const perBusySecond =
    busiest.busy > 0.005 && busiest.inRate > 0
      ? busiest.inRate / busiest.busy
      : working.length
        ? working.reduce((sum, t) => sum + t.inRate / t.busy, 0) / working.length
        : 0;
  // What arrives now: the latest quarter of the window, so that a load step inside it is not averaged away.
  const arrival = Math.max(
    0,
    tasks.reduce((sum, t) => sum + t.recentInRate + t.recentLagRate, 0),
  );
  const catchUpSeconds = settings.catchUpMs / 1000;
  const measurement: StageMeasurement = {
    stage,
    tasks: tasks.length,
    recordsPerSecond: round(processed),
    busiestTask: `s${stage}-t${busiest.task}`,
    busiestBusyPercent: percent(busiest.busy),
    backpressurePercent: percent(busiest.backpressure),
    recordsPerBusySecond: round(perBusySecond),
    lagRecords: round(lag),
    lagRecordsPerSecond: round(lagRate),
  };
  const maxUseful = Math.max(1, partitions);
  if (perBusySecond === 0) {
    return { stage, tasks: 1, maxUseful, measurement, reason: `stage ${stage} idle (no records processed)` };
  }
  const needed = arrival + lag / catchUpSeconds;
  let wanted = Math.max(1, Math.ceil(needed / (perBusySecond * settings.targetUtilization)));
  const growing = lagRate > 0 ? `, lag growing ${round(lagRate)} rec/s` : '';
  const head = `stage ${stage} busiest task ${measurement.busiestTask} ${measurement.busiestBusyPercent}% busy at ${round(processed)} rec/s${growing}`;
  let reason = `${head}; ${lag ? `${round(lag)} records to read within ${catchUpSeconds}s, ` : ''}${round(perBusySecond)} rec/s per busy task second`;
  // A partition that alone keeps a task over the target: no parallelism spreads it (a partition is read by
  // one task). More tasks only for what the rest needs (plus that partition's task); fewer would pile more
  // onto the task that holds it.
  // The partition's rate is known exactly only for a task that reads one partition: its own rate.
  const hot = tasks
    .filter((t) => t.partitions === 1)
    .map((t) => ({
      partition: `of s${stage}-t${t.task}`,
      arrival: t.recentInRate + Math.max(0, t.recentLagRate),
      lag: t.lag,
    }))
    .reduce<{ partition: string; arrival: number; lag: number } | undefined>(
      (a, b) => (!a || b.arrival > a.arrival ? b : a),
      undefined,
    );
  const hotShare = hot ? hot.arrival / perBusySecond : 0;
  if (hot && hotShare > settings.targetUtilization) {
    // Its task's backlog is that partition's: the rest is what the other partitions bring and hold.
    const rest = Math.max(0, needed - hot.arrival - hot.lag / catchUpSeconds);
    // Less than a tenth of a task's worth is the two rates' measurement noise, not load that needs a task.
    const forTheRest = Math.max(0, Math.ceil(rest / (perBusySecond * settings.targetUtilization) - 0.1)) + 1;
    wanted = Math.max(current, forTheRest);
    reason = `${head}; partition ${hot.partition} alone brings ${round(hot.arrival)} rec/s, ${percent(hotShare)}% of a task, which more tasks would not spread`;
  }
  return { stage, tasks: Math.min(wanted, maxUseful), maxUseful, measurement, reason };
}

/**
 * The autoscaler's decision for one pass (a pure function of the window of
 * measurements, the settings and its own status): the recommendation with
 * its reason, and in mode apply the parallelism the job is held at. Scale-up
 * at once; scale-down once the lower recommendation held scaleDownDelay; no
 * change while `busy`, within stabilization of the last scaling or
 * deployment, or before half the metrics window is measured.
 */
export function decideAutoscaler(
  previous: AutoscalerStatus | undefined,
  input: AutoscalerInput,
): AutoscalerDecision {
  const { settings, current, window, now } = input;
  const status: AutoscalerStatus = { ...(previous ?? {}) };
  const events: EventSpec[] = [];
  if (settings.mode === 'recommend') delete status.parallelism;
  if (!window || window.spanMs < settings.metricsWindowMs / 2) return { status, events };

  const stages = [...new Set(window.tasks.map((t) => t.stage))].sort((a, b) => a - b);
  // Every task of every stage measured, or nothing is decided: a stage seen through some of its tasks (the
  // others not answering yet after a rescale) looks smaller than it is, and would be scaled down under load.
  if (stages.some((s) => window.tasks.filter((t) => t.stage === s).length < current))
    return { status, events };
  const needs = stages.map((s) =>
    stageNeed(
      s,
      window.tasks.filter((t) => t.stage === s),
      settings,
      current,
    ),
  );
  const widest = needs.reduce((a, b) => (b.tasks > a.tasks ? b : a));
  const sourcePartitions = needs[0]?.maxUseful ?? 1;
  const upper = Math.min(settings.maxParallelism ?? sourcePartitions, 4096);
  const target = Math.max(settings.minParallelism, Math.min(upper, widest.tasks));
  const bound =
    target !== widest.tasks
      ? ` (bounded to ${settings.minParallelism}–${upper}${settings.maxParallelism === undefined ? `, the source's ${sourcePartitions} partitions` : ''})`
      : '';
  const ineffective =
    settings.mode === 'apply' && target > current ? ineffectiveScaleUp(status, current, needs) : undefined;
  const reason =
    target === current
      ? `${widest.reason}; ${current} tasks hold it${bound}`
      : `${widest.reason}; ${current} → ${target} tasks${bound}${ineffective ? `; held: ${ineffective}` : ''}`;
  const changed = status.recommendation?.parallelism !== target;
  // The figures move every poll; status takes them when the recommendation changes, and at most once a
  // refresh period otherwise, so an autoscaled job costs a status write a minute, not one a poll.
  const shownAt = status.measurements?.time ? new Date(status.measurements.time).getTime() : 0;
  if (changed || now.getTime() - shownAt >= measurementsRefreshMs) {
    status.measurements = {
      windowSeconds: Math.round(window.spanMs / 1000),
      stages: needs.map((n) => n.measurement),
      time: now.toISOString(),
    };
    status.recommendation = { parallelism: target, reason, time: now.toISOString() };
  }

  if (target < current) status.scaleDownSince ??= now.toISOString();
  else delete status.scaleDownSince;

  if (settings.mode === 'recommend') {
    if (changed)
      events.push({
        type: 'Normal',
        reason: 'AutoscalerRecommendation',
        message: `recommends ${target} tasks per stage (mode recommend, nothing changes): ${reason}`,
      });
    return { status, events };
  }
  if (target === current) return { status, events };
  const hold = holdReason(status, input, target);
  if (hold) return { status, events };
  if (ineffective) return { status, events };
  status.parallelism = target;
  status.lastScaleTime = now.toISOString();
  delete status.scaleDownSince;
  if (target > current) {
    status.lastScaleUp = {
      from: current,
      to: target,
      stage: widest.stage,
      recordsPerSecond: widest.measurement.recordsPerSecond ?? 0,
    };
  } else delete status.lastScaleUp;
  events.push({
    type: 'Normal',
    reason: target > current ? 'AutoscalerScaleUp' : 'AutoscalerScaleDown',
    message: `rescaling ${current} → ${target} tasks per stage: ${reason}`,
  });
  return { status, events };
}

/**
 * A scale-up after a scale-up that did not raise what the stage processes:
 * its tasks share something that does not grow with them (the node's cores,
 * a downstream system), so more tasks would only cost a rescale. Effective
 * is at least a tenth of the gain the added tasks promised.
 */
function ineffectiveScaleUp(
  status: AutoscalerStatus,
  current: number,
  needs: readonly StageNeed[],
): string | undefined {
  const last = status.lastScaleUp;
  if (
    !last ||
    last.to !== current ||
    last.from === undefined ||
    last.to === undefined ||
    last.from >= last.to
  )
    return undefined;
  const before = last.recordsPerSecond ?? 0;
  const now = needs.find((n) => n.stage === last.stage)?.measurement.recordsPerSecond ?? 0;
  const promised = (before * (last.to - last.from)) / last.from;
  if (before <= 0 || now - before >= promised / 10) return undefined;
  return `the scale-up ${last.from} → ${last.to} raised stage ${last.stage} from ${before} to ${now} rec/s, not the ${Math.round(before + promised)} more tasks promise: more tasks do not help here`;
}

/** Why a change of parallelism waits, if it does. */
function holdReason(status: AutoscalerStatus, input: AutoscalerInput, target: number): string | undefined {
  const { settings, now } = input;
  if (input.busy) return input.busy;
  const since = Math.max(
    status.lastScaleTime ? new Date(status.lastScaleTime).getTime() : 0,
    input.deployedAt?.getTime() ?? 0,
  );
  if (now.getTime() - since < settings.stabilizationMs) return 'stabilizing';
  if (target < input.current) {
    const lowerSince = status.scaleDownSince ? new Date(status.scaleDownSince).getTime() : now.getTime();
    if (now.getTime() - lowerSince < settings.scaleDownDelayMs) return 'scale-down delay';
  }
  return undefined;
}
