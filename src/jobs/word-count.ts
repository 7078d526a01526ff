import { json, Pipeline, string, valueState } from '../sdk/index.ts';

export interface WordCount {
  word: string;
  count: number;
}

/** The words of a line: lower-cased runs of letters, digits and apostrophes. */
export function wordsOf(line: string | null): string[] {
  return (line ?? '').toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
}

/**
 * Word count, the two-stage job of the demo and `examples/wordcount.yaml`:
 * lines are split into words, re-keyed by word through the job's repartition
 * topic `by-word`, and counted; each word emits its running count. Args:
 * `input` (lines), `output` (counts).
 */
export default function wordCount(args: Record<string, unknown>) {
  const input = typeof args.input === 'string' ? args.input : 'lines';
  const output = typeof args.output === 'string' ? args.output : 'word-counts';
  return Pipeline.from('lines', { topics: [input], key: string, value: string })
    .flatMap<string, number | null>('words', (line) =>
      wordsOf(line.value).map((word) => ({ key: word, value: 1, timestamp: line.timestamp })),
    )
    .keyBy('by-word', (r) => r.key, { key: string, value: json<number>() })
    .process('count', {
      state: { count: valueState<number>() },
      process(record, state, emit) {
        const count = (state.count.get() ?? 0) + (record.value ?? 0);
        state.count.set(count);
        emit({ key: record.key, value: { word: record.key ?? '', count }, timestamp: record.timestamp });
      },
    })
    .to('counts', { topic: output, key: string, value: json<WordCount>() });
}
