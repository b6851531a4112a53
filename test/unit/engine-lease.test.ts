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
      // then fails (the tiny snapshot has no pool document, the gateway answers nothing).
      const verify = reader.verify.bind(reader);
      reader.verify = async () => {
        seen.push(await liveKinds(storage));
        return verify();
      };
      await expect(runs[name](reader)).rejects.toBeDefined();
      expect(seen[0]).toEqual([kind]);
      expect(await liveKinds(storage)).toEqual([]);
    },
  );
});
