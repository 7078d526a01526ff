import type { Logger } from 'pino';
import { layoutKey, runLayoutKey, transactionalId } from '../../api/names.ts';
import { TransactionalProducer } from '../../kafka/transactional-producer.ts';
import { backoffMs, delay } from '../../retry.ts';
import type { CheckpointStorage } from '../../storage/checkpoint-storage.ts';
import { ObjectMissingError } from '../../storage/checkpoint-storage.ts';
import type { TaskManagerConfig } from '../config.ts';
import { RuntimeError } from '../errors.ts';

/**
 * Which TaskManagers may hold a live transactional id of a job. A layout is a
 * run and its parallelism; its ids are one per stage and task.
 *
 * `current` is the layout whose tasks may read committed offsets: task 0 of
 * stage 0 records it only after it fenced every id an earlier layout (of this
 * run or of an earlier one) may still hold, and every other task waits for it
 * before it initialises its id. `starting` lists the layouts whose task 0 began
 * that fence and may have initialised its own id without finishing: the next
 * fencer fences those ids too, so a task 0 that froze mid-fence cannot commit
 * after a later layout started.
 */
export interface Layout {
  runId: string;
  parallelism: number;
  stages: number;
}

export interface LayoutRecord {
  current: Layout | undefined;
  starting: Layout[];
}

const layoutFormatVersion = 2;

/** Initialises a transactional id and lets it go: the broker aborts what its earlier holder had open and fences it. */
export type Fence = (transactionalId: string) => Promise<void>;

/** The fence of a TaskManager: a producer of that id, connected (which initialises it) and closed. */
export function kafkaFence(config: TaskManagerConfig): Fence {
  return async (id) => {
    const fencer = await TransactionalProducer.connect({
      bootstrapServers: config.kafkaBootstrap,
      transactionalId: id,
      settings: config.kafkaSecurity,
    });
    await fencer.disconnect();
  };
}

function sameLayout(a: Layout | undefined, b: Layout): boolean {
  return a !== undefined && a.runId === b.runId && a.parallelism === b.parallelism;
}

/**
 * The transactional ids the task 0 of layout `own` fences before it records
 * `own` as current: every id of the current layout when it is another one, and
 * the first id of every other layout that began its fence. Its own id is left
 * out (its own producer initialised it). Pure, for the table test.
 */
export function idsToFence(record: LayoutRecord, own: Layout, namespace: string, job: string): string[] {
  const mine = transactionalId(namespace, job, own.runId, 0, 0);
  const ids: string[] = [];
  const { current } = record;
  if (current && !sameLayout(current, own)) {
    for (let stage = 0; stage < current.stages; stage++) {
      for (let task = 0; task < current.parallelism; task++) {
        ids.push(transactionalId(namespace, job, current.runId, stage, task));
      }
    }
  }
  for (const starting of record.starting) {
    if (!sameLayout(starting, own)) ids.push(transactionalId(namespace, job, starting.runId, 0, 0));
  }
  return [...new Set(ids)].filter((id) => id !== mine);
}

function isLayout(value: unknown): value is Layout {
  const v = value as Partial<Layout> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.runId === 'string' &&
    v.runId.length > 0 &&
    Number.isInteger(v.parallelism) &&
    (v.parallelism as number) > 0 &&
    Number.isInteger(v.stages) &&
    (v.stages as number) > 0
  );
}

async function readObject(storage: CheckpointStorage, key: string): Promise<unknown> {
  let text: string;
  try {
    text = (await storage.get(key)).toString('utf8');
  } catch (error) {
    if (error instanceof ObjectMissingError) return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** The job's layout record; undefined when none is recorded yet. */
export async function readLayout(
  storage: CheckpointStorage,
  config: TaskManagerConfig,
  stages: number,
): Promise<LayoutRecord | undefined> {
  const key = layoutKey(config.namespace, config.job);
  const parsed = await readObject(storage, key);
  if (parsed === undefined) return legacyLayout(storage, config, stages);
  const record = parsed as { formatVersion?: unknown; current?: unknown; starting?: unknown } | null;
  const starting = Array.isArray(record?.starting) ? record.starting : undefined;
  if (
    record?.formatVersion !== layoutFormatVersion ||
    (record.current !== undefined && !isLayout(record.current)) ||
    !starting?.every(isLayout)
  ) {
    throw new RuntimeError(
      'LAYOUT_INVALID',
      `${storage.describe(key)} is not a layout record this Weir reads`,
      false,
    );
  }
  return { current: record.current as Layout | undefined, starting: starting as Layout[] };
}

/** A run-level record of Weir before format 2 (one run, its parallelism; its stages those of the job now). */
async function legacyLayout(
  storage: CheckpointStorage,
  config: TaskManagerConfig,
  stages: number,
): Promise<LayoutRecord | undefined> {
  const parsed = (await readObject(storage, runLayoutKey(config.namespace, config.job, config.runId))) as {
    formatVersion?: unknown;
    parallelism?: unknown;
  } | null;
  if (parsed?.formatVersion !== 1 || !Number.isInteger(parsed.parallelism)) return undefined;
  return {
    current: { runId: config.runId, parallelism: parsed.parallelism as number, stages },
    starting: [],
  };
}

async function writeLayout(storage: CheckpointStorage, config: TaskManagerConfig, record: LayoutRecord) {
  const body = { formatVersion: layoutFormatVersion, ...record };
  await storage.put(layoutKey(config.namespace, config.job), Buffer.from(JSON.stringify(body)));
}

/** Fences at most this many ids at once: a rescale of a wide job does not open hundreds of connections. */
const fenceConcurrency = 8;

/**
 * Run by task 0 of stage 0 before it reads committed offsets, once its own
 * transactional id is initialised. When the job's current layout is another
 * one (a rescale, a new run after an upgrade or a restore, or the first start)
 * it records its intent, fences every id the earlier layouts may hold
 * (idsToFence), and only then records its own layout as current, which the
 * other tasks wait for (awaitLayout). So a TaskManager of an earlier layout
 * still running (a zombie on a frozen or lost node) commits nothing more, a
 * removed task's open transaction no longer stalls read_committed readers, and
 * no task of the new layout reads offsets a zombie can still commit.
 * Returns the ids fenced.
 */
export async function fenceLayout(
  storage: CheckpointStorage,
  config: TaskManagerConfig,
  stages: number,
  log: Logger,
  fence: Fence = kafkaFence(config),
): Promise<string[]> {
  const own: Layout = { runId: config.runId, parallelism: config.parallelism, stages };
  const record = (await readLayout(storage, config, stages)) ?? { current: undefined, starting: [] };
  if (sameLayout(record.current, own) && record.starting.length === 0) return [];
  await writeLayout(storage, config, {
    current: record.current,
    starting: [...record.starting.filter((l) => !sameLayout(l, own)), own],
  });
  const ids = idsToFence(record, own, config.namespace, config.job);
  for (let i = 0; i < ids.length; i += fenceConcurrency) {
    await Promise.all(ids.slice(i, i + fenceConcurrency).map((id) => fence(id)));
  }
  for (const id of ids)
    log.info({ transactionalId: id }, 'fenced a task of an earlier layout before this one reads offsets');
  // Another task 0 recorded its layout meanwhile (a zombie of an earlier layout that woke up mid-fence): this
  // one starts over, and its next pass fences that layout too.
  const now = await readLayout(storage, config, stages);
  if (!sameLayoutOrNone(now?.current, record.current)) {
    throw new RuntimeError(
      'LAYOUT_CONTENDED',
      `another TaskManager recorded a layout in ${storage.describe(layoutKey(config.namespace, config.job))} while this one fenced the earlier layouts; fencing again`,
      true,
    );
  }
  await writeLayout(storage, config, { current: own, starting: [] });
  log.info(
    {
      runId: own.runId,
      parallelism: own.parallelism,
      stages,
      previous: record.current ?? null,
      fenced: ids.length,
    },
    'recorded the layout: its tasks may read offsets',
  );
  return ids;
}

function sameLayoutOrNone(a: Layout | undefined, b: Layout | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return sameLayout(a, b) && a.stages === b.stages;
}

/**
 * Run by every task but task 0 of stage 0 before it initialises its
 * transactional id: waits until the job's current layout is its own, which
 * task 0 records only after fencing the earlier layouts (fenceLayout). Bounded
 * by `timeoutMs`; then a retriable LAYOUT_NOT_FENCED names what it waited for.
 */
export async function awaitLayout(
  storage: CheckpointStorage,
  config: TaskManagerConfig,
  stages: number,
  log: Logger,
  options: { timeoutMs: number; now: () => number; wait?: (ms: number) => Promise<void> },
): Promise<void> {
  const own: Layout = { runId: config.runId, parallelism: config.parallelism, stages };
  const wait = options.wait ?? delay;
  const started = options.now();
  let recorded: Layout | undefined;
  for (let attempt = 1; ; attempt++) {
    recorded = (await readLayout(storage, config, stages))?.current;
    if (sameLayout(recorded, own)) return;
    if (attempt === 1) {
      log.info(
        { recorded: recorded ?? null, runId: own.runId, parallelism: own.parallelism },
        'waiting for task 0 to fence the earlier layout before reading offsets',
      );
    }
    if (options.now() - started >= options.timeoutMs) break;
    await wait(backoffMs(attempt, 400));
  }
  const said = recorded ? `run ${recorded.runId} with parallelism ${recorded.parallelism}` : 'nothing';
  throw new RuntimeError(
    'LAYOUT_NOT_FENCED',
    `task 0 did not record run ${own.runId} with parallelism ${own.parallelism} within ${options.timeoutMs} ms (${storage.describe(layoutKey(config.namespace, config.job))} says ${said}): it fences the earlier layouts' tasks first, and until then no other task may read offsets`,
    true,
  );
}
