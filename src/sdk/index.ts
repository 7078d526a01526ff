/** Weir's pipeline SDK: what job modules import. */
export { bytes, type Format, FormatError, formats, json, string } from './formats.ts';
export type {
  IntervalJoinOptions,
  JoinStream,
  JoinStreamSource,
  LateJoinRecords,
  Table,
  TableSource,
  TemporalJoinOptions,
  WindowJoinOptions,
} from './joins.ts';
export {
  type JobDefinition,
  type KafkaSink,
  type KafkaSource,
  type KeyedProcessFunction,
  Pipeline,
  PipelineDefinitionError,
  type PoisonRecordPolicy,
  type RepartitionFormats,
  type StreamRecord,
} from './pipeline.ts';
export { type MapState, mapState, type ValueState, valueState } from './state.ts';
export type { FiredTimer, TimeDomain, TimerService, WatermarkStrategy } from './time.ts';
export {
  type AggregateFunction,
  hopping,
  type LateRecordsOutput,
  session,
  tumbling,
  type Window,
  type WindowAssigner,
  type WindowOptions,
  type WindowResult,
} from './windows.ts';
