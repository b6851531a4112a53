import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
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

/**
 * Opens a new file (0600) for writing, never overwriting one: EXISTS (exit 8) when `file` is
 * there, UNWRITABLE when it cannot be created. `what` names it in the message ("--details",
 * "the plan file").
 */
export async function createNewPrivateFile(file: string, what: string): Promise<WriteStream> {
  const out = createWriteStream(file, { flags: 'wx', mode: FILE_MODE });
  try {
    // `once` rejects with the stream's error (EEXIST: the file is there; never overwritten).
    await once(out, 'open');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new StorageError(
      err.code === 'EEXIST' ? 'EXISTS' : 'UNWRITABLE',
      err.code === 'EEXIST'
        ? `${what} ${file} already exists; give another file`
        : `cannot write ${what} ${file} (${err.code ?? 'error'})`,
      { path: file },
    );
  }
  return out;
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

/** Open flags that refuse a symbolic link as the last component (ELOOP). */
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * The error for a symbolic link met below a storage root: the tool never reads, writes,
 * deletes or sweeps through one (a planted `locks -> /home/you` would otherwise receive the
 * tool's writes and lose its empty directories). Exit 8; readers of a snapshot report it as an
 * invalid snapshot (exit 3).
 */
export function symlinkRefused(full: string, op: string): StorageError {
  return new StorageError(
    'SYMLINK_REFUSED',
    `refusing to ${op} ${full}: it is a symbolic link, or lies under one, inside the storage root`,
    { path: full, op },
  );
}

/**
 * A directory on local disk. Directories are created 0700 and files 0600.
 *
 * Symbolic links: the root the user names may be (or lie under) a link; nothing below it is
 * followed. Every path the storage reads, writes, deletes or sweeps is checked with `lstat`
 * level by level below the root, files are opened with O_NOFOLLOW, `list` does not descend into
 * or list links, and `stat` reports a link as no object. A link is a StorageError
 * SYMLINK_REFUSED (`symlinkRefused`).
 */
export class LocalDirStorage implements Storage {
  readonly location: string;
  /** The root the user named: links at or above it are the user's; below it none is followed. */
  private readonly base: string;

  constructor(
    readonly root: string,
    base?: string,
  ) {
    this.location = path.resolve(root);
    this.base = base === undefined ? this.location : path.resolve(base);
  }

  private pathOf(key: string): string {
    assertSafeKey(key);
    return path.join(this.location, ...key.split('/'));
  }

  /**
   * Checks with lstat every existing level of `full` below the base (the base itself excluded,
   * `full` included unless `lastToo` is false): a symbolic link there is SYMLINK_REFUSED. Levels
   * that do not exist end the check (nothing below them exists either).
   */
  private async assertNoLinks(full: string, op: string, lastToo = true): Promise<void> {
    const rel = path.relative(this.base, full);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return;
    const parts = rel.split(path.sep);
    const upto = lastToo ? parts.length : parts.length - 1;
    let cur = this.base;
    for (let i = 0; i < upto; i++) {
      cur = path.join(cur, parts[i] ?? '');
      let s;
      try {
        s = await lstat(cur);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw storageErrorFromFs(e, op, cur);
      }
      if (s.isSymbolicLink()) throw symlinkRefused(cur, op);
    }
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
      // No level below the root may be a link: neither the directories (created here, or
      // found) nor the object (rename replaces a link at `file`, never writes through it).
      await this.assertNoLinks(path.dirname(file), 'write');
      try {
        await makeDir(path.dirname(file));
      } catch (e) {
        throw storageErrorFromFs(e, 'mkdir', path.dirname(file));
      }
      await this.assertNoLinks(path.dirname(file), 'write');
      const source =
        typeof body === 'string' || body instanceof Uint8Array
          ? Readable.from([Buffer.from(body)])
          : body;
      await pipeline(
        source,
        createWriteStream(temp, {
          mode: FILE_MODE,
          flush: true,
          // A new file, never one planted at the temporary name: O_CREAT|O_EXCL fails on any
          // existing name, a (dangling) link included, and never follows one.
          flags: 'wx',
        }),
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
      if (e instanceof StorageError) throw e;
      // The body's own failure (a Cognito error, an interruption) is not a storage problem.
      if (e instanceof VaultError) throw e;
      throw storageErrorFromFs(e, 'write', file);
    }
  }

  async get(key: string, signal?: AbortSignal): Promise<Readable> {
    const file = this.pathOf(key);
    if (signal?.aborted) throw abortReason(signal);
    let handle;
    try {
      await this.assertNoLinks(file, 'read');
      // O_NOFOLLOW: a link put in place after the check is refused by the kernel (ELOOP).
      handle = await open(file, constants.O_RDONLY | O_NOFOLLOW);
      const s = await handle.stat();
      if (!s.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
    } catch (e) {
      await handle?.close().catch(() => undefined);
      if ((e as NodeJS.ErrnoException)?.code === 'ELOOP') throw symlinkRefused(file, 'read');
      throw storageErrorFromFs(e, 'read', file);
    }
    // Errors while streaming (EIO) are storage errors too.
    return destroyOnAbort(
      mapStreamErrors(createReadStream('', { fd: handle }), (e) =>
        storageErrorFromFs(e, 'read', file),
      ),
      signal,
    );
  }

  async stat(key: string): Promise<StorageStat | undefined> {
    const file = this.pathOf(key);
    try {
      // A link (or an object under one) is no object: never the size of what it points at.
      await this.assertNoLinks(file, 'stat', false);
      const s = await lstat(file);
      return s.isFile() ? { bytes: s.size, modified: s.mtime } : undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException)?.code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      if (e instanceof StorageError && e.code === 'SYMLINK_REFUSED') return undefined;
      throw storageErrorFromFs(e, 'stat', file);
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async *list(prefix = ''): AsyncIterable<StorageEntry> {
    const start = prefix ? this.pathOf(prefix) : this.location;
    // Never list through a link below the root (a planted `locks -> /elsewhere`).
    if (prefix) await this.assertNoLinks(start, 'list');
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
            s = await lstat(full);
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
      // rm removes a link itself, never its target; a linked directory above is refused.
      await this.assertNoLinks(file, 'delete', false);
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
    // A root below the base that is (or lies under) a link is not swept at all: the sweep would
    // remove empty directories wherever the link points. Inside, links are never descended
    // into (a dirent of a link is not a directory).
    try {
      await this.assertNoLinks(this.location, 'sweep');
    } catch {
      return;
    }
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
    return new LocalDirStorage(path.join(this.location, ...prefix.split('/')), this.base);
  }
}
