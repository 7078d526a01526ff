import { readFileSync } from 'node:fs';
import type { CoreV1Api } from '@kubernetes/client-node';
import {
  AssignedConsumer,
  type CommittedOffset,
  committedRecordReader,
} from '../../src/kafka/assigned-consumer.ts';
import { withKafkaRetries } from '../../src/kafka/errors.ts';
import { decodeCommitMetadata, type PartitionPointer } from '../../src/runtime/checkpoint/commit-metadata.ts';
import { replayChangelog } from '../../src/runtime/state/changelog.ts';
import { heapStateStorage } from '../../src/runtime/state/entry-map.ts';
import { type PartitionRuntime, restorePartitions } from '../../src/runtime/task/partition-runtime.ts';
import { S3Storage, type S3StorageOptions } from '../../src/storage/s3-storage.ts';
import { requireEnv } from './cluster.ts';
import { kafkaBootstrap, readCommitted } from './kafka-topics.ts';

/** The harness MinIO servers' keys (both servers have the same). */
export function harnessS3Credentials(): { accessKeyId: string; secretAccessKey: string } {
  return {
    accessKeyId: requireEnv('WEIR_S3_ACCESS_KEY'),
    secretAccessKey: requireEnv('WEIR_S3_SECRET_KEY'),
  };
}

/** The harness's second MinIO, which serves only TLS with a certificate from the harness CA. */
export function harnessTlsS3(): { endpoint: string; tlsCa: string } {
  return {
    endpoint: requireEnv('WEIR_S3_TLS_ENDPOINT'),
    tlsCa: readFileSync(requireEnv('WEIR_S3_TLS_CA'), 'utf8'),
  };
}

/** Storage at `url` on the harness MinIO (plain HTTP), or with `overrides` (say, harnessTlsS3()) elsewhere. */
export function runtimeStorage(
  url = `s3://${requireEnv('WEIR_S3_BUCKET')}/e2e-runtime`,
  overrides: Partial<S3StorageOptions> = {},
): S3Storage {
  return new S3Storage({
    url,
    endpoint: requireEnv('WEIR_S3_ENDPOINT'),
    region: 'us-east-1',
    credentials: harnessS3Credentials(),
    ...overrides,
  });
}

/** The Secret `minio` with the harness MinIO's keys, which StreamJobs name in checkpoints.storage.credentialsSecret. */
export async function createMinioSecret(core: CoreV1Api, namespace: string): Promise<void> {
  await core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: 'minio' },
      stringData: harnessS3Credentials(),
    },
  });
}

export interface CommittedPartition {
  partition: number;
  offset: number;
  pointer?: PartitionPointer;
}

/**
 * The committed state of a job's partitions as a restore reads it: each
 * committed section, then its changelog (the job's source is "events", as in
 * the jobs the suites run) replayed from the offset the section covers.
 */
async function restoreCommitted(
  committed: CommittedOffset[],
  storage: S3Storage,
  changelogTopic: string,
): Promise<PartitionRuntime[]> {
  const restored = await restorePartitions(committed, storage, heapStateStorage);
  const logged = restored.filter((p) => p.pointer?.changelogFrom !== undefined);
  if (logged.length === 0) return restored;
  const consumer = await AssignedConsumer.connect({
    bootstrapServers: kafkaBootstrap(),
    groupId: 'weir-e2e-changelog-reader',
    isolation: 'read_committed',
  });
  const reader = committedRecordReader({
    bootstrapServers: kafkaBootstrap(),
    clientId: 'weir-e2e-changelog-reader',
  });
  try {
    const targets = logged.map((p) => ({
      changelogPartition: p.tp.partition,
      from: p.pointer?.changelogFrom ?? 0,
      stores: p.stores,
    }));
    const ends = await withKafkaRetries(() =>
      consumer.endOffsets(
        targets.map((t) => ({ topic: changelogTopic, partition: t.changelogPartition })),
        10_000,
      ),
    );
    await replayChangelog(
      reader,
      changelogTopic,
      targets,
      new Map(targets.map((t, i) => [t.changelogPartition, ends[i] as number])),
      { timeoutMs: 60_000, now: Date.now },
    );
    return restored;
  } finally {
    await reader.close();
    await consumer.disconnect();
  }
}

async function committedRaw(group: string, topic: string, partitions: number): Promise<CommittedOffset[]> {
  const consumer = await AssignedConsumer.connect({
    bootstrapServers: kafkaBootstrap(),
    groupId: group,
    isolation: 'read_committed',
  });
  try {
    return await withKafkaRetries(() =>
      consumer.committed(Array.from({ length: partitions }, (_, partition) => ({ topic, partition }))),
    );
  } finally {
    await consumer.disconnect();
  }
}

/** The offsets (and their state pointers) committed to a job's offset group. */
export async function committedOffsets(
  group: string,
  topic: string,
  partitions: number,
): Promise<CommittedPartition[]> {
  return (await committedRaw(group, topic, partitions)).map((o) => ({
    partition: o.partition,
    offset: o.offset,
    ...(o.offset >= 0 ? { pointer: decodeCommitMetadata(`${topic}/${o.partition}`, o.metadata) } : {}),
  }));
}

/**
 * The keyed-count job's committed counts (its `count/count` value state),
 * merged over the source partitions, read the way a restoring task reads them.
 */
export async function committedCounts(
  group: string,
  topic: string,
  partitions: number,
  storageUrl?: string,
): Promise<Map<string, number>> {
  const storage = runtimeStorage(storageUrl);
  const counts = new Map<string, number>();
  try {
    const committed = await committedRaw(group, topic, partitions);
    for (const restored of await restoreCommitted(committed, storage, `${group}.events.changelog`)) {
      for (const [key, value] of restored.stores.stores.get('count/count') ?? []) {
        counts.set(key, (counts.get(key) ?? 0) + (JSON.parse(value.toString()) as number));
      }
    }
  } finally {
    storage.close();
  }
  return counts;
}

/** Per key, the counts the keyed-count job emitted, in the order read. */
export function emittedCounts(records: { value: string | null }[]): Map<string, number[]> {
  const byKey = new Map<string, number[]>();
  for (const r of records) {
    const { key, count } = JSON.parse(r.value ?? '{}') as { key: string; count: number };
    byKey.set(key, [...(byKey.get(key) ?? []), count]);
  }
  return byKey;
}

/** Input records spread over `keys` keys; the expected final count of each key. */
export function keyedInput(from: number, n: number, keys: number): { key: string; value: string }[] {
  return Array.from({ length: n }, (_, i) => ({ key: `k${(from + i) % keys}`, value: `v${from + i}` }));
}

export function expectedCounts(n: number, keys: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) counts.set(`k${i % keys}`, (counts.get(`k${i % keys}`) ?? 0) + 1);
  return counts;
}

/**
 * Where the emitted counts differ from exactly-once: each expected key must
 * show the counts from..n, once each and in order (`from` defaults to 1), and
 * no other key may appear. Empty when nothing was lost or duplicated.
 */
export function exactlyOnceProblems(
  emitted: ReadonlyMap<string, number[]>,
  expected: ReadonlyMap<string, number>,
  from: ReadonlyMap<string, number> = new Map(),
): string[] {
  const problems: string[] = [];
  for (const [key, n] of expected) {
    const first = (from.get(key) ?? 0) + 1;
    const want = Array.from({ length: n - first + 1 }, (_, i) => first + i);
    const seen = emitted.get(key) ?? [];
    if (seen.join(',') !== want.join(',')) {
      problems.push(
        `${key}: ${seen.length} records, expected ${want.length} (first difference at index ${seen.findIndex((c, i) => c !== want[i])})`,
      );
    }
  }
  for (const key of emitted.keys()) if (!expected.has(key)) problems.push(`${key}: not an input key`);
  return problems;
}

/**
 * Where keyed-count-sum's output differs from exactly-once for the input
 * keyedInput(0, n, keys): for every key, the i-th output must carry count i
 * and the sum of the key's first i input values, with no gap, no duplicate and
 * no other key. A record applied twice to state shows in the sum even where a
 * replayed count would hide it.
 */
export function countSumProblems(records: { value: string | null }[], n: number, keys: number): string[] {
  const emitted = new Map<string, { count: number; sum: number }[]>();
  for (const r of records) {
    const { key, count, sum } = JSON.parse(r.value ?? '{}') as { key: string; count: number; sum: number };
    emitted.set(key, [...(emitted.get(key) ?? []), { count, sum }]);
  }
  const problems: string[] = [];
  for (let k = 0; k < keys && k < n; k++) {
    const key = `k${k}`;
    const seen = emitted.get(key) ?? [];
    let sum = 0;
    let i = 0;
    for (let j = k; j < n; j += keys, i++) {
      sum += j;
      const got = seen[i];
      if (!got || got.count !== i + 1 || got.sum !== sum) {
        problems.push(
          `${key}: output ${i + 1} is ${JSON.stringify(got)}, expected count ${i + 1} sum ${sum}`,
        );
        break;
      }
    }
    if (seen.length > i && !problems.some((p) => p.startsWith(`${key}:`))) {
      problems.push(`${key}: ${seen.length - i} output(s) beyond the ${i} inputs (duplicates)`);
    }
  }
  for (const key of emitted.keys())
    if (!/^k\d+$/.test(key) || Number(key.slice(1)) >= keys) problems.push(`${key}: not an input key`);
  return problems;
}

/**
 * countSumProblems over `output` once it holds the output of keyedInput(0, n,
 * keys): read read_committed until n records arrived and 2 s passed without
 * more (a duplicate would show), within two minutes.
 */
export async function committedCountSumProblems(
  output: string,
  partitions: number,
  n: number,
  keys: number,
): Promise<string[]> {
  const records = await readCommitted(output, partitions, { expected: n, timeoutMs: 120_000, quietMs: 2000 });
  return countSumProblems(records, n, keys);
}

/** What `expected` lacks in `actual` and what `actual` has beyond it, counting repeats. */
export function multisetDiff(actual: string[], expected: string[]): { missing: string[]; extra: string[] } {
  const counts = new Map<string, number>();
  for (const e of expected) counts.set(e, (counts.get(e) ?? 0) + 1);
  const extra: string[] = [];
  for (const a of actual) {
    const n = counts.get(a) ?? 0;
    if (n === 0) extra.push(a);
    else counts.set(a, n - 1);
  }
  const missing = [...counts].flatMap(([e, n]) => Array.from({ length: n }, () => e));
  return { missing: missing.slice(0, 20), extra: extra.slice(0, 20) };
}
