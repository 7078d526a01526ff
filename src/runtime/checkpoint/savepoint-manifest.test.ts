import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FilesystemStorage } from '../../storage/filesystem-storage.ts';
import {
  readManifest,
  type SavepointManifestPart,
  unrestorableOperators,
  writeManifestPart,
} from './savepoint-manifest.ts';

const pointer = {
  checkpointId: 3,
  objectKey: 'ns/job/savepoints/sp/t0/3-a.snap',
  start: 12,
  length: 9,
  sha256: 'ab'.repeat(32),
};
function part(tasks: number[], overrides: Partial<SavepointManifestPart> = {}): SavepointManifestPart {
  return {
    formatVersion: 1,
    savepointId: 'sp',
    namespace: 'ns',
    job: 'job',
    runId: 'r1',
    parallelism: 3,
    tasks,
    createdAt: `2026-11-22T00:00:0${tasks[0]}Z`,
    operatorIds: ['count'],
    partitions: tasks.map((t) => ({ topic: 'in', partition: t, offset: 10 * t, pointer })),
    ...overrides,
  };
}

describe('savepoint manifest', () => {
  it('merges the parts of every TaskManager', async () => {
    const storage = new FilesystemStorage(mkdtempSync(join(tmpdir(), 'weir-sp-')));
    await writeManifestPart(storage, part([0, 1]));
    await writeManifestPart(storage, part([2], { operatorIds: ['count', 'dedupe'] }));
    const manifest = await readManifest(storage, 'ns', 'job', 'sp');
    assert.equal(manifest.partitions.length, 3);
    assert.deepEqual(manifest.operatorIds, ['count', 'dedupe']);
    assert.equal(manifest.createdAt, '2026-11-22T00:00:00Z');
  });

  const broken: [string, SavepointManifestPart[], RegExp][] = [
    ['a part missing', [part([0, 1])], /incomplete: no manifest part for task\(s\) 2/],
    ['parts of different layouts', [part([0, 1]), part([2], { parallelism: 4 })], /disagree/],
    ['another format version', [part([0, 1, 2], { formatVersion: 9 })], /format version 9/],
  ];
  for (const [what, parts, problem] of broken) {
    it(`rejects ${what}, naming the savepoint`, async () => {
      const storage = new FilesystemStorage(mkdtempSync(join(tmpdir(), 'weir-sp-')));
      for (const p of parts) await writeManifestPart(storage, p);
      await assert.rejects(readManifest(storage, 'ns', 'job', 'sp'), (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'SAVEPOINT_INVALID');
        assert.match((error as Error).message, /ns\/job\/savepoints\/sp\//);
        assert.match((error as Error).message, problem);
        return true;
      });
    });
  }

  it('says which savepoint does not exist', async () => {
    const storage = new FilesystemStorage(mkdtempSync(join(tmpdir(), 'weir-sp-')));
    await assert.rejects(readManifest(storage, 'ns', 'job', 'nope'), {
      code: 'SNAPSHOT_MISSING',
      message: /savepoints\/nope\//,
    });
  });

  it('lists the operator ids whose state a restore would drop', () => {
    assert.deepEqual(unrestorableOperators(['count', 'dedupe'], ['count']), ['dedupe']);
    assert.deepEqual(unrestorableOperators(['count'], ['count', 'new-step']), []);
  });
});
