/** What the runtime benchmarks share: reading a TaskManager's metrics, and running a Kafka Streams twin. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { kafkaBootstrap } from '../e2e/support/kafka-topics.ts';

/** A TaskManager's metrics, each name's value summed over its labels (one task: its value). */
export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line) continue;
    const name = line.slice(0, line.search(/[ {]/));
    out.set(name, (out.get(name) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/**
 * Runs a Kafka Streams twin of a Weir job (bench/kafka-streams, built with
 * Maven on first use): `java … bench.<mainClass> BOOTSTRAP <args…>`, whose
 * last word is the state directory it is given; returns the rate it prints
 * as "RESULT <records/s>".
 */
export function kafkaStreamsTwin(mainClass: string, args: string[]): number {
  const dir = join(import.meta.dirname, 'kafka-streams');
  execFileSync('mvn', ['-q', '-B', 'package'], { cwd: dir, stdio: 'inherit' });
  const out = execFileSync(
    'java',
    [
      '-Xms1g',
      '-Xmx2g',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp',
      `${dir}/target/ks-pipelines-all.jar`,
      `bench.${mainClass}`,
      kafkaBootstrap(),
      ...args,
      `${dir}/target/state`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 660_000 },
  );
  const result = /^RESULT (\d+)$/m.exec(out);
  if (!result) throw new Error(`Kafka Streams ${mainClass} ${args[0]}: no result in ${out.slice(-500)}`);
  return Number(result[1]);
}
