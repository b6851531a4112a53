import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listSnapshots } from '../../src/snapshot/catalog.js';
import { planRetention, prune } from '../../src/snapshot/retention.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/storage.js';
import { acquireLease } from '../../src/snapshot/lease.js';
import { FaultyStorage } from '../support/faulty-storage.js';
import { tinySnapshot } from '../support/tiny-snapshot.js';

const POOL = 'us-east-1_Retain';
const DAY = 86_400_000;
const OTHER = 'us-east-1_Other';

const snapshot = tinySnapshot;

describe('retention', () => {
  it('keeps the newest N complete snapshots of each pool and deletes the rest', async () => {
    const root = new MemoryStorage();
    const old = await snapshot(root, POOL, '2026-11-01T00:00:00Z');
    const mid = await snapshot(root, POOL, '2026-11-02T00:00:00Z');
    const newest = await snapshot(root, POOL, '2026-11-03T00:00:00Z');
    const other = await snapshot(root, OTHER, '2026-10-01T00:00:00Z');
    const r = await prune(root, { keepLast: 2 });
    expect(r.decisions.filter((d) => !d.keep).map((d) => d.path)).toEqual([old]);
    const left = (await listSnapshots(root)).map((s) => s.path).sort();
    expect(left).toEqual([mid, newest, other].sort());
  });

  it('keeps one per day and one per month on top of the newest', async () => {
    const root = new MemoryStorage();
    const paths: string[] = [];
    for (const iso of [
      '2026-09-15T03:00:00Z', // month 2026-09
      '2026-10-20T03:00:00Z', // month 2026-10
      '2026-11-25T03:00:00Z', // day 25
      '2026-11-26T01:00:00Z', // day 26, older of two
      '2026-11-26T13:00:00Z', // day 26, newest of the day
      '2026-11-27T03:00:00Z', // newest
    ])
      paths.push(await snapshot(root, POOL, iso));
    const plan = planRetention(await listSnapshots(root), {
      keepLast: 1,
      keepDaily: 3,
      keepMonthly: 3,
    });
    const kept = plan.filter((d) => d.keep).map((d) => d.path);
    expect(kept.sort()).toEqual([paths[0], paths[1], paths[2], paths[4], paths[5]].sort());
    expect(plan.find((d) => d.path === paths[3])?.reasons).toEqual(['expired']);
  });

  it('keeps an incomplete snapshot inside the grace period, deletes it once idle beyond it', async () => {
    const root = new MemoryStorage();
    const abandoned = await snapshot(root, POOL, '2026-11-01T00:00:00Z', false);
    const complete = await snapshot(root, POOL, '2026-11-02T00:00:00Z');
    const running = await snapshot(root, POOL, '2026-11-03T00:00:00Z', false);
    // Objects were written "now"; the abandoned one's last write was 8 days ago.
    const now = new Date();
    for await (const e of root.list(abandoned))
      root.touch(e.key, new Date(now.getTime() - 8 * DAY));
    const r = await prune(root, { keepLast: 5 }, { now: () => now });
    const byPath = new Map(r.decisions.map((d) => [d.path, d]));
    expect(byPath.get(abandoned)).toMatchObject({ keep: false, reasons: ['abandoned'] });
    expect(byPath.get(running)).toMatchObject({ keep: true, reasons: ['maybe-running'] });
    expect(byPath.get(complete)?.keep).toBe(true);
    expect((await listSnapshots(root)).map((s) => s.path).sort()).toEqual(
      [complete, running].sort(),
    );
  });

  it('keepDaily N keeps exactly N days, no more', async () => {
    const root = new MemoryStorage();
    const paths: string[] = [];
    for (const iso of [
      '2026-11-01T03:00:00Z',
      '2026-11-02T03:00:00Z',
      '2026-11-03T03:00:00Z',
      '2026-11-04T03:00:00Z',
    ])
      paths.push(await snapshot(root, POOL, iso));
    const plan = planRetention(await listSnapshots(root), { keepLast: 1, keepDaily: 2 });
    expect(
      plan
        .filter((d) => d.keep)
        .map((d) => d.path)
        .sort(),
    ).toEqual([paths[2], paths[3]].sort());
    expect(plan.find((d) => d.path === paths[3])?.reasons).toEqual(['last', 'daily']);
    expect(plan.find((d) => d.path === paths[1])?.reasons).toEqual(['expired']);
  });

  it('the plan (what --dry-run shows) already keeps a snapshot a live lease holds', async () => {
    const root = new MemoryStorage();
    const old = await snapshot(root, POOL, '2026-11-01T00:00:00Z');
    await snapshot(root, POOL, '2026-11-02T00:00:00Z');
    const lease = await acquireLease(root.child(old), 'restore');
    try {
      const r = await prune(root, { keepLast: 1 }, { dryRun: true });
      expect(r.decisions.find((d) => d.path === old)).toMatchObject({
        keep: true,
        reasons: ['in-use'],
      });
      expect(r.decisions.every((d) => d.keep)).toBe(true);
    } finally {
      await lease.release();
    }
  });

  it('deletes nothing on a dry run', async () => {
    const root = new MemoryStorage();
    await snapshot(root, POOL, '2026-11-01T00:00:00Z');
    await snapshot(root, POOL, '2026-11-02T00:00:00Z');
    const r = await prune(root, { keepLast: 1 }, { dryRun: true });
    expect(r.decisions.filter((d) => !d.keep)).toHaveLength(1);
    expect(r.deletedObjects).toBe(0);
    expect((await listSnapshots(root)).filter((s) => s.complete)).toHaveLength(2);
  });

  it('deletes a snapshot manifest first, so an interrupted prune leaves it incomplete, not broken', async () => {
    const deletes: string[] = [];
    class Recording extends MemoryStorage {
      override child(prefix: string): Storage {
        const c = super.child(prefix);
        const del = c.delete.bind(c);
        c.delete = async (key: string) => {
          deletes.push(key);
          await del(key);
        };
        return c;
      }
    }
    const root = new Recording();
    await snapshot(root, POOL, '2026-11-01T00:00:00Z');
    await snapshot(root, POOL, '2026-11-02T00:00:00Z');
    deletes.length = 0;
    await prune(root, { keepLast: 1 });
    const data = deletes.filter((k) => !k.startsWith('locks/'));
    expect(data[0]).toBe('manifest.json');
    expect(data).toHaveLength(7); // the manifest, five documents, the users part
    // The only other delete is prune's own lease, last.
    expect(deletes.at(-1)).toMatch(/^locks\/prune-[0-9a-f]{16}\.json$/);
  });

  it('never prunes the newest complete snapshot: --keep-last must be at least 1', () => {
    expect(() => planRetention([], { keepLast: 0 })).toThrow(/`keepLast`/);
  });

  it('removes a pruned snapshot directory from local disk, manifest first', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cv-prune-'));
    try {
      const root = new LocalDirStorage(dir);
      const old = await snapshot(root, POOL, '2026-11-01T00:00:00Z');
      const newest = await snapshot(root, POOL, '2026-11-02T00:00:00Z');
      const r = await prune(root, { keepLast: 1 });
      expect(r.deletedObjects).toBe(7); // manifest.json, the five documents, the users part
      expect(existsSync(path.join(dir, old))).toBe(false);
      expect(existsSync(path.join(dir, newest, 'manifest.json'))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prune and lease release leave no empty directories through any storage, not only LocalDirStorage itself', async () => {
    // Retention and leases ask the Storage to tidy up (Storage.removeEmptyDirs); they do not
    // check its class, so a wrapped local disk (a decorator, a fault injector) is tidied too.
    const dir = await mkdtemp(path.join(tmpdir(), 'cv-prune-wrapped-'));
    try {
      const root = new FaultyStorage(new LocalDirStorage(dir), () => undefined);
      const old = await snapshot(root, POOL, '2026-11-01T00:00:00Z');
      const newest = await snapshot(root, POOL, '2026-11-02T00:00:00Z');
      const held = await acquireLease(root.child(newest), 'verify');
      expect(existsSync(path.join(dir, newest, 'locks'))).toBe(true);
      await held.release();
      expect(existsSync(path.join(dir, newest, 'locks'))).toBe(false);
      const r = await prune(root, { keepLast: 1 });
      expect(r.deletedObjects).toBe(7);
      expect(existsSync(path.join(dir, old))).toBe(false);
      expect((await readdir(path.join(dir, newest))).sort()).toEqual(
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
