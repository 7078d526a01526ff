import { createHash } from 'node:crypto';
import { type StreamJobSpec, taskManagerDefaults } from '../../api/streamjob.ts';

/**
 * How much a spec change needs, ordered as the Flink operator's DiffType:
 * several changed fields combine by taking the largest.
 * - ignore: read where it is used (restart strategy, nonces, state, upgrade
 *   settings); no pod changes.
 * - scale: the partition assignment changes; always last-state, because
 *   state is kept per partition and never split.
 * - upgrade: the job itself changes; carried out by spec.upgradeMode.
 */
export type DiffType = 'ignore' | 'scale' | 'upgrade';

const order: Record<DiffType, number> = { ignore: 0, scale: 1, upgrade: 2 };

/** The fields that shape the pods, by the class of change they make. */
const fieldClass = {
  parallelism: 'scale',
  taskSlots: 'scale',
  image: 'upgrade',
  entry: 'upgrade',
  args: 'upgrade',
  kafka: 'upgrade',
  checkpoints: 'upgrade',
  taskManager: 'upgrade',
  allowNonRestoredState: 'upgrade',
} as const satisfies Partial<Record<keyof StreamJobSpec, DiffType>>;

type ShapingField = keyof typeof fieldClass;
const shapingFields = Object.keys(fieldClass) as ShapingField[];

export interface SpecDiff {
  type: DiffType;
  /** The pod-shaping fields that differ, for events and status messages. */
  fields: ShapingField[];
}

/** Values compared as the API server stores them: key order does not matter. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** `false` and absent are the same for allowNonRestoredState, so jobs from before the field keep their hash. */
function shapingValue(spec: StreamJobSpec, field: ShapingField): unknown {
  if (field === 'allowNonRestoredState') return spec.allowNonRestoredState ? true : undefined;
  if (field === 'taskManager') return taskManagerOf(spec);
  return spec[field];
}

const defaultTaskManager = canonical(taskManagerDefaults);

/**
 * A taskManager holding nothing but its defaults is the same as none: the operator makes the pods of a job without
 * one from those defaults. The API server fills them in whenever the object is present, so one written as `{}`, or
 * left so when a user removes the fields they had set, would otherwise differ from none and start an upgrade that
 * changes nothing.
 */
function taskManagerOf(spec: StreamJobSpec): StreamJobSpec['taskManager'] {
  const taskManager = spec.taskManager;
  return taskManager !== undefined && canonical(taskManager) === defaultTaskManager ? undefined : taskManager;
}

export function diffSpecs(from: StreamJobSpec, to: StreamJobSpec): SpecDiff {
  const fields = shapingFields.filter(
    (f) => canonical(shapingValue(from, f)) !== canonical(shapingValue(to, f)),
  );
  const type = fields.reduce<DiffType>(
    (largest, f) => (order[fieldClass[f]] > order[largest] ? fieldClass[f] : largest),
    'ignore',
  );
  return { type, fields };
}

/** The fields hashed, in the order the hash has always used (a reordering would replace every pod). */
const hashedFields = [
  'image',
  'entry',
  'args',
  'parallelism',
  'taskSlots',
  'kafka',
  'checkpoints',
  'taskManager',
] as const;

/**
 * A short hash of the pod-shaping fields: pods carry it as a label, and
 * differing pods are replaced. Kept byte-identical across Weir versions, so an
 * operator upgrade does not restart every job.
 */
export function specHashOf(spec: StreamJobSpec): string {
  const shaping: Record<string, unknown> = Object.fromEntries(
    hashedFields.map((f) => [f, shapingValue(spec, f)]),
  );
  // Only when set, so jobs that never used it keep the hash (and pods) they had before the field existed.
  if (spec.allowNonRestoredState) shaping.allowNonRestoredState = true;
  return createHash('sha256').update(JSON.stringify(shaping)).digest('hex').slice(0, 10);
}
