import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CheckpointStorage, ObjectMissingError } from '../../src/storage/checkpoint-storage.ts';

/** The behaviour every CheckpointStorage must have; run against the filesystem and against MinIO. */
export function describeStorageConformance(
  name: string,
  storage: () => CheckpointStorage,
  prefix: string,
): void {
  describe(`CheckpointStorage conformance: ${name}`, () => {
    const payload = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

    it('puts an object and reads it back whole and by byte range', async () => {
      const s = storage();
      await s.put(`${prefix}/runs/r1/state/s0/t0/1-a.snap`, payload);
      assert.deepEqual(await s.get(`${prefix}/runs/r1/state/s0/t0/1-a.snap`), payload);
      assert.deepEqual(
        await s.get(`${prefix}/runs/r1/state/s0/t0/1-a.snap`, { start: 100, length: 50 }),
        payload.subarray(100, 150),
      );
    });

    it('puts an object given as parts, read back as one', async () => {
      const s = storage();
      const parts = [
        payload.subarray(0, 1),
        payload.subarray(1, 600),
        Buffer.alloc(0),
        payload.subarray(600),
      ];
      await s.put(`${prefix}/runs/r1/state/s0/t0/2-a.snap`, parts);
      assert.deepEqual(await s.get(`${prefix}/runs/r1/state/s0/t0/2-a.snap`), payload);
    });

    it('lists keys under a prefix, sorted, and deletes idempotently', async () => {
      const s = storage();
      await s.put(`${prefix}/list/b`, Buffer.from('b'));
      await s.put(`${prefix}/list/a/x`, Buffer.from('a'));
      await s.put(`${prefix}/other`, Buffer.from('o'));
      assert.deepEqual(await s.list(`${prefix}/list/`), [`${prefix}/list/a/x`, `${prefix}/list/b`]);
      await s.delete(`${prefix}/list/b`);
      await s.delete(`${prefix}/list/b`);
      assert.deepEqual(await s.list(`${prefix}/list/`), [`${prefix}/list/a/x`]);
    });

    it('names a missing object in a non-retriable error', async () => {
      const s = storage();
      await assert.rejects(s.get(`${prefix}/nothing-here.snap`), (error: unknown) => {
        assert.ok(error instanceof ObjectMissingError);
        assert.equal(error.retriable, false);
        assert.equal(error.code, 'SNAPSHOT_MISSING');
        assert.match(error.message, /nothing-here\.snap/);
        return true;
      });
    });

    it('rejects keys that could escape the prefix', async () => {
      const s = storage();
      for (const key of ['', '/abs', 'a/../b', 'a//b']) {
        await assert.rejects(s.put(key, payload), /invalid storage key/);
      }
    });
  });
}
