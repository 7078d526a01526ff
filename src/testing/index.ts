/** Weir's test driver for job authors: runs a job's pipeline in-process, as a TaskManager would, without Kafka. */
export type { OutputRecord } from '../runtime/task/stage-output.ts';
export { PoisonRecordError } from '../runtime/task/stage-output.ts';
export { type DriverInput, TestDriver, type TestDriverOptions } from './test-driver.ts';
