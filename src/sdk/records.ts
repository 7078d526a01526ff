import { CodedError } from '../errors.ts';

/** A record as user functions see it: decoded key and value. */
export interface StreamRecord<K, V> {
  key: K;
  value: V;
  /** Milliseconds since the epoch, from the source record. */
  timestamp: number;
}

/** A pipeline its builder refuses: a bad id, a missing step, options that do not fit together. */
export class PipelineDefinitionError extends CodedError {
  constructor(message: string) {
    super('PIPELINE_INVALID', message, false);
  }
}
