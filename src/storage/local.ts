import { createReadStream, createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError, VaultError } from '../core/errors.js';
import { assertSafeKey, joinKey, type Storage, type StorageEntry } from './storage.js';

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

export function storageErrorFromFs(e: unknown, op: string, location: string): StorageError {
  const code = (e as NodeJS.ErrnoException)?.code ?? 'EIO';
  if (e instanceof StorageError) return e;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StorageError(
      'DISK_FULL',
      `no space left on the device while writing ${location}`,
      { path: location, op },
      { cause: e },
    );
  }
  if (
    code === 'EACCES' ||
    code === 'EPERM' ||
    code === 'EROFS' ||
    code === 'ENOTDIR' ||
    code === 'EEXIST' ||
    code === 'EISDIR'
  ) {
    return new StorageError(
      'UNWRITABLE',
      `cannot write ${location} (${code})`,
      { path: location, op, errno: code },
      { cause: e },
    );
  }
  if (code === 'ENOENT') {
    return new StorageError(
      'NOT_FOUND',
      `${location} does not exist`,
      { path: location, op },
      { cause: e },
    );
  }
  return new StorageError(
    'IO_ERROR',
    `${op} failed for ${location} (${code})`,
    { path: location, op, errno: code },
    { cause: e },
  );
}

/** A directory on local disk. Directories are created 0700 and files 0600. */
export class LocalDirStorage implements Storage {
  readonly location: string;

  constructor(readonly root: string) {
    this.location = path.resolve(root);
  }

  private pathOf(key: string): string {
    assertSafeKey(key);
    return path.join(this.location, ...key.split('/'));
  }

  async put(
    key: string,
    body: Readable | Uint8Array | string,
    signal?: AbortSignal,
  ): Promise<void> {
    const file = this.pathOf(key);
    // Written under a temporary name, flushed, then renamed: a file is either whole or absent,
    // never truncated (a full disk or a crash while writing manifest.json leaves no manifest).
    const temp = `${file}.partial-${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(path.dirname(file), { recursive: true, mode: DIR_MODE });
      const source =
        typeof body === 'string' || body instanceof Uint8Array
          ? Readable.from([Buffer.from(body)])
          : body;
      await pipeline(
        source,
        createWriteStream(temp, { mode: FILE_MODE, flush: true }),
        signal ? { signal } : {},
      );
      await rename(temp, file);
    } catch (e) {
      await rm(temp, { force: true }).catch(() => undefined);
      if ((e as Error)?.name === 'AbortError') throw e;
      // The body's own failure (a Cognito error, an interruption) is not a storage problem.
      if (e instanceof VaultError) throw e;
      throw storageErrorFromFs(e, 'write', file);
    }
  }

  async get(key: string): Promise<Readable> {
    const file = this.pathOf(key);
    try {
      const s = await stat(file);
      if (!s.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
    } catch (e) {
      throw storageErrorFromFs(e, 'read', file);
    }
    return createReadStream(file);
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch {
      return false;
    }
  }

  async *list(prefix = ''): AsyncIterable<StorageEntry> {
    const start = prefix ? this.pathOf(prefix) : this.location;
    const walk = async function* (dir: string, rel: string): AsyncGenerator<StorageEntry> {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw e;
      }
      for (const ent of entries) {
        const key = joinKey(rel, ent.name);
        const full = path.join(dir, ent.name);
        if (ent.isDirectory()) yield* walk(full, key);
        else if (ent.isFile()) yield { key, bytes: (await stat(full)).size };
      }
    };
    yield* walk(start, prefix);
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  child(prefix: string): Storage {
    assertSafeKey(prefix);
    return new LocalDirStorage(path.join(this.location, ...prefix.split('/')));
  }
}
