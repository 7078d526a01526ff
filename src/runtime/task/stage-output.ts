import { CodedError } from '../../errors.ts';
import type { SourcePosition } from '../../sdk/pipeline.ts';

// What a stage's executor gives the task and the test driver: its output records, the time it runs at, and the
// errors a record or a timer fails with.

/** A record ready for the producer. */
export interface OutputRecord {
  topic: string;
  /** Set for a repartition topic: the partition of the record's new key. */
  partition?: number;
  key: Buffer | null;
  value: Buffer | null;
  /** The event time carried across a repartition; the producer's clock otherwise. */
  timestamp?: number;
  /** None for a sink record; a constant object for a stage's repartition records. */
  headers?: Record<string, string>;
}

/** A record that failed, under the job's `fail` policy. Not retriable: it would fail the same way again. */
export class PoisonRecordError extends CodedError {
  readonly position: SourcePosition;
  readonly operatorId: string;

  constructor(position: SourcePosition, operatorId: string, cause: unknown) {
    super(
      'POISON_RECORD',
      `record ${position.topic}/${position.partition}@${position.offset} failed in "${operatorId}": ${(cause as Error)?.message ?? String(cause)}`,
      false,
      { cause },
    );
    this.position = position;
    this.operatorId = operatorId;
  }
}

/** Headers of a record sent to a window step's late-records topic: the step, and the watermark it came after. */
export const lateOperatorHeader = 'weir.late.operator';
export const lateWatermarkHeader = 'weir.late.watermark';
/** On a join's late record: which input it came from (the stage's source, or the join's other input). */
export const lateInputHeader = 'weir.late.input';

/** The time an operator sees: the task's event-time watermark and its processing-time clock. */
export interface TimeContext {
  watermark: number;
  now: number;
}

/** A timer callback failed: no record to send anywhere, so the task fails and restores. */
export class TimerFailedError extends CodedError {
  constructor(operatorId: string, time: number, cause: unknown) {
    super(
      'TIMER_FAILED',
      `timer at ${time} of "${operatorId}" failed: ${(cause as Error)?.message ?? String(cause)}`,
      false,
      { cause },
    );
  }
}
