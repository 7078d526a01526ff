import {
  deployedSpecOf,
  type StreamJob,
  type StreamJobStatus,
  upgradeStepsUnderWay,
} from '../../api/streamjob.ts';
import { autoscalerSettings, decideAutoscaler } from './autoscaler.ts';
import type { EventSpec } from './events.ts';
import type { Observation } from './observation.ts';

/**
 * The autoscaler (spec.autoscaler) in a decide pass, before the upgrade
 * machine, on the status being decided (mutated in place): returns the job as
 * the machine must see it, with the parallelism the autoscaler holds in mode
 * apply, so that a scaling is the ordinary last-state rescale.
 */
export function autoscaleJob(pass: {
  job: StreamJob;
  status: StreamJobStatus;
  previous: StreamJobStatus;
  observation: Observation;
  now: Date;
}): { job: StreamJob; events: EventSpec[] } {
  const { job, status, previous, observation, now } = pass;
  const settings = autoscalerSettings(job.spec);
  if (!settings) {
    delete status.autoscaler;
    return { job, events: [] };
  }
  const deployed = deployedSpecOf({ spec: job.spec, status });
  const busy =
    previous.phase !== 'Running'
      ? `the job is ${previous.phase ?? 'starting'}`
      : status.upgrade && upgradeStepsUnderWay.has(status.upgrade.step)
        ? 'an upgrade is under way'
        : status.savepointInProgress
          ? 'a savepoint is being taken'
          : undefined;
  const decision = decideAutoscaler(status.autoscaler, {
    settings,
    current: deployed.parallelism,
    window: observation.load,
    busy,
    deployedAt: status.deployment?.time ? new Date(status.deployment.time) : undefined,
    now,
  });
  status.autoscaler = decision.status;
  const held = settings.mode === 'apply' ? decision.status.parallelism : undefined;
  const scaled = held === undefined ? job : { ...job, spec: { ...job.spec, parallelism: held } };
  return { job: scaled, events: decision.events };
}
