/**
 * The demo's Kafka side: create its topics, write keyed input, and check the
 * keyed-count output read_committed (every key's counts exactly 1..n).
 *   kafka-tool.ts topics <input> <output>
 *   kafka-tool.ts produce <topic> <from> <count>
 *   kafka-tool.ts verify <output> <expected records>
 */
import {
  emittedCounts,
  exactlyOnceProblems,
  expectedCounts,
  keyedInput,
} from '../support/committed-state.ts';
import { createTopics, produce, readCommitted } from '../support/kafka-topics.ts';

const keys = 10;
const partitions = 4;
const [command, a = '', b = '', c = ''] = process.argv.slice(2);

switch (command) {
  case 'topics':
    await createTopics({ name: a, partitions }, { name: b, partitions });
    process.stdout.write(`topics ${a} and ${b}: ${partitions} partitions each\n`);
    break;
  case 'produce':
    await produce(a, keyedInput(Number(b), Number(c), keys));
    process.stdout.write(`wrote ${c} records (keys k0..k${keys - 1}) to ${a}\n`);
    break;
  case 'verify': {
    const expected = Number(b);
    const records = await readCommitted(a, partitions, { expected, timeoutMs: 120_000, quietMs: 2000 });
    const problems = exactlyOnceProblems(emittedCounts(records), expectedCounts(expected, keys));
    process.stdout.write(
      `${a}: ${records.length} records read_committed for ${expected} input records; ` +
        (problems.length ? `PROBLEMS: ${problems.join('; ')}\n` : 'every key counted 1..n exactly once\n'),
    );
    if (problems.length || records.length !== expected) process.exit(1);
    break;
  }
  default:
    process.stderr.write('usage: kafka-tool.ts topics|produce|verify …\n');
    process.exit(2);
}
