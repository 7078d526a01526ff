import { RuntimeError } from '../errors.ts';

/**
 * What a committed source offset carries in its metadata: the checkpoint that
 * committed it and the pointer to the partition's state section, so that the
 * offset and the state it belongs to become visible in one transaction.
 */
export interface PartitionPointer {
  checkpointId: number;
  /** Object key relative to the storage prefix. */
  objectKey: string;
  start: number;
  length: number;
  sha256: string;
  /**
   * With a changelog: the section holds the partition's state as its
   * changelog partition stood at this offset, and a restore replays the
   * changelog from here to its committed end. Undefined: the section is all
   * of it (at-least-once, and savepoints).
   */
  changelogFrom?: number;
}

/**
 * Metadata versions: 1, a section; 2, a section and the changelog offset it
 * covers. A pointer without a changelog is still written as 1, so a job that
 * logs nothing reads the same as before; a Weir that knows only 1 refuses 2
 * rather than restore the section without its changelog.
 */
const sectionOnly = 1;
const withChangelog = 2;

/** librdkafka's offset.metadata.max.bytes default is 4096; stay clear of it. */
export const maxCommitMetadataBytes = 4000;

interface Wire {
  v: number;
  c: number;
  o: string;
  s: number;
  l: number;
  h: string;
  f?: number;
}

export function encodeCommitMetadata(pointer: PartitionPointer): string {
  const wire: Wire = {
    v: pointer.changelogFrom === undefined ? sectionOnly : withChangelog,
    c: pointer.checkpointId,
    o: pointer.objectKey,
    s: pointer.start,
    l: pointer.length,
    h: pointer.sha256,
    ...(pointer.changelogFrom === undefined ? {} : { f: pointer.changelogFrom }),
  };
  const text = JSON.stringify(wire);
  if (Buffer.byteLength(text) > maxCommitMetadataBytes) {
    throw new RuntimeError(
      'COMMIT_METADATA_TOO_LARGE',
      `commit metadata for ${pointer.objectKey} is ${Buffer.byteLength(text)} bytes, over ${maxCommitMetadataBytes}: shorten the storage prefix or job name`,
      false,
    );
  }
  return text;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Parses the metadata of a committed offset. Anything other than a pointer
 * Weir wrote is an error naming the partition: guessing would mean restoring
 * wrong or empty state.
 */
export function decodeCommitMetadata(where: string, metadata: string | undefined): PartitionPointer {
  const fail = (problem: string): never => {
    throw new RuntimeError('COMMIT_METADATA_INVALID', `committed offset of ${where}: ${problem}`, false);
  };
  if (metadata === undefined || metadata === '') {
    return fail(
      'has no metadata, so it names no state snapshot (was it committed by something other than Weir?)',
    );
  }
  let wire: Partial<Wire>;
  try {
    wire = JSON.parse(metadata) as Partial<Wire>;
  } catch {
    return fail(`metadata is not Weir's (${JSON.stringify(metadata.slice(0, 80))})`);
  }
  if (wire.v !== sectionOnly && wire.v !== withChangelog) {
    return fail(
      `metadata format version ${String(wire.v)}; this Weir reads ${sectionOnly} and ${withChangelog}`,
    );
  }
  if (wire.v === withChangelog && !isCount(wire.f)) {
    return fail(`metadata names no changelog offset (${JSON.stringify(metadata.slice(0, 200))})`);
  }
  if (
    !isCount(wire.c) ||
    typeof wire.o !== 'string' ||
    wire.o === '' ||
    !isCount(wire.s) ||
    !isCount(wire.l) ||
    typeof wire.h !== 'string' ||
    !/^[0-9a-f]{64}$/.test(wire.h)
  ) {
    return fail(`metadata is incomplete (${JSON.stringify(metadata.slice(0, 200))})`);
  }
  return {
    checkpointId: wire.c,
    objectKey: wire.o,
    start: wire.s,
    length: wire.l,
    sha256: wire.h,
    ...(wire.v === withChangelog ? { changelogFrom: wire.f as number } : {}),
  };
}
