import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JobDefinition } from '../sdk/pipeline.ts';
import { RuntimeError } from './errors.ts';

function isJobDefinition(value: unknown): value is JobDefinition {
  const v = value as Partial<JobDefinition> | undefined;
  return !!v && typeof v.sourceId === 'string' && Array.isArray(v.stages) && typeof v.sinkId === 'string';
}

/**
 * Loads a job module: its `default` or `job` export is a pipeline built with
 * the SDK, or a function of the StreamJob's args that returns one.
 */
export async function loadJobModule(entry: string, args: Record<string, unknown>): Promise<JobDefinition> {
  const path = isAbsolute(entry) ? entry : resolve(entry);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new RuntimeError(
      'JOB_MODULE_LOAD_FAILED',
      `cannot load job module ${path}: ${(error as Error).message}`,
      false,
      {
        cause: error,
      },
    );
  }
  const exported = module.default ?? module.job;
  const job = typeof exported === 'function' ? await (exported as (a: unknown) => unknown)(args) : exported;
  if (!isJobDefinition(job)) {
    throw new RuntimeError(
      'JOB_MODULE_INVALID',
      `job module ${path} must export (as default or "job") a pipeline from Pipeline.from(...).to(...), or a function of args returning one`,
      false,
    );
  }
  return job;
}
