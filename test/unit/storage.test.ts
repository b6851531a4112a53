import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { StorageError } from '../../src/core/errors.js';
import { openStorage, S3Storage } from '../../src/storage/index.js';
import { LocalDirStorage, storageErrorFromFs } from '../../src/storage/local.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { failingBody, listAll, storageConformance } from '../support/storage-conformance.js';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'cv-storage-'));
}

const run = promisify(execFile);

/**
 * A directory whose files cannot be deleted: a read-only tmpfs as root (permissions do not stop
 * root), a 0500 directory otherwise; undefined where neither is possible.
 */
async function undeletable(): Promise<
  { storage: LocalDirStorage; key: string; cleanup: () => Promise<void> } | undefined
> {
  const dir = await tempDir();
  const storage = new LocalDirStorage(dir);
  await storage.put('locked.txt', 'x');
  const cleanup = () => rm(dir, { recursive: true, force: true });
  if (process.getuid?.() !== 0) {
    await chmod(dir, 0o500);
    return { storage, key: 'locked.txt', cleanup: () => chmod(dir, 0o700).then(cleanup) };
  }
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  } catch {
    await cleanup();
    return undefined;
  }
  await storage.put('locked.txt', 'x');
  await run('mount', ['-o', 'remount,ro', dir]);
  return {
    storage,
    key: 'locked.txt',
    cleanup: () => run('umount', [dir]).then(cleanup),
  };
}

/** The directories under `root` that hold no file at any depth (the root itself included). */
async function emptyDirs(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<boolean> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return false; // absent
    }
    let files = false;
    for (const e of entries) {
      if (e.isDirectory()) files = (await walk(path.join(dir, e.name))) || files;
      else files = true;
    }
    if (!files) out.push(path.relative(root, dir) || '.');
    return files;
  };
  await walk(root);
  return out;
}

storageConformance('LocalDirStorage', async () => {
  const dir = await tempDir();
  const root = path.join(dir, 'root');
  return {
    storage: new LocalDirStorage(root),
    cleanup: () => rm(dir, { recursive: true, force: true }),
    failingDelete: undeletable,
    residue: () => emptyDirs(root),
  };
});

storageConformance('MemoryStorage', async () => ({ storage: new MemoryStorage() }), {
  deleteCanFail: false,
});

const errnoError = (code: string, message: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: ${message}`), { code, errno: -28, syscall: 'write' });

describe('LocalDirStorage specifics', () => {
  it('creates directories 0700 and files 0600, however deep', async () => {
    const dir = await tempDir();
    try {
      const s = new LocalDirStorage(path.join(dir, 'backups'));
      await s.child('us-east-1_abc/2026-01-01T00-00-00-000Z').put('users/part-00000.jsonl.gz', 'x');
      await s.put('top.json', '{}');
      const walk = async (p: string): Promise<void> => {
        const st = await stat(p);
        if (st.isDirectory()) {
          expect({ path: p, mode: st.mode & 0o777 }).toEqual({ path: p, mode: 0o700 });
          for (const e of await readdir(p)) await walk(path.join(p, e));
        } else {
          expect({ path: p, mode: st.mode & 0o777 }).toEqual({ path: p, mode: 0o600 });
        }
      };
      await walk(path.join(dir, 'backups'));
      expect(await listAll(s)).toEqual(
        new Map([
          ['us-east-1_abc/2026-01-01T00-00-00-000Z/users/part-00000.jsonl.gz', 1],
          ['top.json', 2],
        ]),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps 0600 even when the process umask is permissive', async () => {
    const dir = await tempDir();
    const old = process.umask(0);
    try {
      const s = new LocalDirStorage(dir);
      await s.put('a/b.json', '{}');
      expect((await stat(path.join(dir, 'a', 'b.json'))).mode & 0o777).toBe(0o600);
      expect((await stat(path.join(dir, 'a'))).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(old);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a root below a regular file is UNWRITABLE (ENOTDIR), exit 8', async () => {
    const dir = await tempDir();
    try {
      await writeFile(path.join(dir, 'file.txt'), 'not a directory');
      const s = new LocalDirStorage(path.join(dir, 'file.txt', 'sub'));
      const err = await s.put('x.json', '{}').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ code: 'UNWRITABLE', exitCode: 8 });
      expect((err as StorageError).message).toMatch(/ENOTDIR/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a write that runs out of space mid-stream is DISK_FULL and leaves no file', async () => {
    const dir = await tempDir();
    try {
      const s = new LocalDirStorage(dir);
      const err = await s
        .put(
          'users/part-00003.jsonl.gz',
          failingBody(300_000, errnoError('ENOSPC', 'no space left on device')),
        )
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ code: 'DISK_FULL', exitCode: 8 });
      expect((err as StorageError).message).toMatch(/no space left/);
      expect((err as StorageError).message).toMatch(/part-00003/);
      // Neither the file nor its temporary sibling survives.
      expect(await listAll(s)).toEqual(new Map());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('maps filesystem errno codes to storage error codes', () => {
    expect(storageErrorFromFs(errnoError('ENOSPC', 'x'), 'write', '/p').code).toBe('DISK_FULL');
    expect(storageErrorFromFs(errnoError('EDQUOT', 'x'), 'write', '/p').code).toBe('DISK_FULL');
    for (const c of ['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR']) {
      expect(storageErrorFromFs(errnoError(c, 'x'), 'write', '/p').code).toBe('UNWRITABLE');
    }
    expect(storageErrorFromFs(errnoError('ENOENT', 'x'), 'read', '/p').code).toBe('NOT_FOUND');
    const io = storageErrorFromFs(errnoError('EIO', 'x'), 'read', '/p');
    expect(io).toMatchObject({ code: 'IO_ERROR', exitCode: 8 });
  });

  it('get of a directory is NOT_FOUND, not a stream of garbage', async () => {
    const dir = await tempDir();
    try {
      const s = new LocalDirStorage(dir);
      await s.put('d/file', 'x');
      await expect(s.get('d')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('openStorage', () => {
  it('opens s3:// URLs as S3Storage and anything else as a local directory', () => {
    const s3 = openStorage('s3://my-bucket/some/prefix', {
      region: 'us-east-1',
      s3EndpointUrl: 'http://127.0.0.1:1',
    });
    expect(s3).toBeInstanceOf(S3Storage);
    expect(s3.location).toBe('s3://my-bucket/some/prefix');
    expect(s3.child('pool/snap').location).toBe('s3://my-bucket/some/prefix/pool/snap');
    const local = openStorage('./relative/dir');
    expect(local).toBeInstanceOf(LocalDirStorage);
    expect(local.location).toBe(path.resolve('relative/dir'));
  });
});
