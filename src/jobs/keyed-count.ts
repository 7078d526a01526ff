import { json, Pipeline, string, valueState } from '../sdk/index.ts';

/**
 * Counts records per key: for each input record it emits the key with the
 * key's running count. The example job of `examples/` and of the runtime's
 * exactly-once tests. Args: `input`, `output`, and optionally
 * `deadLetterTopic` (without it, a poison record fails the task).
 */
export default function keyedCount(args: Record<string, unknown>) {
  const input = typeof args.input === 'string' ? args.input : 'events';
  const output = typeof args.output === 'string' ? args.output : 'counts';
  const deadLetterTopic = typeof args.deadLetterTopic === 'string' ? args.deadLetterTopic : undefined;
  return Pipeline.from('events', { topics: [input], key: string, value: string })
    .process('count', {
      state: { count: valueState<number>() },
      process(record, state, emit) {
        if (record.value === 'poison') throw new Error('refusing to count a record whose value is "poison"');
        const count = (state.count.get() ?? 0) + 1;
        state.count.set(count);
        emit({ key: record.key, value: { key: record.key, count }, timestamp: record.timestamp });
      },
    })
    .to(
      'counts',
      { topic: output, key: string, value: json<{ key: string | null; count: number }>() },
      {
        poisonRecords: deadLetterTopic ? { kind: 'dead-letter', topic: deadLetterTopic } : { kind: 'fail' },
      },
    );
}
