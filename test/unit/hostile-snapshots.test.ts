import { mkdir, mkdtemp, readdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { constants as zlibConstants, deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { forTerminal, jsonForTerminal } from '../../src/core/terminal.js';
import { mauCostGate, estimateMauCost } from '../../src/restore/preflight/mau-cost.js';
import { listSnapshots } from '../../src/snapshot/catalog.js';
import {
  assertJsonDepth,
  gunzipBounded,
  lines,
  MAX_MANIFEST_BYTES,
  readSmallObject,
  RecordTooLongError,
} from '../../src/snapshot/codec.js';
import { DuplicateNames } from '../../src/snapshot/duplicates.js';
import { Manifest, structuralProblems, UserRecord } from '../../src/snapshot/format.js';
import { acquireLease } from '../../src/snapshot/lease.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { planRetention } from '../../src/snapshot/retention.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { tinySnapshot } from '../support/tiny-snapshot.js';
import { createHash } from 'node:crypto';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function collect(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cv-hostile-unit-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Rewrites a file of a MemoryStorage snapshot and makes its manifest vouch for it. */
async function vouch(
  s: MemoryStorage,
  snap: string,
  rel: string,
  body: Buffer,
  patch: Record<string, unknown> = {},
): Promise<void> {
  await s.put(`${snap}/${rel}`, body);
  const m = JSON.parse((s.bytes(`${snap}/manifest.json`) as Buffer).toString('utf8')) as Manifest;
  m.files = m.files.map((f) =>
    f.path === rel ? { ...f, bytes: body.length, sha256: sha(body), ...patch } : f,
  );
  await s.put(`${snap}/manifest.json`, JSON.stringify(m));
}

describe('gzip: trailing bytes and inflate bound', () => {
  it('bytes after the gzip member fail (zeros zlib would silently ignore)', async () => {
    const gz = gzipSync(Buffer.from('{"a":1}\n'));
    for (const tail of [Buffer.alloc(1 << 20), Buffer.from('x')]) {
      await expect(collect(gunzipBounded(Readable.from([gz, tail]), 1 << 20))).rejects.toThrow(
        /bytes follow the end of the gzip data|incorrect header|unexpected end of file/,
      );
    }
    expect((await collect(gunzipBounded(Readable.from([gz]), 100))).toString()).toBe('{"a":1}\n');
  });

  it('inflating beyond the bound fails as soon as it is passed', async () => {
    // A gzip member that inflates to 1 GiB of newlines from ~1 MiB: one sync-flushed deflate
    // segment (1 MiB of newlines) repeated 1,024 times, then an empty final block and a trailer
    // (its CRC is never reached). "As soon as" is counted, not timed: the compressed bytes pulled
    // from the source before the failure. 64 KiB of output needs about 1 KiB of it (the rest is
    // the streams' buffers, ~200 KiB); inflating everything and failing at the end pulls it all.
    const segment = deflateRawSync(Buffer.alloc(1 << 20, 0x0a), {
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
    });
    const bomb = Buffer.concat([
      Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]),
      ...Array<Buffer>(1024).fill(segment),
      deflateRawSync(Buffer.alloc(0)),
      Buffer.alloc(8),
    ]);
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < bomb.length; i += 1024) {
          const c = bomb.subarray(i, i + 1024);
          pulled += c.length;
          yield c;
        }
      })(),
      { objectMode: false, highWaterMark: 1024 },
    );
    await expect(collect(gunzipBounded(source, 64 << 10))).rejects.toThrow(/inflates beyond 65536/);
    expect(pulled).toBeGreaterThan(0);
    expect(pulled, `pulled ${pulled} of ${bomb.length} compressed bytes`).toBeLessThan(
      bomb.length / 4,
    );
  });

  it('the inflate bound is exact: its size passes, one byte more fails', async () => {
    const body = Buffer.alloc(100_000, 0x61);
    const gz = gzipSync(body);
    expect((await collect(gunzipBounded(Readable.from([gz]), body.length))).length).toBe(
      body.length,
    );
    await expect(collect(gunzipBounded(Readable.from([gz]), body.length - 1))).rejects.toThrow(
      /inflates beyond 99999/,
    );
  });

  it('the record bound is exact, within a chunk and across chunks', async () => {
    const read = async (chunks: string[]): Promise<string[]> => {
      const got: string[] = [];
      for await (const l of lines(Readable.from(chunks.map((c) => Buffer.from(c))), 10))
        got.push(l);
      return got;
    };
    expect(await read(['0123456789\n'])).toEqual(['0123456789']);
    expect(await read(['01234', '56789\n'])).toEqual(['0123456789']);
    expect(await read(['01234', '56789'])).toEqual(['0123456789']);
    for (const chunks of [['0123456789A\n'], ['01234', '56789A\n'], ['01234', '56789A']]) {
      await expect(read(chunks), chunks.join('|')).rejects.toBeInstanceOf(RecordTooLongError);
    }
  });

  it('blank lines are refused in JSON Lines', async () => {
    const it = lines(Readable.from([Buffer.from('{"a":1}\n\n{"b":2}\n')]), 100, {
      refuseBlank: true,
    });
    await expect(
      (async () => {
        for await (const _ of it) void _;
      })(),
    ).rejects.toThrow(/line 2 is empty/);
  });
});

describe('reader', () => {
  it('verify() settles (exit-3 problem naming the file) on trailing bytes: no drain hang', async () => {
    const s = new MemoryStorage();
    const snap = await tinySnapshot(s, 'us-east-1_H', '2026-11-01T00:00:00Z');
    const part = 'users/part-00000.jsonl.gz';
    const body = Buffer.concat([s.bytes(`${snap}/${part}`) as Buffer, Buffer.alloc(4 << 20)]);
    await vouch(s, snap, part, body);
    const reader = await SnapshotReader.open(s.child(snap));
    const v = await Promise.race([
      reader.verify(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('hang')), 20_000)),
    ]);
    expect(v.ok).toBe(false);
    expect(v.problems.join('\n')).toMatch(/users\/part-00000.jsonl.gz.*bytes follow the end/);
    // Every reader checks it, not only verify.
    await expect(
      (async () => {
        for await (const _ of reader.records('users', UserRecord)) void _;
      })(),
    ).rejects.toMatchObject({ exitCode: 3 });
  });

  it('a users part declared "json" is a malformed manifest (one encoding per kind)', async () => {
    const s = new MemoryStorage();
    const snap = await tinySnapshot(s, 'us-east-1_H', '2026-11-01T00:00:00Z');
    const m = JSON.parse((s.bytes(`${snap}/manifest.json`) as Buffer).toString()) as Manifest;
    m.files = m.files.map((f) => (f.kind === 'users' ? { ...f, encoding: 'json' } : f));
    await s.put(`${snap}/manifest.json`, JSON.stringify(m));
    await expect(SnapshotReader.open(s.child(snap))).rejects.toMatchObject({ exitCode: 3 });
  });

  it('records beyond the manifest count fail at once; fewer fail at the end', async () => {
    const s = new MemoryStorage();
    const snap = await tinySnapshot(s, 'us-east-1_H', '2026-11-01T00:00:00Z');
    const part = 'users/part-00000.jsonl.gz';
    const two = Buffer.from('{"Username":"a","Attributes":[]}\n{"Username":"b","Attributes":[]}\n');
    await vouch(s, snap, part, gzipSync(two), { inflatedBytes: two.length });
    const reader = await SnapshotReader.open(s.child(snap));
    expect((await reader.verify()).problems.join()).toMatch(/more than the manifest's 1 records/);
  });

  it('a part inflating past its recorded inflatedBytes fails, even by one byte', async () => {
    const s = new MemoryStorage();
    const snap = await tinySnapshot(s, 'us-east-1_H', '2026-11-01T00:00:00Z');
    const part = 'users/part-00000.jsonl.gz';
    const one = Buffer.from('{"Username":"a","Attributes":[]}\n');
    // The legacy cap (64 MiB) would let it through: the recorded size is the bound.
    await vouch(s, snap, part, gzipSync(one), { inflatedBytes: one.length - 1 });
    const reader = await SnapshotReader.open(s.child(snap));
    expect((await reader.verify()).problems.join()).toMatch(/inflates beyond/);
    await expect(
      (async () => {
        for await (const _ of reader.records('users', UserRecord)) void _;
      })(),
    ).rejects.toMatchObject({ exitCode: 3, message: expect.stringMatching(/inflates beyond/) });
  });

  it('duplicate usernames across parts fail verify', async () => {
    const s = new MemoryStorage();
    const snap = await tinySnapshot(s, 'us-east-1_H', '2026-11-01T00:00:00Z');
    const line = Buffer.from('{"Username":"u","Attributes":[]}\n');
    const gz = gzipSync(line);
    await s.put(`${snap}/users/part-00001.jsonl.gz`, gz);
    const m = JSON.parse((s.bytes(`${snap}/manifest.json`) as Buffer).toString()) as Manifest;
    const first = m.files.find((f) => f.kind === 'users');
    if (!first) throw new Error('no users part');
    m.files.push({
      ...first,
      path: 'users/part-00001.jsonl.gz',
      bytes: gz.length,
      sha256: sha(gz),
      records: 1,
      inflatedBytes: line.length,
    });
    m.counts.users = 2;
    await s.put(`${snap}/manifest.json`, JSON.stringify(m));
    const v = await (await SnapshotReader.open(s.child(snap))).verify();
    expect(v.problems).toEqual(['users: 1 username(s) occur more than once across the parts']);
  });

  it('100,000-deep nesting is exit 3, not a stack overflow', async () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    expect(() => assertJsonDepth(deep)).toThrow(/nested deeper than 128/);
    const s = new MemoryStorage();
    const snap = await tinySnapshot(s, 'us-east-1_H', '2026-11-01T00:00:00Z');
    await vouch(
      s,
      snap,
      'pool.json',
      Buffer.from(`{"userPool":{"Id":"x","d":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`),
    );
    const v = await (await SnapshotReader.open(s.child(snap))).verify();
    expect(v.problems.join()).toMatch(/pool.json.*nested deeper than 128/);
  });
});

describe('DuplicateNames', () => {
  it('finds repeats in 8 bytes a name and confirms them on the names', async () => {
    const d = new DuplicateNames();
    const names = Array.from({ length: 5000 }, (_, i) => `user-${i}`);
    for (const n of names) d.add(n);
    expect(
      await d.duplicates(async function* () {
        yield* names;
      }),
    ).toBe(0);
    d.add('user-7');
    expect(
      await d.duplicates(async function* () {
        yield* [...names, 'user-7'];
      }),
    ).toBe(1);
  });
});

describe('local storage never follows a link below its root', () => {
  it('put, get, list, delete and the sweep refuse a linked directory; stat sees no object', async () => {
    await withDir(async (dir) => {
      const outside = path.join(dir, 'outside');
      await mkdir(path.join(outside, 'keep', 'deeper'), { recursive: true });
      await writeFile(path.join(outside, 'private'), 'secret');
      const root = path.join(dir, 'root');
      await mkdir(path.join(root, 'snap'), { recursive: true });
      await symlink(outside, path.join(root, 'snap', 'locks'));
      await symlink(path.join(outside, 'private'), path.join(root, 'snap', 'part'));
      const s = new LocalDirStorage(root).child('snap');
      await expect(s.put('locks/x.json', '{}')).rejects.toMatchObject({ code: 'SYMLINK_REFUSED' });
      await expect(s.get('locks/private')).rejects.toMatchObject({ code: 'SYMLINK_REFUSED' });
      await expect(s.get('part')).rejects.toMatchObject({ code: 'SYMLINK_REFUSED' });
      expect(await s.stat('part')).toBeUndefined();
      await expect(
        (async () => {
          for await (const _ of s.list('locks')) void _;
        })(),
      ).rejects.toMatchObject({ code: 'SYMLINK_REFUSED' });
      await expect(s.delete('locks/private')).rejects.toMatchObject({ code: 'SYMLINK_REFUSED' });
      await s.child('locks').removeEmptyDirs();
      await s.removeEmptyDirs();
      expect((await readdir(outside)).sort()).toEqual(['keep', 'private']);
      expect(await readdir(path.join(outside, 'keep'))).toEqual(['deeper']);
      // A lease into a linked locks/ is an invalid snapshot (exit 3), written nowhere.
      await expect(acquireLease(s, 'verify')).rejects.toMatchObject({ exitCode: 3 });
      expect((await readdir(outside)).sort()).toEqual(['keep', 'private']);
      // The root the user names may itself be a link.
      await symlink(root, path.join(dir, 'via-link'));
      await new LocalDirStorage(path.join(dir, 'via-link')).put('other/x', 'ok');
    });
  });

  it('a link swapped in after the check is still not followed (O_NOFOLLOW)', async () => {
    await withDir(async (dir) => {
      await writeFile(path.join(dir, 'private'), 'secret');
      const root = path.join(dir, 'root');
      const s = new LocalDirStorage(root);
      await s.put('snap/part', 'inside');
      const target = path.join(root, 'snap', 'part');
      // The race: the lstat checks pass on the regular file, then it becomes a link.
      const proto = LocalDirStorage.prototype as unknown as {
        assertNoLinks: (full: string, op: string, lastToo?: boolean) => Promise<void>;
      };
      const check = proto.assertNoLinks;
      const swap = vi.spyOn(proto, 'assertNoLinks').mockImplementation(async function (
        this: unknown,
        full,
        op,
        lastToo,
      ) {
        await check.call(this, full, op, lastToo);
        if (op === 'read' && full === target) {
          await rm(target);
          await symlink(path.join(dir, 'private'), target);
        }
      });
      try {
        await expect(s.get('snap/part')).rejects.toMatchObject({ code: 'SYMLINK_REFUSED' });
        expect(swap).toHaveBeenCalled();
      } finally {
        swap.mockRestore();
      }
    });
  });

  it('a manifest that is a symbolic link is refused (exit 3), never read through', async () => {
    await withDir(async (dir) => {
      const s = new MemoryStorage();
      const snap = await tinySnapshot(s, 'us-east-1_H', '2026-11-01T00:00:00Z');
      await writeFile(path.join(dir, 'elsewhere.json'), s.bytes(`${snap}/manifest.json`) as Buffer);
      await mkdir(path.join(dir, 'snap'));
      await symlink(path.join(dir, 'elsewhere.json'), path.join(dir, 'snap', 'manifest.json'));
      await expect(
        SnapshotReader.open(new LocalDirStorage(path.join(dir, 'snap'))),
      ).rejects.toMatchObject({ exitCode: 3, message: expect.stringMatching(/symbolic link/) });
    });
  });

  it('a 2 GiB sparse manifest is refused by its size, unread', async () => {
    await withDir(async (dir) => {
      await writeFile(path.join(dir, 'manifest.json'), '');
      await truncate(path.join(dir, 'manifest.json'), 2 ** 31);
      const before = process.memoryUsage().rss;
      await expect(
        readSmallObject(new LocalDirStorage(dir), 'manifest.json', MAX_MANIFEST_BYTES),
      ).rejects.toThrow(/longer than/);
      expect(process.memoryUsage().rss - before).toBeLessThan(64 << 20);
    });
  });
});

describe('retention counts only structurally complete snapshots', () => {
  it('a forged manifest (no files, dated 2099) is kept and reported, and deletes nothing', async () => {
    const s = new MemoryStorage();
    const pool = 'us-east-1_H';
    const a = await tinySnapshot(s, pool, '2026-11-01T00:00:00Z');
    const b = await tinySnapshot(s, pool, '2026-11-02T00:00:00Z');
    const forgedId = '2099-01-01T00-00-00-000Z';
    const m = JSON.parse((s.bytes(`${b}/manifest.json`) as Buffer).toString()) as Manifest;
    await s.put(
      `${pool}/${forgedId}/manifest.json`,
      JSON.stringify({
        ...m,
        snapshotId: forgedId,
        startedAt: '2099-01-01T00:00:00.000Z',
        finishedAt: '2099-01-01T00:00:00.000Z',
        files: [],
      }),
    );
    const now = new Date('2026-11-03T00:00:00Z');
    const listed = await listSnapshots(s, { now });
    expect(listed.map((l) => l.status)).toEqual(['complete', 'complete', 'damaged']);
    const plan = planRetention(listed, { keepLast: 2 }, { now });
    expect(plan.every((d) => d.keep)).toBe(true);
    expect(plan.find((d) => d.snapshotId === forgedId)?.reasons).toEqual(['damaged']);
    expect(
      structuralProblems(Manifest.parse({ ...m, files: [] }), now, {
        requireDocuments: true,
      }).join(),
    ).toMatch(/pool: document missing/);
    void a;
  });
});

describe('a snapshot whose files are not as recorded is damaged, never counted', () => {
  it('a part stored shorter than the manifest says: damaged, kept, not counted for keepLast', async () => {
    const s = new MemoryStorage();
    const pool = 'us-east-1_H';
    const a = await tinySnapshot(s, pool, '2026-11-01T00:00:00Z');
    const b = await tinySnapshot(s, pool, '2026-11-02T00:00:00Z');
    const part = `${b}/users/part-00000.jsonl.gz`;
    const stored = s.bytes(part) as Buffer;
    await s.put(part, stored.subarray(0, stored.length - 3)); // cut short, manifest untouched
    const now = new Date('2026-11-03T00:00:00Z');
    const listed = await listSnapshots(s, { now });
    expect(listed.map((l) => [l.path, l.status])).toEqual([
      [a, 'complete'],
      [b, 'damaged'],
    ]);
    expect(listed[1]?.problem).toMatch(
      /users\/part-00000.jsonl.gz: \d+ bytes stored, manifest says \d+/,
    );
    // keepLast 1 keeps the newest COMPLETE snapshot (a), and the damaged one is kept too.
    const plan = planRetention(listed, { keepLast: 1 }, { now });
    expect(plan.map((d) => [d.path, d.keep, d.reasons])).toEqual([
      [b, true, ['damaged']],
      [a, true, ['last']],
    ]);
  });
});

describe('terminal output', () => {
  it('escapes every control character (C0, DEL, C1, bidi) and keeps JSON valid', () => {
    const evil = 'a\u001b[2Jb\u009b1m\u0007c\rd\ne\u202ef';
    expect(forTerminal(evil)).toBe('a\\x1b[2Jb\\x9b1m\\x07c\\x0dd\\x0ae\\u202ef');
    const json = JSON.stringify({ v: evil }, null, 2);
    const safe = jsonForTerminal(json);
    expect(JSON.parse(safe)).toEqual({ v: evil });
    expect(/[\u007f-\u009f\u202e]/u.test(safe)).toBe(false);
  });
});

describe('no surprise bill', () => {
  const plan = {
    requested: 'auto' as const,
    effective: 'admin-create' as const,
    eligible: 0,
    ineligible: 0,
    ineligibleByReason: {},
  };
  const base = {
    plan,
    requested: 'auto' as const,
    roleArn: undefined,
    accept: false,
    threshold: undefined,
    alreadyDone: 0,
    dryRun: false,
    warn: () => undefined,
  };
  it('stops above 10,000 admin-written users unless chosen', () => {
    expect(() => mauCostGate({ ...base, native: 10_001 })).toThrow(
      expect.objectContaining({ exitCode: 4 }),
    );
    expect(mauCostGate({ ...base, native: 10_000 }).billedUsers).toBe(10_000);
    expect(mauCostGate({ ...base, native: 50_000, accept: true }).billedUsers).toBe(50_000);
    expect(mauCostGate({ ...base, native: 50_000, requested: 'admin-create' }).billedUsers).toBe(
      50_000,
    );
    expect(
      mauCostGate({ ...base, native: 50_000, roleArn: 'arn:aws:iam::111111111111:role/x' })
        .billedUsers,
    ).toBe(50_000);
    const warnings: string[] = [];
    mauCostGate({ ...base, native: 50_000, dryRun: true, warn: (w) => warnings.push(w.code) });
    expect(warnings).toEqual(['MAU_ESTIMATE', 'MAU_COST_GATE']);
  });
  it('estimates per feature plan at list prices', () => {
    expect(estimateMauCost(1_000_000).perPlan).toEqual([
      { plan: 'Lite', usd: 5445 },
      { plan: 'Essentials', usd: 14850 },
      { plan: 'Plus', usd: 20000 },
    ]);
  });
});
