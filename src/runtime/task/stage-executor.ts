import { CodedError } from '../../errors.ts';
import type { JoinInput } from '../../sdk/joins.ts';
import type {
  JobDefinition,
  SourcePosition,
  StageDefinition,
  Step,
  StreamRecord,
} from '../../sdk/pipeline.ts';
import type { TimerService } from '../../sdk/time.ts';
import { fromTaskHeader, joinInputHeader } from '../repartition/barriers.ts';
import { partitionOfKey, type RepartitionRoute } from '../repartition/route.ts';
import { keyOfStateKey, stateKey } from '../state/keys.ts';
import type { PartitionStores } from '../state/partition-stores.ts';
import { StateStoreError } from '../state/state-store-error.ts';
import { JoinOperator, type JoinOutcome } from '../time/joins.ts';
import { deleteTimer, registerTimer, takeDueTimers } from '../time/timers.ts';
import { raiseFloor } from '../time/watermarks.ts';
import { WindowOperator } from '../time/windows.ts';
import { forwardedJoins } from './join-inputs.ts';
import {
  lateInputHeader,
  lateOperatorHeader,
  lateWatermarkHeader,
  type OutputRecord,
  PoisonRecordError,
  type TimeContext,
  TimerFailedError,
} from './stage-output.ts';

class KeyChangedError extends CodedError {
  constructor(message: string) {
    super('KEY_CHANGED_BEFORE_KEYED_STATE', message, false);
  }
}

/** What one record or timer produced on its way through the stage: outputs and late records. */
interface Emitted {
  records: StreamRecord<unknown, unknown>[];
  late: OutputRecord[];
}

/**
 * Runs one input record of a stage through the stage's steps against its
 * partition's state, and encodes what comes out for the sink or for the
 * next stage's repartition topic; fires the stage's due timers the same way.
 * Either every effect of a record happens (outputs and state writes) or,
 * when it fails, none does: the state writes are rolled back and the record
 * goes to the dead-letter topic or fails the task.
 */
export class StageExecutor {
  private readonly job: JobDefinition;
  private readonly stage: StageDefinition;
  private readonly route: RepartitionRoute | undefined;
  private readonly fromTask: Record<string, string>;
  private readonly windows = new Map<string, WindowOperator>();
  /** Each process step's state declarations, by step id, with the store each is kept in. */
  private readonly specs = new Map<string, { name: string; store: string; map: boolean }[]>();
  /** Steps with timers, by index: windows, joins in event time, and process functions with onTimer. */
  private readonly timed: number[];
  private readonly joinOps = new Map<string, JoinOperator>();
  /** The stage's other inputs by topic, each with the index of the join step it enters. */
  private readonly joinInputs = new Map<string, { input: JoinInput; step: number }>();
  /** The same by input id, for a stage after a keyBy, whose other inputs arrive through the repartition topic. */
  private readonly joinInputsById = new Map<string, { input: JoinInput; step: number }>();
  /** The next stage's other inputs this stage reads and sends on, by topic, with their records' headers. */
  private readonly forwarded = new Map<string, { input: JoinInput; headers: Record<string, string> }>();
  /** The raw record being processed, for a join's late-records topic; and a sequence unique per record. */
  private raw: { key: Buffer | null; value: Buffer | null; input: string } | undefined;
  private seqBase = '';
  private seqCount = 0;

  /** `route` is required when the stage ends in a repartition. */
  constructor(job: JobDefinition, stage: StageDefinition, route?: RepartitionRoute) {
    this.job = job;
    this.stage = stage;
    this.route = route;
    if (stage.output.kind === 'repartition' && !route) {
      throw new Error(`stage ${stage.index} ends in repartition "${stage.output.id}" but has no route`);
    }
    this.fromTask = route ? { [fromTaskHeader]: String(route.fromTask) } : {};
    for (const [index, step] of stage.steps.entries()) {
      if (step.kind === 'join') {
        this.joinOps.set(step.id, new JoinOperator(step));
        const input = stage.joins.find((j) => j.joinId === step.id);
        if (input) {
          this.joinInputs.set(input.topic, { input, step: index });
          this.joinInputsById.set(input.id, { input, step: index });
        }
      }
      if (step.kind === 'window') this.windows.set(step.id, new WindowOperator(step));
      if (step.kind === 'process') {
        this.specs.set(
          step.id,
          Object.entries(step.state).map(([name, spec]) => ({
            name,
            store: `${step.id}/${name}`,
            map: spec.kind === 'map',
          })),
        );
      }
    }
    for (const input of forwardedJoins(job, stage)) {
      this.forwarded.set(input.topic, { input, headers: { ...this.fromTask, [joinInputHeader]: input.id } });
    }
    this.timed = stage.steps.flatMap((step, i) =>
      step.kind === 'window' ||
      (step.kind === 'process' && step.onTimer) ||
      (step.kind === 'join' && step.spec.kind !== 'table')
        ? [i]
        : [],
    );
  }

  /** The join input a topic is, if it is not the stage's source: its records' state is kept with the source's partition. */
  joinInputOf(topic: string): JoinInput | undefined {
    return this.joinInputs.get(topic)?.input;
  }

  private nextSeq(): string {
    return `${this.seqBase}:${this.seqCount++}`;
  }

  /** The event time of the last record process() read (the source's timestamp assigner applied). */
  lastTimestamp = 0;

  /** Whether any step of the stage keeps timers. */
  get hasTimers(): boolean {
    return this.timed.length > 0;
  }

  process(
    position: SourcePosition,
    timestamp: number,
    rawKey: Buffer | null,
    rawValue: Buffer | null,
    stores: PartitionStores,
    time: TimeContext = { watermark: Number.NEGATIVE_INFINITY, now: 0 },
    /** The join input a repartitioned record came from (its `weir.join.input` header), after a keyBy. */
    viaJoinInput?: string,
  ): OutputRecord[] {
    stores.begin();
    const { input } = this.stage;
    const at = { operatorId: input.id };
    try {
      if (this.forwarded.size) {
        const forwarded = this.forwarded.get(position.topic);
        if (forwarded) {
          at.operatorId = forwarded.input.id;
          return [this.forward(forwarded, timestamp, rawKey, rawValue)];
        }
      }
      // Only a stage with joins needs a record's sequence and raw bytes: the rest pay nothing on this path.
      if (this.joinOps.size) {
        this.seqBase = `o${position.offset}`;
        this.seqCount = 0;
        const joined =
          viaJoinInput === undefined
            ? this.joinInputs.get(position.topic)
            : this.joinInputsById.get(viaJoinInput);
        if (viaJoinInput !== undefined && !joined) {
          throw new CodedError(
            'JOIN_INPUT_UNKNOWN',
            `record ${position.topic}/${position.partition}@${position.offset} names join input "${viaJoinInput}", which stage ${this.stage.index} does not join`,
            false,
          );
        }
        if (joined) {
          at.operatorId = joined.input.id;
          return this.processJoinInput(joined, timestamp, rawKey, rawValue, stores, time, at, {
            timestamped: viaJoinInput !== undefined,
          });
        }
        this.raw = { key: rawKey, value: rawValue, input: input.id };
      }
      const formats = input.kind === 'source' ? input.source : input.formats;
      const record: StreamRecord<unknown, unknown> = {
        key: formats.key.decode(rawKey),
        value: formats.value.decode(rawValue),
        timestamp,
      };
      const assign = input.kind === 'source' ? input.source.watermarks?.timestamp : undefined;
      if (assign) record.timestamp = assign(record);
      this.lastTimestamp = record.timestamp;
      const emitted = this.runSteps(0, [record], stateKey(record.key), stores, time, at);
      at.operatorId = this.stage.output.id;
      const encoded = this.encode(emitted.records);
      return emitted.late.length ? [...encoded, ...emitted.late] : encoded;
    } catch (error) {
      if (error instanceof StateStoreError) {
        // The store failed, not the record: the task fails and is restored, whatever the poison policy.
        try {
          stores.rollback();
        } catch {
          // the store is failing; the task's restart rebuilds it
        }
        throw error;
      }
      stores.rollback();
      const policy = this.job.poisonRecords;
      if (policy.kind === 'fail' || error instanceof KeyChangedError) {
        throw new PoisonRecordError(position, at.operatorId, error);
      }
      return [
        {
          topic: policy.topic,
          key: rawKey,
          value: rawValue,
          headers: {
            'weir.error': String((error as Error)?.message ?? error).slice(0, 1000),
            'weir.error.operator': at.operatorId,
            'weir.source': `${position.topic}/${position.partition}@${position.offset}`,
          },
        },
      ];
    }
  }

  /** A record of a join's other input: into the join step, and what it releases through the steps after. */
  private processJoinInput(
    joined: { input: JoinInput; step: number },
    timestamp: number,
    rawKey: Buffer | null,
    rawValue: Buffer | null,
    stores: PartitionStores,
    time: TimeContext,
    at: { operatorId: string },
    options: { timestamped: boolean },
  ): OutputRecord[] {
    const { input, step } = joined;
    const record: StreamRecord<unknown, unknown> = {
      key: input.key.decode(rawKey),
      value: input.value.decode(rawValue),
      timestamp,
    };
    // A record sent on by the first stage carries the time its assigner gave it there.
    if (input.timestamp && !options.timestamped) record.timestamp = input.timestamp(record);
    this.lastTimestamp = record.timestamp;
    at.operatorId = input.joinId;
    this.raw = { key: rawKey, value: rawValue, input: input.id };
    const key = stateKey(record.key);
    const outcome = (this.joinOps.get(input.joinId) as JoinOperator).onRight(
      record,
      key,
      stores,
      time.watermark,
      this.nextSeq(),
    );
    const late: OutputRecord[] = [];
    const released = this.joinResult(input.joinId, outcome, time, late);
    const emitted = this.runSteps(step + 1, released, key, stores, time, at);
    at.operatorId = this.stage.output.id;
    return [...this.encode(emitted.records), ...late, ...emitted.late];
  }

  /**
   * A record of the next stage's join input, sent on through this stage's
   * repartition topic: its key re-encoded with the keyBy's key format (so it
   * lands where the stream's records of that key do), its value as read, its
   * time as the input's assigner gives it (which the watermark here counts).
   */
  private forward(
    forwarded: { input: JoinInput; headers: Record<string, string> },
    timestamp: number,
    rawKey: Buffer | null,
    rawValue: Buffer | null,
  ): OutputRecord {
    const { input, headers } = forwarded;
    const keyValue = input.key.decode(rawKey);
    let time = timestamp;
    if (input.timestamp) {
      time = input.timestamp({ key: keyValue, value: input.value.decode(rawValue), timestamp });
    }
    this.lastTimestamp = time;
    const route = this.route as RepartitionRoute;
    const output = this.stage.output as Extract<StageDefinition['output'], { kind: 'repartition' }>;
    const key = output.formats.key.encode(keyValue);
    return {
      topic: route.topic,
      partition: partitionOfKey(key, route.partitions),
      key,
      value: rawValue,
      timestamp: time,
      headers,
    };
  }

  /** A join's outcome: its records, or (late) the raw record to the join's late-records topic. */
  private joinResult(
    joinId: string,
    outcome: JoinOutcome,
    time: TimeContext,
    late: OutputRecord[],
  ): StreamRecord<unknown, unknown>[] {
    if (outcome.kind === 'records') return outcome.records;
    const step = this.stage.steps.find((s) => s.id === joinId) as Extract<Step, { kind: 'join' }>;
    if (step.spec.kind === 'table') return [];
    late.push({
      topic: step.spec.late.topic,
      key: this.raw?.key ?? null,
      value: this.raw?.value ?? null,
      headers: {
        [lateOperatorHeader]: joinId,
        [lateInputHeader]: this.raw?.input ?? '',
        [lateWatermarkHeader]: String(time.watermark),
      },
    });
    return [];
  }

  /**
   * The step a task (and the test driver) takes at a batch boundary for one
   * partition: its due timers fire, and if any did, the partition keeps the
   * watermark they fired at as its floor, so what they decided holds after a
   * restore. Returns what they emitted.
   */
  fireDueTimers(stores: PartitionStores, time: TimeContext): OutputRecord[] {
    const { outputs, fired } = this.fireTimers(stores, time);
    if (fired) raiseFloor(stores, time.watermark);
    return outputs;
  }

  fireTimers(stores: PartitionStores, time: TimeContext): { outputs: OutputRecord[]; fired: number } {
    const out: OutputRecord[] = [];
    let fired = 0;
    for (const index of this.timed) {
      const step = this.stage.steps[index] as Step;
      for (const timer of takeDueTimers(stores, step.id, time.watermark, time.now)) {
        const key = keyOfStateKey(timer.stateKey);
        const at = { operatorId: step.id };
        fired++;
        this.seqBase = `t${timer.domain[0]}${timer.time}`;
        this.seqCount = 0;
        this.raw = undefined;
        try {
          let records: StreamRecord<unknown, unknown>[];
          if (step.kind === 'join') {
            records = (this.joinOps.get(step.id) as JoinOperator).onTimer(
              key,
              timer.stateKey,
              stores,
              time.watermark,
            );
          } else if (step.kind === 'window') {
            records = (this.windows.get(step.id) as WindowOperator).onTimer(
              key,
              timer.stateKey,
              stores,
              time.watermark,
            );
          } else if (step.kind === 'process' && step.onTimer) {
            records = [];
            step.onTimer(
              { key, time: timer.time, domain: timer.domain },
              this.stateHandles(step, timer.stateKey, stores) as never,
              (o) => records.push(o),
              this.timerService(step, timer.stateKey, stores, time),
            );
          } else continue;
          const emitted = this.runSteps(index + 1, records, timer.stateKey, stores, time, at);
          out.push(...this.encode(emitted.records), ...emitted.late);
        } catch (error) {
          throw new TimerFailedError(at.operatorId, timer.time, error);
        }
      }
    }
    return { outputs: out, fired };
  }

  /** Records through the stage's steps from `from` on; `at` follows the operator at work, for error messages. */
  private runSteps(
    from: number,
    input: StreamRecord<unknown, unknown>[],
    inputKey: string,
    stores: PartitionStores,
    time: TimeContext,
    at: { operatorId: string },
  ): Emitted {
    const late: OutputRecord[] = [];
    const { steps } = this.stage;
    let records = input;
    // Plain loops: this runs for every record, and most steps take one record and give one.
    for (let i = from; i < steps.length; i++) {
      const step = steps[i] as Step;
      at.operatorId = step.id;
      if (records.length === 1) {
        records = this.apply(
          step,
          records[0] as StreamRecord<unknown, unknown>,
          inputKey,
          stores,
          time,
          late,
        );
        continue;
      }
      const next: StreamRecord<unknown, unknown>[] = [];
      for (const record of records) {
        for (const out of this.apply(step, record, inputKey, stores, time, late)) next.push(out);
      }
      records = next;
    }
    return { records, late };
  }

  private encode(records: StreamRecord<unknown, unknown>[]): OutputRecord[] {
    const { output } = this.stage;
    if (output.kind === 'sink') {
      return records.map((r) => ({
        topic: output.sink.topic,
        key: output.sink.key.encode(r.key),
        value: output.sink.value.encode(r.value),
      }));
    }
    const route = this.route as RepartitionRoute;
    return records.map((r) => {
      const selected = output.select(r);
      const key = output.formats.key.encode(selected.key);
      return {
        topic: route.topic,
        partition: partitionOfKey(key, route.partitions),
        key,
        value: output.formats.value.encode(selected.value),
        timestamp: selected.timestamp,
        headers: this.fromTask,
      };
    });
  }

  private stateHandles(
    step: Extract<Step, { kind: 'process' }>,
    key: string,
    stores: PartitionStores,
  ): Record<string, unknown> {
    const handles: Record<string, unknown> = {};
    for (const { name, store, map } of this.specs.get(step.id) ?? []) {
      handles[name] = map ? stores.mapState(store, key) : stores.valueState(store, key);
    }
    return handles;
  }

  private timerService(
    step: Extract<Step, { kind: 'process' }>,
    key: string,
    stores: PartitionStores,
    time: TimeContext,
  ): TimerService {
    const operatorId = step.id;
    // A timer nothing would ever fire would stay in the state for good: refused, naming the step.
    const register = (domain: 'event' | 'processing', t: number) => {
      if (!step.onTimer) {
        throw new CodedError(
          'TIMER_WITHOUT_HANDLER',
          `"${operatorId}" set a timer but has no onTimer() to fire it`,
          false,
        );
      }
      registerTimer(stores, operatorId, domain, t, key);
    };
    // Closures rather than methods: a job may take them apart (const { eventTime } = timers).
    return {
      watermark: time.watermark,
      now: time.now,
      eventTime: (t) => register('event', t),
      processingTime: (t) => register('processing', t),
      deleteEventTime: (t) => deleteTimer(stores, operatorId, 'event', t, key),
      deleteProcessingTime: (t) => deleteTimer(stores, operatorId, 'processing', t, key),
    };
  }

  private checkKey(step: Step, record: StreamRecord<unknown, unknown>, inputKey: string): string {
    const key = stateKey(record.key);
    if (key !== inputKey) {
      throw new KeyChangedError(
        `"${step.id}" keeps keyed state, but its record's key changed since the stage's input (${JSON.stringify(inputKey)} → ${JSON.stringify(key)}); state is stored per input partition, so change keys with keyBy, which repartitions`,
      );
    }
    return key;
  }

  private apply(
    step: Step,
    record: StreamRecord<unknown, unknown>,
    inputKey: string,
    stores: PartitionStores,
    time: TimeContext,
    late: OutputRecord[],
  ): StreamRecord<unknown, unknown>[] {
    switch (step.kind) {
      case 'map':
        return [step.fn(record)];
      case 'filter':
        return step.fn(record) ? [record] : [];
      case 'flatMap':
        return [...step.fn(record)];
      case 'process': {
        const key = this.checkKey(step, record, inputKey);
        const out: StreamRecord<unknown, unknown>[] = [];
        step.fn(
          record,
          this.stateHandles(step, key, stores) as never,
          (o) => out.push(o),
          this.timerService(step, key, stores, time),
        );
        return out;
      }
      case 'window': {
        const key = this.checkKey(step, record, inputKey);
        const outcome = (this.windows.get(step.id) as WindowOperator).add(
          record,
          key,
          stores,
          time.watermark,
        );
        if (outcome.kind === 'results') return outcome.records;
        late.push({
          topic: step.late.topic,
          key: step.late.key.encode(record.key),
          value: step.late.value.encode(record.value),
          timestamp: record.timestamp,
          headers: { [lateOperatorHeader]: step.id, [lateWatermarkHeader]: String(time.watermark) },
        });
        return [];
      }
      case 'join': {
        const key = this.checkKey(step, record, inputKey);
        const op = this.joinOps.get(step.id) as JoinOperator;
        return this.joinResult(
          step.id,
          op.onLeft(record, key, stores, time.watermark, this.nextSeq()),
          time,
          late,
        );
      }
    }
  }
}
