/**
 * What checking every record batch's CRC-32C costs per record (issue 29),
 * without Kafka: batches as a broker sends them (500 records of 100 B or
 * 1 KiB each) decoded by decodeRecordBatches, which checks the CRC, beside the
 * CRC alone over the same bytes. The end-to-end A/B (this checkout against one
 * before the check, same broker, same backlog) is
 * `node bench/runtime-throughput.ts --only throughput --baseline-root DIR`.
 *
 * Usage: node bench/crc-cost.ts [--rounds 200]
 */
import { parseArgs } from 'node:util';
import { crc32c } from '@node-rs/crc32';
import { type ConsumedRecord, decodeRecordBatches } from '../src/kafka/wire/record-batch.ts';
import { testingRecordBatch } from '../src/kafka/wire/testing-broker.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '200' } } });
const rounds = Number(values.rounds);

function measure(what: () => void): number {
  for (let i = 0; i < 20; i++) what(); // warm-up
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) what();
  return Number(process.hrtime.bigint() - started) / rounds;
}

for (const size of [100, 1024]) {
  const perBatch = 500;
  const value = 'v'.repeat(size);
  // A fetch response's worth: 20 batches back to back (1 MiB per partition at 1 KiB values is about 2).
  const data = Buffer.concat(
    Array.from({ length: 20 }, (_, b) =>
      testingRecordBatch(
        b * perBatch,
        Array.from({ length: perBatch }, () => value),
      ),
    ),
  );
  const records = 20 * perBatch;
  const decodeNs = measure(() => {
    const out: ConsumedRecord[] = [];
    decodeRecordBatches(data, 't', 0, 0, undefined, out);
  });
  const crcNs = measure(() => {
    let at = 0;
    while (at < data.length) {
      const end = at + 12 + data.readInt32BE(at + 8);
      crc32c(data.subarray(at + 21, end));
      at = end;
    }
  });
  process.stdout.write(
    `${String(size).padStart(5)} B values: decode with the CRC check ${(decodeNs / records).toFixed(1)} ns/record, of which the CRC ${(crcNs / records).toFixed(1)} ns/record (${((100 * crcNs) / decodeNs).toFixed(1)} % of the decode)\n`,
  );
}
