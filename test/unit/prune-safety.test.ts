import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { StorageError } from '../../src/core/errors.js';
import { listSnapshots } from '../../src/snapshot/catalog.js';
import { MANIFEST_FILE } from '../../src/snapshot/format.js';
import {
  acquireLease,
  acquireReadLease,
  LEASE_TTL_MS,
  readLeases,
  type LeaseRecord,
  withReadLease,
} from '../../src/snapshot/lease.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import {
  DEFAULT_INCOMPLETE_GRACE_MS,
  parseDuration,
  planRetention,
  prune,
} from '../../src/snapshot/retention.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage, StorageEntry } from '../../src/storage/storage.js';
import { FaultyStorage } from '../support/faulty-storage.js';
import { tinySnapshot } from '../support/tiny-snapshot.js';

const POOL = 'us-east-1_Retain';
const DAY = 86_400_000;

const snapshot = tinySnapshot;

/** Five daily snapshots; returns their paths oldest first. */
async function fiveDays(root: Storage): Promise<[string, string, string, string, string]> {
  const out: string[] = [];
  for (let d = 1; d <= 5; d++)
    out.push(await snapshot(root, POOL, `2026-11-0${d}T00:00:00Z`, true));
  return out as [string, string, string, string, string];
}

async function paths(root: Storage): Promise<string[]> {
  return (await listSnapshots(root)).map((s) => s.path).sort();
}

const serviceUnavailable = (): StorageError =>
  new StorageError('IO_ERROR', 'read failed for s3://b/x (ServiceUnavailable)');

describe('unreadable and unknown-format snapshots are never deleted', () => {
  for (const [name, fault] of [
    ['an S3 503', serviceUnavailable],
    [
      'KMS AccessDenied after a key change',
      () => new StorageError('UNWRITABLE', 'access denied to s3://b/x (AccessDenied)'),
    ],
    // A raw error, not a StorageError: still "could not read", not "incomplete".
    [
      'a raw EACCES',
      () => Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }),
    ],
  ] as const) {
    it(`a manifest that cannot be read (${name}) is UNREADABLE, kept, and not counted`, async () => {
      const mem = new MemoryStorage();
      const [s1, s2, s3, s4, s5] = await fiveDays(mem);
      // The two newest manifests cannot be read.
      const root = new FaultyStorage(mem, (op, key) =>
        op === 'get' && (key === `${s4}/${MANIFEST_FILE}` || key === `${s5}/${MANIFEST_FILE}`)
          ? fault()
          : undefined,
      );
      const listed = await listSnapshots(root);
      const l5 = listed.find((s) => s.path === s5);
      expect(l5).toMatchObject({ status: 'unreadable', complete: false });
      expect(l5?.problem).toMatch(/manifest\.json unreadable/);
      const r = await prune(root, { keepLast: 2 });
      const byPath = new Map(r.decisions.map((d) => [d.path, d]));
      expect(byPath.get(s5)).toMatchObject({ keep: true, reasons: ['unreadable'] });
      expect(byPath.get(s5)?.why).toMatch(/unreadable/);
      expect(byPath.get(s4)).toMatchObject({ keep: true, reasons: ['unreadable'] });
      // keep-last 2 counts readable snapshots only: s3 and s2 stay, s1 goes.
      expect(byPath.get(s3)?.keep).toBe(true);
      expect(byPath.get(s2)?.keep).toBe(true);
      expect(byPath.get(s1)).toMatchObject({ keep: false, reasons: ['expired'] });
      expect(await paths(mem)).toEqual([s2, s3, s4, s5].sort());
    });
  }

  it('corrupt JSON or a malformed manifest is UNREADABLE and kept, however old', async () => {
    const root = new MemoryStorage();
    const [s1, s2] = await fiveDays(root);
    await root.child(s1 ?? '').put(MANIFEST_FILE, '{"formatVersion": 1, "trunc');
    await root.child(s2 ?? '').put(MANIFEST_FILE, '{"formatVersion": 1}');
    const r = await prune(root, { keepLast: 1 });
    const byPath = new Map(r.decisions.map((d) => [d.path, d]));
    expect(byPath.get(s1 ?? '')).toMatchObject({ status: 'unreadable', keep: true });
    expect(byPath.get(s1 ?? '')?.why).toMatch(/not valid JSON/);
    expect(byPath.get(s2 ?? '')).toMatchObject({ status: 'unreadable', keep: true });
    expect(byPath.get(s2 ?? '')?.why).toMatch(/malformed/);
    expect(await paths(root)).toContain(s1);
  });

  it('a newer formatVersion is UNKNOWN-FORMAT: kept with why, not counted for keep rules', async () => {
    const root = new MemoryStorage();
    const [s1, s2, , , s5] = await fiveDays(root);
    await root.child(s5 ?? '').put(MANIFEST_FILE, JSON.stringify({ formatVersion: 3, x: 1 }));
    await root.child(s1 ?? '').put(MANIFEST_FILE, JSON.stringify({ formatVersion: 7 }));
    const listed = await listSnapshots(root);
    expect(listed.find((s) => s.path === s5)).toMatchObject({
      status: 'unknown-format',
      formatVersion: 3,
    });
    const r = await prune(root, { keepLast: 3 });
    const byPath = new Map(r.decisions.map((d) => [d.path, d]));
    expect(byPath.get(s5 ?? '')).toMatchObject({ keep: true, reasons: ['unknown-format'] });
    expect(byPath.get(s5 ?? '')?.why).toMatch(/formatVersion 3 is newer/);
    expect(byPath.get(s1 ?? '')).toMatchObject({ keep: true, reasons: ['unknown-format'] });
    // s4, s3, s2 are the three newest readable ones.
    expect(byPath.get(s2 ?? '')?.keep).toBe(true);
    expect(r.decisions.filter((d) => !d.keep)).toEqual([]);
  });

  it('a manifest removed between listing and reading is incomplete (grace applies), not deleted', async () => {
    const mem = new MemoryStorage();
    const [, , , , s5] = await fiveDays(mem);
    const root = new FaultyStorage(mem, (op, key) =>
      op === 'get' && key === `${s5}/${MANIFEST_FILE}`
        ? new StorageError('NOT_FOUND', 'gone')
        : undefined,
    );
    const r = await prune(root, { keepLast: 10 });
    expect(r.decisions.find((d) => d.path === s5)).toMatchObject({
      status: 'incomplete',
      keep: true,
      reasons: ['maybe-running'],
    });
  });

  it('a listing that fails deletes nothing and is a StorageError (exit 8)', async () => {
    const mem = new MemoryStorage();
    await fiveDays(mem);
    const root = new FaultyStorage(mem, (op) => (op === 'list' ? serviceUnavailable() : undefined));
    await expect(prune(root, { keepLast: 1 })).rejects.toMatchObject({ exitCode: 8 });
    expect(await paths(mem)).toHaveLength(5);
  });

  it('directories that are not named like a pool and a snapshot are never touched', async () => {
    const root = new MemoryStorage();
    await fiveDays(root);
    await root.put('logs/2026/app.log', 'x');
    await root.put(`${POOL}/notes/readme.txt`, 'x');
    await root.put(`${POOL}/2026-11-01/partial.txt`, 'x');
    const old = new Date(Date.now() - 30 * DAY);
    for (const k of [
      'logs/2026/app.log',
      `${POOL}/notes/readme.txt`,
      `${POOL}/2026-11-01/partial.txt`,
    ])
      root.touch(k, old);
    await prune(root, { keepLast: 1 });
    expect(await root.exists('logs/2026/app.log')).toBe(true);
    expect(await root.exists(`${POOL}/notes/readme.txt`)).toBe(true);
    expect(await root.exists(`${POOL}/2026-11-01/partial.txt`)).toBe(true);
  });

  it('a delete that fails is reported (exit 8) and the other snapshots are still pruned', async () => {
    const mem = new MemoryStorage();
    const [s1, s2] = await fiveDays(mem);
    const root = new FaultyStorage(mem, (op, key) =>
      op === 'delete' && key.startsWith(`${s1}/`) && !key.includes('/locks/')
        ? new StorageError('UNWRITABLE', 'access denied (AccessDenied)')
        : undefined,
    );
    const r = await prune(root, { keepLast: 3 });
    expect(r.errors).toEqual([expect.objectContaining({ path: s1, exitCode: 8 })]);
    const left = await paths(mem);
    expect(left).not.toContain(s2);
    // s1's manifest could not be deleted either, so it is still a complete snapshot.
    expect(left).toContain(s1);
  });
});

describe('incomplete snapshots: grace period from the last activity', () => {
  it('an old snapshot id with fresh objects is still running: kept', async () => {
    const root = new MemoryStorage();
    await snapshot(root, POOL, '2026-11-05T00:00:00Z');
    // Started a month ago by its id, but written to just now (a long backup).
    const running = await snapshot(root, POOL, '2026-10-01T00:00:00Z', false);
    const r = await prune(root, { keepLast: 1 });
    expect(r.decisions.find((d) => d.path === running)).toMatchObject({
      keep: true,
      reasons: ['maybe-running'],
    });
    expect(await paths(root)).toContain(running);
  });

  it('an incomplete snapshot with no newer complete one is deleted too once idle beyond the grace', async () => {
    const root = new MemoryStorage();
    const dead = await snapshot(root, POOL, '2026-10-01T00:00:00Z', false);
    const now = new Date('2026-11-20T00:00:00Z');
    for await (const e of root.list(dead)) root.touch(e.key, new Date('2026-10-01T01:00:00Z'));
    const r = await prune(root, { keepLast: 1 }, { now: () => now });
    expect(r.decisions[0]).toMatchObject({ keep: false, reasons: ['abandoned'] });
  });

  it('the grace is configurable, and measured from the newest object', async () => {
    const root = new MemoryStorage();
    const s = await snapshot(root, POOL, '2026-11-01T00:00:00Z', false);
    const now = new Date('2026-11-10T00:00:00Z');
    const keys: string[] = [];
    for await (const e of root.list(s)) keys.push(e.key);
    for (const k of keys) root.touch(k, new Date('2026-11-01T01:00:00Z'));
    root.touch(keys[0] ?? '', new Date('2026-11-08T00:00:00Z')); // newest: 2 days ago
    const plan = (grace: number) =>
      planRetention([...listedSync], { keepLast: 1, incompleteGraceMs: grace }, { now });
    const listedSync = await listSnapshots(root);
    expect(plan(DEFAULT_INCOMPLETE_GRACE_MS)[0]).toMatchObject({ keep: true });
    expect(plan(3 * DAY)[0]).toMatchObject({ keep: true });
    expect(plan(DAY)[0]).toMatchObject({ keep: false, reasons: ['abandoned'] });
  });

  it('an incomplete snapshot whose storage gives no modification time is kept (age unknown)', async () => {
    const mem = new MemoryStorage();
    await snapshot(mem, POOL, '2026-01-01T00:00:00Z', false);
    class NoTimes extends FaultyStorage {
      override async *list(prefix?: string): AsyncIterable<StorageEntry> {
        for await (const e of super.list(prefix)) yield { key: e.key, bytes: e.bytes };
      }
    }
    const r = await prune(new NoTimes(mem, () => undefined), { keepLast: 1 });
    expect(r.decisions[0]).toMatchObject({ keep: true, reasons: ['age-unknown'] });
  });

  it('an incomplete snapshot whose backup commits while prune runs is kept', async () => {
    const mem = new MemoryStorage();
    const s = await snapshot(mem, POOL, '2026-10-01T00:00:00Z', false);
    for await (const e of mem.list(s)) mem.touch(e.key, new Date('2026-10-01T01:00:00Z'));
    const root = new FaultyStorage(mem, (op, key) => {
      // The backup writes its manifest just as prune takes its lease.
      if (op === 'put' && key.startsWith(`${s}/locks/prune-`))
        void mem.child(s).put(MANIFEST_FILE, '{}');
      return undefined;
    });
    const r = await prune(root, { keepLast: 1 }, { now: () => new Date('2026-11-20T00:00:00Z') });
    expect(r.decisions[0]).toMatchObject({ keep: true, reasons: ['maybe-running'] });
    expect(await mem.exists(`${s}/groups.json`)).toBe(true);
  });

  it('refuses a grace shorter than an hour and parses durations', () => {
    expect(() => planRetention([], { keepLast: 1, incompleteGraceMs: 60_000 })).toThrow(
      /`incompleteGrace` must be at least 1h/,
    );
    expect(parseDuration('7d')).toBe(7 * DAY);
    expect(parseDuration('36h')).toBe(36 * 3_600_000);
    expect(parseDuration('90m')).toBe(90 * 60_000);
    expect(parseDuration('7')).toBeUndefined();
    expect(parseDuration('-1d')).toBeUndefined();
    expect(parseDuration('1w')).toBeUndefined();
  });

  it('refuses keep-last 0, negative and fractional counts', () => {
    for (const keepLast of [0, -1, 1.5, Number.NaN])
      expect(() => planRetention([], { keepLast })).toThrow(/`keepLast`/);
    expect(() => planRetention([], { keepLast: 1, keepDaily: -1 })).toThrow(/`keepDaily`/);
    expect(() => planRetention([], { keepLast: 1, keepMonthly: 0.5 })).toThrow(/`keepMonthly`/);
  });
});

describe('leases', () => {
  it('prune never deletes a snapshot with a live lease (restore, verify, backup)', async () => {
    const root = new MemoryStorage();
    const [s1, s2] = await fiveDays(root);
    const restore = await acquireLease(root.child(s1 ?? ''), 'restore');
    const verify = await acquireLease(root.child(s2 ?? ''), 'verify');
    try {
      const r = await prune(root, { keepLast: 1 });
      const byPath = new Map(r.decisions.map((d) => [d.path, d]));
      expect(byPath.get(s1 ?? '')).toMatchObject({ keep: true, reasons: ['in-use'] });
      expect(byPath.get(s1 ?? '')?.why).toMatch(/restore lease held by/);
      expect(byPath.get(s2 ?? '')).toMatchObject({ keep: true, reasons: ['in-use'] });
      expect(await paths(root)).toEqual(expect.arrayContaining([s1, s2]));
      expect((await paths(root)).length).toBe(3);
    } finally {
      await restore.release();
      await verify.release();
    }
    // Released: the next prune takes them.
    await prune(root, { keepLast: 1 });
    expect(await paths(root)).toHaveLength(1);
  });

  it('a lease taken after the listing, while prune deletes, still holds the snapshot', async () => {
    const mem = new MemoryStorage();
    const [s1] = await fiveDays(mem);
    let started: Promise<unknown> | undefined;
    const root = new FaultyStorage(mem, (op, key) => {
      // A restore writes its lease just before prune's lease lands.
      if (op === 'put' && key.startsWith(`${s1}/locks/prune-`) && !started)
        started = acquireLease(mem.child(s1 ?? ''), 'restore');
      return undefined;
    });
    const r = await prune(root, { keepLast: 1 });
    await started;
    expect(r.decisions.find((d) => d.path === s1)).toMatchObject({
      keep: true,
      reasons: ['in-use'],
    });
    expect(await mem.exists(`${s1}/${MANIFEST_FILE}`)).toBe(true);
  });

  it('a reader that finds a live prune lease backs off and leaves no lease behind', async () => {
    const root = new MemoryStorage();
    const [s1] = await fiveDays(root);
    const snap = root.child(s1 ?? '');
    const pruning = await acquireLease(snap, 'prune');
    try {
      await expect(acquireReadLease(snap, 'restore')).rejects.toMatchObject({
        code: 'SNAPSHOT_BEING_PRUNED',
        exitCode: 8,
      });
      const leases = await readLeases(snap, new Date());
      expect(leases.map((l) => l.lease?.kind)).toEqual(['prune']);
    } finally {
      await pruning.release();
    }
    const ok = await acquireReadLease(snap, 'restore');
    await ok.release();
  });

  it('an expired lease (crashed holder) is ignored and removed by prune', async () => {
    const root = new MemoryStorage();
    const [s1, , , , s5] = await fiveDays(root);
    const stale: LeaseRecord = {
      kind: 'restore',
      host: 'elsewhere',
      pid: 1234,
      createdAt: '2026-11-01T00:00:00.000Z',
      refreshedAt: '2026-11-01T00:00:00.000Z',
      expiresAt: '2026-11-01T00:30:00.000Z',
    };
    await root.child(s1 ?? '').put('locks/restore-00.json', JSON.stringify(stale));
    await root.child(s5 ?? '').put('locks/restore-01.json', JSON.stringify(stale));
    // Written (last refreshed) when it says: long ago by the storage's clock too.
    root.touch(`${s1}/locks/restore-00.json`, new Date(stale.refreshedAt));
    root.touch(`${s5}/locks/restore-01.json`, new Date(stale.refreshedAt));
    const r = await prune(root, { keepLast: 1 });
    expect(r.decisions.find((d) => d.path === s1)).toMatchObject({ keep: false });
    expect(r.staleLeasesRemoved).toBe(1);
    expect(await root.exists(`${s5}/locks/restore-01.json`)).toBe(false);
    expect(await paths(root)).toEqual([s5]);
  });

  it('a lease of a dead process on this machine is stale at once (kill -9)', async () => {
    const root = new MemoryStorage();
    const [s1] = await fiveDays(root);
    const held = await acquireLease(root.child(s1 ?? ''), 'restore');
    const key = `${s1}/${held.key}`;
    const record = JSON.parse(root.bytes(key)?.toString() ?? '{}') as LeaseRecord;
    // The same lease, written by a process that no longer exists.
    await root.put(key, JSON.stringify({ ...record, pid: 2 ** 22 + 12345 }));
    const leases = await readLeases(root.child(s1 ?? ''), new Date());
    expect(leases[0]?.live).toBe(false);
    await prune(root, { keepLast: 1 });
    expect(await paths(root)).toHaveLength(1);
  });

  it('a lease of a running process is live, and stale once that process is killed with -9', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      stdio: 'ignore',
    });
    try {
      const root = new MemoryStorage();
      const [s1] = await fiveDays(root);
      const held = await acquireLease(root.child(s1), 'restore');
      const key = `${s1}/${held.key}`;
      const record = JSON.parse(root.bytes(key)?.toString() ?? '{}') as LeaseRecord;
      await held.release();
      await root.put(key, JSON.stringify({ ...record, pid: child.pid }));
      expect((await readLeases(root.child(s1), new Date()))[0]?.live).toBe(true);
      expect(
        (await prune(root, { keepLast: 1 })).decisions.find((d) => d.path === s1),
      ).toMatchObject({ keep: true, reasons: ['in-use'] });
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      expect((await readLeases(root.child(s1), new Date()))[0]?.live).toBe(false);
      await prune(root, { keepLast: 1 });
      expect(await paths(root)).toHaveLength(1);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a prune whose clock runs hours ahead still sees a fresh lease as live (storage clock)', async () => {
    const root = new MemoryStorage();
    const [s1] = await fiveDays(root);
    const held = await acquireLease(root.child(s1), 'restore');
    try {
      const ahead = () => new Date(Date.now() + 3 * 3_600_000);
      const r = await prune(root, { keepLast: 1 }, { now: ahead });
      expect(r.decisions.find((d) => d.path === s1)).toMatchObject({
        keep: true,
        reasons: ['in-use'],
      });
      expect(await root.exists(`${s1}/${MANIFEST_FILE}`)).toBe(true);
    } finally {
      await held.release();
    }
  });

  it('a lease that cannot be read (503) counts as live: could not tell is not delete', async () => {
    const mem = new MemoryStorage();
    const [s1] = await fiveDays(mem);
    const held = await acquireLease(mem.child(s1 ?? ''), 'restore');
    const root = new FaultyStorage(mem, (op, key) =>
      op === 'get' && key.includes('/locks/restore-') ? serviceUnavailable() : undefined,
    );
    const r = await prune(root, { keepLast: 1 });
    expect(r.decisions.find((d) => d.path === s1)).toMatchObject({
      keep: true,
      reasons: ['in-use'],
    });
    await held.release();
  });

  it('a damaged lease counts as live until it is older than a lease can be', async () => {
    const root = new MemoryStorage();
    const [s1] = await fiveDays(root);
    await root.child(s1 ?? '').put('locks/x.json', 'not json');
    expect((await readLeases(root.child(s1 ?? ''), new Date()))[0]?.live).toBe(true);
    root.touch(`${s1}/locks/x.json`, new Date(Date.now() - LEASE_TTL_MS - 1000));
    expect((await readLeases(root.child(s1 ?? ''), new Date()))[0]?.live).toBe(false);
  });

  it('a lease is refreshed while held and removed on release; verify ignores it', async () => {
    const root = new MemoryStorage();
    const [s1] = await fiveDays(root);
    const snap = root.child(s1 ?? '');
    const held = await acquireLease(snap, 'restore', { refreshMs: 20 });
    const first = JSON.parse(root.bytes(`${s1}/${held.key}`)?.toString() ?? '') as LeaseRecord;
    // Refreshed: waited for (the expiry moves on), not assumed after a fixed sleep.
    await vi.waitFor(
      () => {
        const later = JSON.parse(root.bytes(`${s1}/${held.key}`)?.toString() ?? '') as LeaseRecord;
        expect(Date.parse(later.expiresAt)).toBeGreaterThan(Date.parse(first.expiresAt));
      },
      { timeout: 10_000, interval: 10 },
    );
    const v = await (await SnapshotReader.open(snap)).verify();
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    await held.release();
    expect(await root.exists(`${s1}/${held.key}`)).toBe(false);
  });

  it('withReadLease holds a lease while its body runs and drops it however the body ends', async () => {
    const root = new MemoryStorage();
    const [s1] = await fiveDays(root);
    const snap = root.child(s1);
    const seen = await withReadLease(
      snap,
      'export',
      () => undefined,
      async () => (await readLeases(snap, new Date())).map((l) => l.lease?.kind),
    );
    expect(seen).toEqual(['export']);
    await expect(
      withReadLease(
        snap,
        'restore',
        () => undefined,
        async () => {
          throw new Error('body failed');
        },
      ),
    ).rejects.toThrow('body failed');
    expect(await readLeases(snap, new Date())).toEqual([]);
  });

  it('read-only credentials read without a lease, with a warning; other failures stop', async () => {
    const mem = new MemoryStorage();
    const [s1] = await fiveDays(mem);
    const denied = new FaultyStorage(mem, (op) =>
      op === 'put' ? new StorageError('UNWRITABLE', 'access denied (AccessDenied)') : undefined,
    ).child(s1);
    const warnings: string[] = [];
    expect(
      await withReadLease(
        denied,
        'verify',
        (e) => warnings.push(e.message),
        async () => 7,
      ),
    ).toBe(7);
    expect(warnings).toEqual(['access denied (AccessDenied)']);
    const broken = new FaultyStorage(mem, (op) =>
      op === 'put' ? new StorageError('IO_ERROR', 'write failed (ServiceUnavailable)') : undefined,
    ).child(s1);
    await expect(
      withReadLease(
        broken,
        'verify',
        () => undefined,
        async () => 7,
      ),
    ).rejects.toMatchObject({ code: 'IO_ERROR', exitCode: 8 });
  });

  it('on local disk a released lease leaves no locks/ directory behind', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cv-lease-'));
    try {
      const root = new LocalDirStorage(dir);
      const s = await snapshot(root, POOL, '2026-11-01T00:00:00Z');
      const held = await acquireLease(root.child(s), 'verify');
      expect(existsSync(path.join(dir, s, 'locks'))).toBe(true);
      await held.release();
      expect(existsSync(path.join(dir, s, 'locks'))).toBe(false);
      expect((await readdir(path.join(dir, s))).sort()).toEqual(
        [
          'clients.json',
          'groups.json',
          'identity-providers.json',
          'manifest.json',
          'pool.json',
          'resource-servers.json',
          'users',
        ].sort(),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('local disk', () => {
  it('measures an incomplete snapshot by file mtimes and removes it without rm -rf races', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cv-prune-local-'));
    try {
      const root = new LocalDirStorage(dir);
      await snapshot(root, POOL, '2026-11-05T00:00:00Z');
      const dead = await snapshot(root, POOL, '2026-11-01T00:00:00Z', false);
      const fresh = await snapshot(root, POOL, '2026-11-02T00:00:00Z', false);
      const old = new Date(Date.now() - 10 * DAY);
      await writeFile(path.join(dir, dead, 'users', 'part-00001.jsonl.gz.partial-abcd'), 'x');
      for (const f of [
        'pool.json',
        'clients.json',
        'identity-providers.json',
        'resource-servers.json',
        'groups.json',
        'users/part-00000.jsonl.gz',
        'users/part-00001.jsonl.gz.partial-abcd',
      ])
        await utimes(path.join(dir, dead, f), old, old);
      const r = await prune(root, { keepLast: 1 });
      expect(r.decisions.find((d) => d.path === dead)).toMatchObject({ keep: false });
      expect(r.decisions.find((d) => d.path === fresh)).toMatchObject({ keep: true });
      expect(existsSync(path.join(dir, dead))).toBe(false);
      expect(existsSync(path.join(dir, fresh, 'groups.json'))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
