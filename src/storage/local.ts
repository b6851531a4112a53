import { createReadStream, createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError, VaultError } from '../core/errors.js';
import {
  assertSafeKey,
  joinKey,
  type Storage,
  type StorageEntry,
  type StorageStat,
} from './storage.js';

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
    code === 'EISDIR' ||
    code === 'ERR_FS_EISDIR'
  ) {
    return new StorageError(
      'UNWRITABLE',
      `cannot ${op} ${location} (${code})`,
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

/** Passes a stream's bytes through, turning its errors into `map(error)`. */
export function mapStreamErrors(source: Readable, map: (e: unknown) => Error): Readable {
  const out = new PassThrough();
  source.on('error', (e) => out.destroy(map(e)));
  out.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
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
    retried = false,
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
      // The directory was removed between mkdir and the write (a prune or a lease release
      // sweeping empty directories): a body we still have whole is written again, once.
      if (
        (e as NodeJS.ErrnoException)?.code === 'ENOENT' &&
        (typeof body === 'string' || body instanceof Uint8Array) &&
        !retried
      ) {
        return this.put(key, body, signal, true);
      }
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
    // Errors while streaming (the file removed before it is opened, EIO) are storage errors too.
    return mapStreamErrors(createReadStream(file), (e) => storageErrorFromFs(e, 'read', file));
  }

  async stat(key: string): Promise<StorageStat | undefined> {
    const file = this.pathOf(key);
    try {
      const s = await stat(file);
      return s.isFile() ? { bytes: s.size, modified: s.mtime } : undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException)?.code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw storageErrorFromFs(e, 'stat', file);
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async *list(prefix = ''): AsyncIterable<StorageEntry> {
    const start = prefix ? this.pathOf(prefix) : this.location;
    const walk = async function* (dir: string, rel: string): AsyncGenerator<StorageEntry> {
      // A running backup renames `x.partial-…` to `x` while we read: the old name vanishes
      // between readdir and stat. Such an entry is skipped and the directory read again (the new
      // name is then listed), a few times at most; a vanished directory is simply empty.
      const seen = new Set<string>();
      for (let pass = 0; pass < 5; pass++) {
        let entries;
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'ENOTDIR') return;
          throw storageErrorFromFs(e, 'list', dir);
        }
        let vanished = false;
        for (const ent of entries) {
          if (seen.has(ent.name)) continue;
          const key = joinKey(rel, ent.name);
          const full = path.join(dir, ent.name);
          if (ent.isDirectory()) {
            seen.add(ent.name);
            yield* walk(full, key);
            continue;
          }
          if (!ent.isFile()) continue;
          let s;
          try {
            s = await stat(full);
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code === 'ENOENT') {
              vanished = true;
              continue;
            }
            throw storageErrorFromFs(e, 'list', full);
          }
          seen.add(ent.name);
          if (s.isFile()) yield { key, bytes: s.size, modified: s.mtime };
        }
        if (!vanished) return;
      }
    };
    yield* walk(start, prefix);
  }

  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    try {
      await rm(file, { force: true });
    } catch (e) {
      throw storageErrorFromFs(e, 'delete', file);
    }
  }

  /**
   * Removes empty directories below the root, deepest first, and the root itself when it ends
   * up empty. Never removes a file: a directory something was written into meanwhile stays.
   */
  async removeEmptyDirs(): Promise<void> {
    const sweep = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const ent of entries) if (ent.isDirectory()) await sweep(path.join(dir, ent.name));
      await rmdir(dir).catch(() => undefined); // ENOTEMPTY: something is still there
    };
    await sweep(this.location);
  }

  child(prefix: string): Storage {
    assertSafeKey(prefix);
    return new LocalDirStorage(path.join(this.location, ...prefix.split('/')));
  }
}
