import { constants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import {
  type CheckpointStorage,
  checkKey,
  type ObjectBytes,
  ObjectMissingError,
  StorageUnavailableError,
} from './checkpoint-storage.ts';

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Checkpoints in a local directory, for `weir run --local` and tests. Writes are atomic (temp file, fsync, rename). */
export class FilesystemStorage implements CheckpointStorage {
  private readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  describe(key: string): string {
    return join(this.root, key);
  }

  async put(key: string, bytes: ObjectBytes): Promise<void> {
    checkKey(key);
    const path = this.describe(key);
    const temporary = `${path}.partial-${process.pid}`;
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(temporary, bytes);
      const handle = await open(temporary, 'r');
      await handle.sync();
      await handle.close();
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw new StorageUnavailableError('put', path, error);
    }
  }

  async get(key: string, range?: { start: number; length: number }): Promise<Buffer> {
    checkKey(key);
    const path = this.describe(key);
    try {
      if (!range) return await readFile(path);
      const handle = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(range.length);
        const { bytesRead } = await handle.read(buffer, 0, range.length, range.start);
        return buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (isMissing(error)) throw new ObjectMissingError(path, { cause: error });
      throw new StorageUnavailableError('get', path, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isMissing(error)) return;
        throw new StorageUnavailableError('list', dir, error);
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (!entry.name.includes('.partial-')) keys.push(relative(this.root, path).split(sep).join('/'));
      }
    };
    await walk(this.root);
    return keys.filter((k) => k.startsWith(prefix)).sort();
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await rm(this.describe(key), { force: true });
  }

  async check(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
      await access(this.root, constants.W_OK);
    } catch (error) {
      throw new StorageUnavailableError('check', this.root, error);
    }
  }
}
