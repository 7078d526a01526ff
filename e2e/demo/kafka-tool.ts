/**
 * The demo's Kafka side: create its topics, write lines of words, and check
 * the word-count output read_committed (every word's counts exactly 1..n).
 *   kafka-tool.ts topics <input> <output>
 *   kafka-tool.ts produce <topic> <from line> <lines>
 *   kafka-tool.ts verify <output> <lines written>
 */
import { exactlyOnceProblems } from '../support/committed-state.ts';
import { createTopics, produce, readCommitted } from '../support/kafka-topics.ts';
import { emittedWordCounts, expectedWordCounts, totalCount, wordLines } from '../support/word-input.ts';

const partitions = 4;
const [command, a = '', b = '', c = ''] = process.argv.slice(2);

switch (command) {
  case 'topics':
    await createTopics({ name: a, partitions }, { name: b, partitions });
    process.stdout.write(`topics ${a} and ${b}: ${partitions} partitions each\n`);
    break;
  case 'produce':
    await produce(a, wordLines(Number(b), Number(c)));
    process.stdout.write(`wrote lines ${b}..${Number(b) + Number(c) - 1} to ${a}\n`);
    break;
  case 'verify': {
    const counts = expectedWordCounts(Number(b));
    const expected = totalCount(counts);
    const records = await readCommitted(a, partitions, { expected, timeoutMs: 120_000, quietMs: 2000 });
    const problems = exactlyOnceProblems(emittedWordCounts(records), counts);
    const final = [...counts].map(([word, n]) => `${word}=${n}`).join(' ');
    process.stdout.write(
      `${a}: ${records.length} counts read_committed for the ${expected} words of ${b} lines; ` +
        (problems.length
          ? `PROBLEMS: ${problems.join('; ')}\n`
          : `every word counted 1..n exactly once: ${final}\n`),
    );
    if (problems.length || records.length !== expected) process.exit(1);
    break;
  }
  default:
    process.stderr.write('usage: kafka-tool.ts topics|produce|verify …\n');
    process.exit(2);
}
