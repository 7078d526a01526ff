import { json, Pipeline, string, valueState } from '../../src/sdk/index.ts';

/**
 * For bench/state-beyond-heap.ts: keeps per key its count and its latest
 * value (the records carry about 90 bytes), so 10^7 keys hold about 1 GB of
 * state; each record emits the key's count. Args: `input`, `output`.
 */
export default function keyedLatest(args: Record<string, unknown>) {
  const input = typeof args.input === 'string' ? args.input : 'events';
  const output = typeof args.output === 'string' ? args.output : 'counts';
  return Pipeline.from('events', { topics: [input], key: string, value: string })
    .process('latest', {
      state: { count: valueState<number>(), latest: valueState<string>() },
      process(record, state, emit) {
        const count = (state.count.get() ?? 0) + 1;
        state.count.set(count);
        state.latest.set(record.value ?? '');
        emit({ key: record.key, value: { key: record.key, count }, timestamp: record.timestamp });
      },
    })
    .to('counts', { topic: output, key: string, value: json<{ key: string | null; count: number }>() });
}
