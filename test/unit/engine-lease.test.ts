import { describe, expect, it } from 'vitest';
import type { CognitoGateway } from '../../src/cognito/gateway.js';
import { diffSnapshot } from '../../src/compare/diff.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import { exportCsv } from '../../src/snapshot/export-csv.js';
import { acquireLease, readLeases } from '../../src/snapshot/lease.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/storage.js';
import { tinySnapshot } from '../support/tiny-snapshot.js';

/**
 * Issue 19 item 5: the engines take the snapshot's read lease themselves, so a library caller
 * (not only the CLI) is protected from a concurrent prune.
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
} as unknown as CognitoGateway;

async function snapshotIn(): Promise<{ storage: Storage; reader: SnapshotReader }> {
  const root = new MemoryStorage();
  const storage = root.child(await tinySnapshot(root, POOL, '2026-11-01T00:00:00Z'));
  return { storage, reader: await SnapshotReader.open(storage) };
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
  diff: (r: SnapshotReader) => diffSnapshot(r, noCalls, POOL),
  export: (r: SnapshotReader) => exportCsv(r, new MemoryStorage()),
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
    ['diff', 'diff'],
    ['export', 'export'],
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
});
