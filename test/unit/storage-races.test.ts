import { mkdtemp, rename as realRename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

/**
 * Filesystem races and errors LocalDirStorage must turn into listings or StorageErrors, never
 * an unmapped error (exit 1): node:fs/promises' stat is wrapped so a test can act between
 * readdir and stat (a running backup renaming its `.partial-…` file) or make stat fail.
 */
const hooks: {
  beforeStat?: (p: string) => Promise<void>;
  afterMkdir?: (p: string) => Promise<void>;
} = {};
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...orig,
    stat: async (p: string) => {
      await hooks.beforeStat?.(String(p));
      return orig.stat(p);
    },
    // The storage never follows links below its root: it looks with lstat.
    lstat: async (p: string) => {
      await hooks.beforeStat?.(String(p));
      return orig.lstat(p);
    },
    mkdir: async (p: string, o: Parameters<typeof orig.mkdir>[1]) => {
      const r = await orig.mkdir(p, o);
      await hooks.afterMkdir?.(String(p));
      return r;
    },
  };
});

const { LocalDirStorage } = await import('../../src/storage/local.js');
const { listSnapshots } = await import('../../src/snapshot/catalog.js');

const errno = (code: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: simulated`), { code });

afterEach(() => {
  delete hooks.beforeStat;
  delete hooks.afterMkdir;
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cv-race-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function keys(s: InstanceType<typeof LocalDirStorage>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of s.list()) out.push(e.key);
  return out.sort();
}

describe('LocalDirStorage under concurrent writers', () => {
  it('a file renamed between readdir and stat is skipped and its new name listed', async () => {
    await withDir(async (dir) => {
      const s = new LocalDirStorage(dir);
      await s.put('p/snap/users/part-00000.jsonl.gz', 'x');
      const temp = path.join(dir, 'p', 'snap', 'users', 'part-00001.jsonl.gz.partial-abcd');
      await writeFile(temp, 'yy');
      hooks.beforeStat = async (p) => {
        if (p === temp) await realRename(temp, temp.replace('.partial-abcd', ''));
      };
      expect(await keys(s)).toEqual([
        'p/snap/users/part-00000.jsonl.gz',
        'p/snap/users/part-00001.jsonl.gz',
      ]);
    });
  });

  it('list and prune do not fail when a backup renames a file mid-listing', async () => {
    await withDir(async (dir) => {
      const s = new LocalDirStorage(dir);
      const snap = 'us-east-1_Race/2026-11-01T00-00-00-000Z';
      await s.put(`${snap}/groups.json`, '[]');
      const temp = path.join(dir, ...snap.split('/'), 'manifest.json.partial-0001');
      await writeFile(temp, '{}');
      hooks.beforeStat = async (p) => {
        if (p === temp) await realRename(temp, path.join(path.dirname(temp), 'x.json'));
      };
      const listed = await listSnapshots(s);
      expect(listed.map((l) => [l.path, l.status])).toEqual([[snap, 'incomplete']]);
    });
  });

  it('a stat that fails with EACCES or EIO is a StorageError (exit 8), not exit 1', async () => {
    await withDir(async (dir) => {
      const s = new LocalDirStorage(dir);
      await s.put('a/b.json', '{}');
      for (const code of ['EACCES', 'EIO']) {
        hooks.beforeStat = async (p) => {
          if (p.endsWith('b.json')) throw errno(code);
        };
        await expect(keys(s)).rejects.toMatchObject({ exitCode: 8 });
        // exists() cannot tell: an error, never `false` (which prune would read as "absent").
        await expect(s.exists('a/b.json')).rejects.toMatchObject({ exitCode: 8 });
        await expect(s.stat('a/b.json')).rejects.toMatchObject({ exitCode: 8 });
        await expect(s.get('a/b.json')).rejects.toMatchObject({ exitCode: 8 });
      }
    });
  });

  it('a delete that fails (a directory in the way) is a StorageError', async () => {
    await withDir(async (dir) => {
      const s = new LocalDirStorage(dir);
      await s.put('d/inner/file', 'x');
      await expect(s.delete('d/inner')).rejects.toMatchObject({ exitCode: 8 });
    });
  });

  it('a lease written while another process sweeps the empty locks/ directory still lands', async () => {
    await withDir(async (dir) => {
      const s = new LocalDirStorage(dir);
      let swept = 0;
      hooks.afterMkdir = async (p) => {
        // The directory vanishes between mkdir and the write, once.
        if (p.endsWith('locks') && swept++ === 0) await rm(p, { recursive: true });
      };
      await s.put('snap/locks/restore-1.json', '{}');
      expect(swept).toBe(2);
      expect(await s.exists('snap/locks/restore-1.json')).toBe(true);
    });
  });
});
