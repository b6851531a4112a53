import { createReadStream, createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError, VaultError } from '../core/errors.js';
import {
  abortReason,
  assertSafeKey,
  destroyOnAbort,
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
    code === 'ERR_FS_EISDIR' ||
    code === 'ELOOP' ||
    code === 'ENAMETOOLONG' ||
    code === 'EINVAL' ||
    code === 'EBADF' ||
    // A new directory the kernel refuses with ENOENT although its parent exists (/proc).
    (code === 'ENOENT' && op === 'mkdir')
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

function errno(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * Creates `dir` and any missing parents (mode 0700), one level at a time. Node's
 * `mkdir(…, { recursive: true })` loops forever, at 100 % CPU and deaf to signals, when the
 * kernel answers ENOENT for a directory whose parent exists (`/proc/x`, some FUSE and network
 * file systems); here every failure is an error at once.
 */
export async function makeDir(dir: string, mode = DIR_MODE): Promise<void> {
  const missing: string[] = [];
  let cur = path.resolve(dir);
  for (;;) {
    let s;
    try {
      s = await stat(cur);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const parent = path.dirname(cur);
      if (code !== 'ENOENT' || parent === cur) throw e;
      missing.push(cur);
      cur = parent;
      continue;
    }
    if (!s.isDirectory()) throw errno('ENOTDIR', `${cur} is not a directory`);
    break;
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(d)).isDirectory()) continue;
      throw e;
    }
  }
}

async function rmdirQuiet(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch {
    // gone already
  }
}

/** The nearest existing ancestor of `p` (or `p` itself), with what it is. */
async function nearestExisting(p: string): Promise<{ path: string; dir: boolean }> {
  let cur = path.resolve(p);
  for (;;) {
    try {
      const s = await stat(cur);
      return { path: cur, dir: s.isDirectory() };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const parent = path.dirname(cur);
      if (code !== 'ENOENT' || parent === cur) throw e;
      cur = parent;
    }
  }
}

/**
 * Checks, writing nothing, that `dir` is (or can be created as) a writable directory: the
 * nearest existing ancestor is a directory the process may write into. StorageError (exit 8)
 * otherwise. Used by preflights, before any snapshot byte is read or any Cognito write.
 */
export async function assertWritableDir(dir: string, what = 'directory'): Promise<void> {
  const full = path.resolve(dir);
  try {
    const near = await nearestExisting(full);
    if (!near.dir) throw errno('ENOTDIR', `${near.path} is not a directory`);
    // access() reports EROFS for W_OK on a read-only file system.
    await access(near.path, constants.W_OK | constants.X_OK);
    if (near.path !== full) {
      // Names the file system could never hold fail here, before anything is created.
      for (const part of path.relative(near.path, full).split(path.sep)) {
        if (Buffer.byteLength(part) > 255) throw errno('ENAMETOOLONG', `${part} is too long`);
      }
      if (Buffer.byteLength(full) >= 4096) throw errno('ENAMETOOLONG', `${full} is too long`);
      // Some file systems refuse a new directory whatever the mode says (/proc answers
      // ENOENT, a full disk ENOSPC): create a directory there and take it away again. Its name
      // is this check's own, never a level of `dir`: two runs checking the same path at once
      // (two restores of one state directory, which the lock then arbitrates) must not create
      // and remove each other's directories.
      const probe = path.join(
        near.path,
        `.cognito-vault-probe-${process.pid}-${randomBytes(4).toString('hex')}`,
      );
      await mkdir(probe, { mode: DIR_MODE });
      await rmdirQuiet(probe);
    }
  } catch (e) {
    const err = storageErrorFromFs(e, 'mkdir', full);
    throw new StorageError(
      err.code,
      `cannot write ${what} ${full} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      { path: full, errno: (e as NodeJS.ErrnoException).code ?? 'error' },
      { cause: e },
    );
  }
}

/**
 * Checks, writing nothing, that `file` can be written: it is a writable regular file, or it is
 * absent and its directory can be created and written.
 */
export async function assertWritableFile(file: string, what = 'file'): Promise<void> {
  const full = path.resolve(file);
  let s;
  try {
    s = await lstat(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return assertWritableDir(path.dirname(full), `the directory of ${what}`);
    throw new StorageError(
      'UNWRITABLE',
      `cannot write ${what} ${full} (${code ?? 'error'})`,
      { path: full, errno: code ?? 'error' },
      { cause: e },
    );
  }
  // A symlink is followed by the write; check what it points at.
  const target = s.isSymbolicLink() ? await stat(full).catch(() => undefined) : s;
  if (!target || !target.isFile()) {
    throw new StorageError(
      'UNWRITABLE',
      `cannot write ${what} ${full} (${target?.isDirectory() ? 'EISDIR' : 'not a regular file'})`,
      { path: full },
    );
  }
  await assertWritableDir(path.dirname(full), `the directory of ${what}`);
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
      try {
        await makeDir(path.dirname(file));
      } catch (e) {
        throw storageErrorFromFs(e, 'mkdir', path.dirname(file));
      }
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
      if (signal?.aborted) throw abortReason(signal);
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

  async get(key: string, signal?: AbortSignal): Promise<Readable> {
    const file = this.pathOf(key);
    if (signal?.aborted) throw abortReason(signal);
    try {
      const s = await stat(file);
      if (!s.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
    } catch (e) {
      throw storageErrorFromFs(e, 'read', file);
    }
    // Errors while streaming (the file removed before it is opened, EIO) are storage errors too.
    return destroyOnAbort(
      mapStreamErrors(createReadStream(file), (e) => storageErrorFromFs(e, 'read', file)),
      signal,
    );
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
    if (!prefix) {
      // A root that is a file is a mistake, not an empty root.
      const s = await stat(start).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw storageErrorFromFs(e, 'list', start);
      });
      if (s && !s.isDirectory())
        throw storageErrorFromFs(errno('ENOTDIR', `${start} is not a directory`), 'list', start);
    }
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
