import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SnapshotCorruptError } from '../errors.ts';
import {
  assembleSnapshotInSlices,
  decodeSection,
  encodeSection,
  encodeSectionInSlices,
  encodeSnapshot,
  type PartitionState,
  readSnapshotIndex,
  verifiedSection,
} from './snapshot-format.ts';

const key = 'default/wc/runs/r1/state/s0/t0/7-a1b2.snap';
const owner = { task: 's0/t0', checkpointId: 7, attempt: 'a1b2' };

function partition(p: number, entries: Record<string, string>): PartitionState {
  return {
    topic: 'words',
    partition: p,
    stores: new Map([
      ['count/value', new Map(Object.entries(entries).map(([k, v]) => [k, Buffer.from(v)]))],
      ['seen/map', new Map([[`k${p}`, Buffer.from([0, 1, 2, 255])]])],
    ]),
  };
}

function corruptsWith(action: () => unknown, problem: RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof SnapshotCorruptError);
    assert.equal(error.code, 'SNAPSHOT_CORRUPT');
    assert.equal(error.retriable, false);
    assert.match(error.message, new RegExp(key.replaceAll('.', '\\.')));
    assert.match(error.message, problem);
    return true;
  });
}

describe('snapshot format', () => {
  const partitions = [
    partition(0, { a: '1', b: '22' }),
    partition(3, {}),
    partition(5, { ü: 'x'.repeat(1000) }),
  ];
  const { bytes, index } = encodeSnapshot(owner, partitions);

  it('round-trips every partition through its own byte range', () => {
    assert.deepEqual(readSnapshotIndex(key, bytes), index);
    assert.equal(index.sections.length, 3);
    for (const [i, range] of index.sections.entries()) {
      const section = verifiedSection(key, range, bytes.subarray(range.start, range.start + range.length));
      const decoded = decodeSection(key, section);
      assert.deepEqual(decoded, (partitions[i] as PartitionState).stores);
    }
  });

  it('encodes equal state to equal bytes, whatever the insertion order', () => {
    const forward = new Map([
      [
        's',
        new Map([
          ['a', Buffer.from('1')],
          ['b', Buffer.from('2')],
        ]),
      ],
    ]);
    const backward = new Map([
      [
        's',
        new Map([
          ['b', Buffer.from('2')],
          ['a', Buffer.from('1')],
        ]),
      ],
    ]);
    assert.deepEqual(encodeSection(forward), encodeSection(backward));
  });

  const table: [string, () => Buffer, RegExp][] = [
    ['an empty object', () => Buffer.alloc(0), /too short/],
    ['another file', () => Buffer.concat([Buffer.from('PK\x03\x04'), bytes.subarray(4)]), /bad header/],
    ['a truncated object', () => bytes.subarray(0, bytes.length - 10), /trailer|sha256/],
    [
      'a flipped bit in a section',
      () => {
        const copy = Buffer.from(bytes);
        const at = (index.sections[0]?.start ?? 0) + 5;
        copy.writeUInt8(copy.readUInt8(at) ^ 1, at);
        return copy;
      },
      /sha256 mismatch/,
    ],
    [
      'a newer format version',
      () => {
        const copy = Buffer.from(bytes);
        copy.writeUInt16BE(2, 8);
        return copy;
      },
      /format version 2/,
    ],
  ];
  for (const [what, corrupt, problem] of table) {
    it(`names the object for ${what}`, () => corruptsWith(() => readSnapshotIndex(key, corrupt()), problem));
  }

  it('rejects a ranged read whose bytes fail the pointer checksum or length', () => {
    const range = index.sections[1];
    assert.ok(range);
    const section = Buffer.from(bytes.subarray(range.start, range.start + range.length));
    section.writeUInt8(section.readUInt8(0) ^ 0x80, 0);
    corruptsWith(() => verifiedSection(key, range, section), /words\/3 fails its sha256/);
    corruptsWith(() => verifiedSection(key, range, section.subarray(1)), /expected/);
  });

  it('rejects a section that ends in the middle of an entry', () => {
    const section = encodeSection((partitions[0] as PartitionState).stores);
    corruptsWith(() => decodeSection(key, section.subarray(0, section.length - 1)), /truncated/);
  });
});

describe('a snapshot encoded in slices (background materialization)', () => {
  it('decodes to the same state, and its object verifies like one encoded at once', async () => {
    const stores = new Map([
      [
        'op/count',
        new Map(Array.from({ length: 10_000 }, (_, i) => [`"k${i}"`, Buffer.from(String(i))] as const)),
      ],
      ['op/__timers', new Map([['e0000000000001000\u0000"k1"', Buffer.from('1')]])],
      ['op/big', new Map([['b', Buffer.alloc(3 << 20, 1)]])],
    ]);
    let pauses = 0;
    const pause = async () => {
      pauses++;
    };
    const section = await encodeSectionInSlices(
      [...stores.keys()],
      (name) => stores.get(name)?.entries() ?? [],
      pause,
      1_000,
    );
    assert.ok(pauses >= 10, `paused every slice (${pauses})`);
    assert.ok(section.length > 1, 'the section comes as several chunks');
    assert.deepEqual(decodeSection('k', Buffer.concat(section)), stores);
    const owner = { task: 's0/t0', checkpointId: 3, attempt: 'ab' };
    const sliced = await assembleSnapshotInSlices(owner, [{ topic: 'in', partition: 2, section }], pause);
    const whole = Buffer.concat(sliced.bytes);
    const index = readSnapshotIndex('k', whole);
    assert.deepEqual(index, sliced.index);
    const range = index.sections[0];
    assert.ok(range);
    assert.deepEqual(
      decodeSection(
        'k',
        verifiedSection('k', range, whole.subarray(range.start, range.start + range.length)),
      ),
      stores,
    );
  });
});

describe("a section larger than the encoder's chunks", () => {
  it('round-trips entries that straddle chunk boundaries, values over a chunk and stores with no entries', () => {
    const big = Buffer.alloc(3 * (1 << 20) + 17, 7);
    const stores = new Map<string, Map<string, Buffer>>([
      ['op/empty', new Map()],
      [
        'op/values',
        new Map([
          ...Array.from(
            { length: 40_000 },
            (_, i) => [`key-${i}-${'é'.repeat(i % 7)}`, Buffer.from(`v${i}`)] as const,
          ),
          ['big', big] as const,
        ]),
      ],
    ]);
    const section = encodeSection(stores);
    assert.ok(section.length > 4 * (1 << 20));
    assert.deepEqual(decodeSection('k', section), stores);
  });
});
