import type { ReadRecord } from './kafka-topics.ts';

/** The demo's words: line i holds 1 to 4 of them, chosen by i alone, so any range of lines can be re-created. */
const vocabulary = ['stream', 'state', 'kafka', 'weir', 'savepoint', 'barrier', 'commit', 'offset', 'task'];

export function wordLine(i: number): string {
  const n = 1 + (i % 4);
  return Array.from({ length: n }, (_, j) => vocabulary[(i * 7 + j * 3) % vocabulary.length]).join(' ');
}

/** Lines from..from+n-1 as keyed input records. */
export function wordLines(from: number, n: number): { key: string; value: string }[] {
  return Array.from({ length: n }, (_, i) => ({ key: `line-${from + i}`, value: wordLine(from + i) }));
}

/** How often each word occurs in lines 0..n-1. */
export function expectedWordCounts(n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    for (const w of wordLine(i).split(' ')) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  return counts;
}

/** Per word, the running counts the word-count job emitted, in the order read (one partition holds a word). */
export function emittedWordCounts(records: readonly ReadRecord[]): Map<string, number[]> {
  const byWord = new Map<string, number[]>();
  for (const r of records) {
    const { word, count } = JSON.parse(r.value ?? '{}') as { word: string; count: number };
    byWord.set(word, [...(byWord.get(word) ?? []), count]);
  }
  return byWord;
}

export function totalCount(counts: ReadonlyMap<string, number>): number {
  return [...counts.values()].reduce((a, b) => a + b, 0);
}
