import { json, Pipeline, string, valueState } from '../sdk/index.ts';

export interface CountSum {
  key: string | null;
  count: number;
  sum: number;
  /** args.version of the job that emitted it, so output shows which side of an upgrade it came from. */
  version: string;
}

/**
 * Keeps a count and a sum per key: each input value ends in a number ("v123"
 * adds 123), and each record emits the key's running count and sum. A record
 * applied twice to state shows in the sum even where the count would look
 * right, so the upgrade and failure tests check both. Args: `input`, `output`,
 * `version` (stamped on every output record), and `stages: 2` to count behind
 * a keyBy on the same key: the records then cross the repartition topic
 * `by-key`, so savepoints align barriers between two stages. `workMicros`
 * spends that much CPU on each record (a busy loop), so that a test or a
 * benchmark knows one task's capacity: the autoscaler's load generator.
 */
export default function keyedCountSum(args: Record<string, unknown>) {
  const input = typeof args.input === 'string' ? args.input : 'events';
  const output = typeof args.output === 'string' ? args.output : 'sums';
  const version = typeof args.version === 'string' ? args.version : 'v1';
  const workNs = BigInt(Math.round(Math.max(0, Number(args.workMicros ?? 0)) * 1000));
  const source = Pipeline.from('events', { topics: [input], key: string, value: string });
  const keyed =
    args.stages === 2 ? source.keyBy('by-key', (r) => r.key, { key: string, value: string }) : source;
  return keyed
    .process('count-sum', {
      state: { count: valueState<number>(), sum: valueState<number>() },
      process(record, state, emit) {
        if (workNs > 0n) {
          const until = process.hrtime.bigint() + workNs;
          while (process.hrtime.bigint() < until) {
            // CPU spent on the record, as a heavier pipeline would.
          }
        }
        const amount = Number(/(\d+)$/.exec(record.value ?? '')?.[1]);
        if (!Number.isSafeInteger(amount))
          throw new Error(`value "${record.value}" does not end in a number`);
        const count = (state.count.get() ?? 0) + 1;
        const sum = (state.sum.get() ?? 0) + amount;
        state.count.set(count);
        state.sum.set(sum);
        emit({
          key: record.key,
          value: { key: record.key, count, sum, version },
          timestamp: record.timestamp,
        });
      },
    })
    .to('sums', { topic: output, key: string, value: json<CountSum>() });
}
