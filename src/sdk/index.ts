/** Weir's pipeline SDK: what job modules import. */
export type { OutputRecord } from './executor.ts';
export { PoisonRecordError } from './executor.ts';
export { bytes, type Format, FormatError, formats, json, string } from './formats.ts';
export {
  type JobDefinition,
  type KafkaSink,
  type KafkaSource,
  type KeyedProcessFunction,
  Pipeline,
  PipelineDefinitionError,
  type PoisonRecordPolicy,
  type StreamRecord,
} from './pipeline.ts';
export { type MapState, mapState, type ValueState, valueState } from './state.ts';
export { type DriverInput, TestDriver } from './test-driver.ts';
