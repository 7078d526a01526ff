import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStorageConformance } from '../../e2e/support/storage-conformance.ts';
import { FilesystemStorage } from './filesystem-storage.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-fs-storage-'));
describeStorageConformance('filesystem', () => new FilesystemStorage(root), 'default/job');
