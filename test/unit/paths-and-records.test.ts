import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { requireOrSkip } from '../support/env.js';
import { ExitCode, SnapshotInvalidError, StorageError, UsageError } from '../../src/core/errors.js';
import {
  gunzipJsonLines,
  lines,
  MAX_RECORD_BYTES,
  RecordTooLongError,
} from '../../src/snapshot/codec.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import {
  assertWritableDir,
  assertWritableFile,
  LocalDirStorage,
  makeDir,
  openStorage,
  parseLocation,
} from '../../src/storage/index.js';
import { MemoryStorage } from '../../src/storage/memory.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cv-paths-'));
});
afterAll(async () => {
  await chmod(path.join(work, 'ro'), 0o700).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

describe('parseLocation: s3://bucket/prefix or a local directory, nothing in between', () => {
  it.each([
    ['s3://my-bucket', 'my-bucket', ''],
    ['s3://my-bucket/', 'my-bucket', ''],
    ['s3://my-bucket/a/b/', 'my-bucket', 'a/b'],
    ['s3://my.bucket.v2/x//y', 'my.bucket.v2', 'x/y'],
    ['s3://abc/pre fix', 'abc', 'pre fix'],
  ])('%s → bucket %s, prefix %s', (raw, bucket, prefix) => {
    expect(parseLocation(raw)).toEqual({ kind: 's3', bucket, prefix });
  });

  it.each([
    ['./backups'],
    ['/var/backups'],
    ['relative/dir'],
    ['./s3:'],
    ['./http://x'],
    ['dir/with:colon-later'],
  ])('%s is a local directory', (raw) => {
    expect(parseLocation(raw)).toEqual({ kind: 'local', path: raw });
  });

  it.each([
    ['s3://', /no bucket name/],
    ['s3:///prefix', /no bucket name/],
    ['S3://b/x', /lowercase s3, two slashes/],
    ['S3://my-bucket', /lowercase s3/],
    ['s3:/b', /lowercase s3/],
    ['s3:b', /lowercase s3/],
    ['s3:', /lowercase s3/],
    ['s3:\\\\bucket', /lowercase s3/],
    ['Https://example.com/x', /only s3:\/\/bucket\/prefix/],
    ['https://my-bucket.s3.amazonaws.com/x', /only s3:/],
    ['file:///tmp/x', /only s3:/],
    ['gs://bucket/x', /only s3:/],
    ['s3a://bucket/x', /only s3:/],
    ['c:relative', /only s3:/],
    ['s3://ab', /3 to 63/],
    [`s3://${'a'.repeat(64)}`, /3 to 63/],
    ['s3://My-Bucket', /lowercase letters/],
    ['s3://bucket_name', /lowercase letters/],
    ['s3://-bucket', /lowercase letters/],
    ['s3://bucket-', /lowercase letters/],
    ['s3://a..b', /adjacent dots/],
    ['s3://192.168.1.1', /IP address/],
    ['s3://xn--bucket', /xn--/],
    ['s3://bucket-s3alias', /reserved suffix/],
    ['s3://bucket/a/../b', /"\." or "\.\." segment/],
    ['s3://bucket/./b', /segment/],
    ['s3://bucket/x?versionId=1', /query string/],
    ['s3://bucket/x#frag', /fragment/],
    ['', /empty/],
    ['   ', /empty/],
    ['dir\nwith-newline', /control characters/],
    [`s3://bucket/${'p'.repeat(901)}`, /longer than 900 bytes/],
  ])('%j → UsageError (exit 2): %s', (raw, why) => {
    let err: unknown;
    try {
      parseLocation(raw, '--to');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.Usage);
    expect((err as UsageError).message).toMatch(why);
    expect((err as UsageError).message).not.toContain('\n');
  });

  it('openStorage refuses a malformed URL instead of opening a local directory named "s3:"', () => {
    for (const raw of ['s3://', 'S3://b/x', 's3:/b']) {
      expect(() => openStorage(raw)).toThrow(UsageError);
    }
    expect(openStorage('s3://bucket/p').location).toBe('s3://bucket/p');
    expect(openStorage('./s3:')).toBeInstanceOf(LocalDirStorage);
  });
});

/** Resolves with the promise's outcome, or 'timeout' after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

describe('local paths that cannot be written fail at once (no spin, exit 8)', () => {
  it('makeDir under /proc answers ENOENT at once (recursive mkdir spins forever there)', async (ctx) => {
    requireOrSkip(ctx, existsSync('/proc/self'), 'a /proc file system');
    const r = await within(
      makeDir('/proc/forbidden/a/b').then(
        () => 'created',
        (e: NodeJS.ErrnoException) => e.code,
      ),
      3000,
    );
    expect(r).toBe('ENOENT');
  });

  it('LocalDirStorage.put under /proc is a StorageError within seconds', async (ctx) => {
    requireOrSkip(ctx, existsSync('/proc/self'), 'a /proc file system');
    const s = new LocalDirStorage('/proc/forbidden');
    const r = await within(
      s.put('p/x.json', '{}').then(
        () => 'written',
        (e: unknown) => e,
      ),
      3000,
    );
    expect(r).toBeInstanceOf(StorageError);
    expect((r as StorageError).exitCode).toBe(ExitCode.Storage);
  });

  it('makeDir creates missing levels 0700 and accepts an existing directory', async () => {
    const d = path.join(work, 'made', 'a', 'b');
    await makeDir(d);
    await makeDir(d);
    expect(existsSync(d)).toBe(true);
  });

  it('makeDir below a file is ENOTDIR', async () => {
    const f = path.join(work, 'plain-file');
    await writeFile(f, 'x');
    await expect(makeDir(path.join(f, 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it('assertWritableDir: a file on the path, /proc, a read-only directory → exit 8; nothing created', async () => {
    const f = path.join(work, 'file-on-path');
    await writeFile(f, 'x');
    const ro = path.join(work, 'ro');
    await mkdir(ro);
    await chmod(ro, 0o500);
    const cases = [path.join(f, 'x'), f];
    if (existsSync('/proc/self')) cases.push('/proc/forbidden', '/proc/self/nope/x');
    // root ignores directory modes; the read-only case needs an ordinary user.
    if (process.getuid?.() !== 0) cases.push(path.join(ro, 'x'));
    for (const c of cases) {
      const e = await assertWritableDir(c, '--to').catch((x: unknown) => x);
      expect(e, c).toBeInstanceOf(StorageError);
      expect((e as StorageError).exitCode).toBe(ExitCode.Storage);
      expect((e as StorageError).message).toMatch(/^cannot write --to /);
    }
    const fresh = path.join(work, 'fresh', 'deeper');
    await assertWritableDir(fresh);
    expect(existsSync(path.join(work, 'fresh'))).toBe(false);
  });

  it('assertWritableFile: a directory, a dangling symlink, a path below a file → exit 8', async () => {
    const dir = path.join(work, 'a-dir');
    await mkdir(dir);
    const link = path.join(work, 'dangling');
    await symlink(path.join(work, 'nowhere', 'x'), link);
    const f = path.join(work, 'file-on-path');
    for (const c of [dir, link, path.join(f, 'sub-map.jsonl')]) {
      await expect(assertWritableFile(c, '--sub-map'), c).rejects.toBeInstanceOf(StorageError);
    }
    await assertWritableFile(path.join(work, 'new-dir', 'sub-map.jsonl'));
    await assertWritableFile(f);
    expect(existsSync(path.join(work, 'new-dir'))).toBe(false);
  });

  it('LocalDirStorage.list of an unreadable directory is a StorageError, not a raw errno', async () => {
    const d = path.join(work, 'unreadable');
    await mkdir(path.join(d, 'sub'), { recursive: true });
    await chmod(d, 0o000);
    // Root reads anything: as root, list as nobody (effective uid 65534, restored after), so
    // the directory really is unreadable to the process — never a skip.
    const asRoot = process.getuid?.() === 0;
    try {
      const s = new LocalDirStorage(d);
      if (asRoot) process.seteuid?.(65534);
      const e = await (async () => {
        for await (const _ of s.list()) void _;
      })()
        .catch((x: unknown) => x)
        .finally(() => {
          if (asRoot) process.seteuid?.(0);
        });
      expect(process.geteuid?.()).toBe(asRoot ? 0 : process.getuid?.());
      expect(e).toBeInstanceOf(StorageError);
      expect((e as StorageError).exitCode).toBe(8);
    } finally {
      await chmod(d, 0o700);
    }
  });
});

/** `bytes` of 'a' with no newline, in 64 KiB chunks, counting what was pulled. */
function endlessLine(bytes: number, pulled: { n: number }): Readable {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return Readable.from(
    (function* () {
      for (let sent = 0; sent < bytes; sent += chunk.length) {
        pulled.n += chunk.length;
        yield chunk;
      }
    })(),
  );
}

describe('JSON Lines records are bounded (a huge line is exit 3, fast, unbuffered)', () => {
  it('a 300 MB line is rejected after reading little more than the bound', async () => {
    const pulled = { n: 0 };
    const e = await (async () => {
      for await (const _ of lines(endlessLine(300 * 1024 * 1024, pulled))) void _;
    })().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RecordTooLongError);
    expect(e).toBeInstanceOf(SnapshotInvalidError);
    expect((e as SnapshotInvalidError).exitCode).toBe(ExitCode.SnapshotInvalid);
    // "Fast" is counted, not timed: what was read of the 300 MB before the refusal.
    expect(pulled.n).toBeLessThan(MAX_RECORD_BYTES + 256 * 1024);
  });

  it('lines up to the bound pass, in linear time, across chunk borders and multi-byte characters', async () => {
    const big = 'é'.repeat(Math.floor((MAX_RECORD_BYTES - 16) / 2));
    const text = `{"a":1}\n\n${big}\nlast`;
    const bytes = Buffer.from(text);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 777) chunks.push(bytes.subarray(i, i + 777));
    // Linear is counted, not timed: the bytes searched for newlines and the bytes copied into
    // lines stay within a small multiple of the input (a re-scan of the buffered part, or a
    // concatenation per chunk, would be ~5,000 times the input here).
    let scanned = 0;
    let copied = 0;
    const indexOf = Buffer.prototype.indexOf;
    const concat = Buffer.concat;
    const scan = vi.spyOn(Buffer.prototype, 'indexOf').mockImplementation(function (
      this: Buffer,
      value,
      byteOffset,
      encoding,
    ) {
      scanned += this.length - (typeof byteOffset === 'number' ? byteOffset : 0);
      return indexOf.call(this, value, byteOffset, encoding);
    });
    const join = vi.spyOn(Buffer, 'concat').mockImplementation((list, totalLength) => {
      const out = concat(list, totalLength);
      copied += out.length;
      return out;
    });
    const got: string[] = [];
    try {
      for await (const l of lines(Readable.from(chunks))) got.push(l);
    } finally {
      scan.mockRestore();
      join.mockRestore();
    }
    expect(got).toEqual(['{"a":1}', big, 'last']);
    expect(scanned).toBeGreaterThan(0);
    expect(scanned).toBeLessThan(3 * bytes.length);
    expect(copied).toBeLessThan(3 * bytes.length);
  });

  it('a record line that is not JSON fails without quoting it', async () => {
    const gz = gzipSync(Buffer.from('{"Username":"alice@example.com"}\n{"Username":"bob@exa\n'));
    const e = await (async () => {
      for await (const _ of gunzipJsonLines(Readable.from([gz]))) void _;
    })().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SnapshotInvalidError);
    expect(
      JSON.stringify([(e as Error).message, (e as SnapshotInvalidError).problems]),
    ).not.toMatch(/alice|bob/);
  });

  it('SnapshotReader: a huge user line or a JSON document that is not JSON is exit 3, naming the file only', async () => {
    const storage = new MemoryStorage();
    const w = new SnapshotWriter(storage);
    const huge = { Username: 'x'.repeat(MAX_RECORD_BYTES + 10), Attributes: [] };
    await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', [huge]);
    await w.writeJson('pool.json', 'pool', { userPool: {} }, 1);
    await w.commit({
      snapshotId: 's',
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      tool: { name: 'cognito-vault', version: '0' },
      userPool: { id: 'us-east-1_x', name: 'x', region: 'us-east-1' },
      options: { includeSecrets: false, sharding: { mode: 'single', shards: 1 } },
      counts: {
        users: 1,
        groups: 0,
        memberships: 0,
        clients: 0,
        identityProviders: 0,
        resourceServers: 0,
      },
      warnings: [],
    } as never);
    const reader = await SnapshotReader.open(storage);
    const e = await (async () => {
      for await (const _ of reader.records('users', (await import('zod')).z.unknown())) void _;
    })().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SnapshotInvalidError);
    expect((e as Error).message).toMatch(
      /users\/part-00000\.jsonl\.gz: a JSON Lines record is longer/,
    );
    const v = await reader.verify();
    expect(v.ok).toBe(false);
    expect(v.problems.join('\n')).toMatch(/longer than/);

    await storage.put('pool.json', '{"userPool": {"Name": "alice@example.com"');
    const e2 = await reader
      .readJson('pool', (await import('zod')).z.unknown())
      .catch((x: unknown) => x);
    expect(e2).toBeInstanceOf(SnapshotInvalidError);
    expect((e2 as Error).message).toMatch(/pool\.json is not valid JSON/);
    expect((e2 as Error).message).not.toContain('alice');
  });
});

describe('nothing left behind by the checks', () => {
  it('the work directory holds only what the tests made', async () => {
    const names = await readdir(work);
    expect(names).not.toContain('fresh');
    expect(names).not.toContain('new-dir');
  });
});
