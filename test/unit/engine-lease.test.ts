import { describe, expect, it } from 'vitest';
import type { CognitoGateway } from '../../src/cognito/gateway.js';
import { diffSnapshot } from '../../src/compare/diff.js';
import { runDrill } from '../../src/drill/engine.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import { restoreSelection } from '../../src/restore/selective/engine.js';
import { exportCsv } from '../../src/snapshot/export-csv.js';
import { acquireLease, readLeases } from '../../src/snapshot/lease.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { prune } from '../../src/snapshot/retention.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/storage.js';
import { tinySnapshot } from '../support/tiny-snapshot.js';

/**
 * Issue 19 item 5: the engines take the snapshot's read lease themselves, so a library caller
 * (not only the CLI) is protected from a concurrent prune: restoreSnapshot, restoreSelection
 * (selective restore), diffSnapshot, exportCsv and runDrill.
 */
const POOL = 'us-east-1_Lease';

/** A gateway that must never be called: the lease is checked before any Cognito call. */
const noCalls = {
  withSignal: () => noCalls,
  send: () => Promise.reject(new Error('no Cognito call expected')),
  pages: () => {
    throw new Error('no Cognito call expected');
  },
  destroy: () => undefined,
  // The selective restore counts the gateway's calls before it starts.
  rate: { report: () => [] },
} as unknown as CognitoGateway;

async function snapshotIn(
  root = new MemoryStorage(),
): Promise<{ storage: Storage; reader: SnapshotReader; path: string }> {
  const path = await tinySnapshot(root, POOL, '2026-11-01T00:00:00Z');
  const storage = root.child(path);
  return { storage, reader: await SnapshotReader.open(storage), path };
}

async function liveKinds(storage: Storage): Promise<string[]> {
  return (await readLeases(storage, new Date()))
    .filter((l) => l.live)
    .map((l) => l.lease?.kind ?? '?')
    .sort();
}

const runs = {
  restore: (r: SnapshotReader) =>
    restoreSnapshot(noCalls, r, { target: { createPool: 'x' }, stateDir: '/nonexistent/x' }),
  selective: (r: SnapshotReader) =>
    restoreSelection(
      noCalls,
      r,
      { userPoolId: POOL },
      { selection: { users: ['u'] }, dryRun: true },
    ),
  diff: (r: SnapshotReader) => diffSnapshot(r, noCalls, POOL),
  export: (r: SnapshotReader) => exportCsv(r, new MemoryStorage()),
  drill: (r: SnapshotReader) => runDrill(noCalls, r, { workDir: '/nonexistent/drill' }),
};

/** A sink that refuses every write (a full disk, a denied bucket): the export fails mid-run. */
function refusingSink(): MemoryStorage {
  const sink = new MemoryStorage();
  sink.put = () => Promise.reject(new Error('sink refuses writes'));
  return sink;
}

/**
 * Runs that fail after verification: restore and diff at their first Cognito call (the gateway
 * answers nothing); export — which needs no Cognito and succeeds on the tiny snapshot, a
 * complete one — at its first write to the sink.
 */
const failingRuns = {
  ...runs,
  export: (r: SnapshotReader) => exportCsv(r, refusingSink()),
};

describe('the engines hold a read lease on the snapshot', () => {
  it.each(Object.keys(runs) as (keyof typeof runs)[])(
    '%s refuses a snapshot a prune is deleting (SNAPSHOT_BEING_PRUNED, exit 8), calling nothing',
    async (name) => {
      const { storage, reader } = await snapshotIn();
      const prune = await acquireLease(storage, 'prune');
      await expect(runs[name](reader)).rejects.toMatchObject({
        code: 'SNAPSHOT_BEING_PRUNED',
        exitCode: 8,
      });
      // Its own lease removed again: only the prune's is left.
      expect(await liveKinds(storage)).toEqual(['prune']);
      await prune.release();
    },
  );

  it.each([
    ['restore', 'restore'],
    ['selective', 'restore'],
    ['diff', 'diff'],
    ['export', 'export'],
    ['drill', 'restore'],
  ] as const)(
    '%s reads under a live %s lease and releases it however it ends',
    async (name, kind) => {
      const { storage, reader } = await snapshotIn();
      const seen: string[][] = [];
      // The first read of the snapshot's contents (verification) happens under the lease; the run
      // then fails (failingRuns).
      const verify = reader.verify.bind(reader);
      reader.verify = async () => {
        seen.push(await liveKinds(storage));
        return verify();
      };
      await expect(failingRuns[name](reader)).rejects.toBeDefined();
      expect(seen[0]).toEqual([kind]);
      expect(await liveKinds(storage)).toEqual([]);
    },
  );

  it('export that completes read under its lease and released it', async () => {
    const { storage, reader } = await snapshotIn();
    const seen: string[][] = [];
    const verify = reader.verify.bind(reader);
    reader.verify = async () => {
      seen.push(await liveKinds(storage));
      return verify();
    };
    const sink = new MemoryStorage();
    const r = await exportCsv(reader, sink);
    expect(r.eligible + r.ineligible.total).toBe(1);
    expect(seen[0]).toEqual(['export']);
    expect(await liveKinds(storage)).toEqual([]);
  });

  /**
   * The race itself: a prune that runs while a library call reads the snapshot (paused at its
   * verification) keeps it (`in-use`); the same prune with no call running deletes it.
   */
  it.each(Object.keys(failingRuns) as (keyof typeof failingRuns)[])(
    'a prune while %s runs keeps the snapshot (in-use); without the run it deletes it',
    async (name) => {
      const root = new MemoryStorage();
      const { storage, reader, path } = await snapshotIn(root);
      // A newer snapshot: keepLast 1 makes the one under test expired.
      await tinySnapshot(root, POOL, '2026-11-02T00:00:00Z');
      let during: Awaited<ReturnType<typeof prune>> | undefined;
      const verify = reader.verify.bind(reader);
      reader.verify = async () => {
        during ??= await prune(root, { keepLast: 1 });
        return verify();
      };
      await expect(failingRuns[name](reader)).rejects.toBeDefined();
      const kept = during?.decisions.find((d) => d.path === path);
      expect(kept).toMatchObject({ keep: true, reasons: ['in-use'] });
      expect(await storage.exists('manifest.json')).toBe(true);
      // Control: nothing reads it now, so the same prune deletes it.
      const after = await prune(root, { keepLast: 1 });
      expect(after.decisions.find((d) => d.path === path)).toMatchObject({ keep: false });
      expect(await storage.exists('manifest.json')).toBe(false);
    },
  );
});
