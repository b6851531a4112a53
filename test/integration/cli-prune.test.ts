import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_FILE, newSnapshotId } from '../../src/snapshot/format.js';
import { acquireLease } from '../../src/snapshot/lease.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import type { Storage } from '../../src/storage/storage.js';
import { manifestDraft } from '../support/tiny-snapshot.js';

/** `list` and `prune` as a user runs them (dist/cli/main.js), on a local backup root. */
const CLI = path.resolve('dist/cli/main.js');
const POOL = 'us-east-1_CliPrune';
let work: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Run> {
  try {
    const r = await promisify(execFile)(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: work },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

async function snapshot(root: Storage, iso: string): Promise<string> {
  const id = newSnapshotId(new Date(iso));
  const w = new SnapshotWriter(root.child(`${POOL}/${id}`));
  // Every required document: only a structurally complete snapshot counts for retention.
  await w.writeJson('pool.json', 'pool', { userPool: { Id: POOL } }, 1);
  await w.writeJson('clients.json', 'clients', [], 0);
  await w.writeJson('identity-providers.json', 'identityProviders', [], 0);
  await w.writeJson('resource-servers.json', 'resourceServers', [], 0);
  await w.writeJson('groups.json', 'groups', [], 0);
  const at = new Date(iso).toISOString();
  await w.commit(
    manifestDraft({
      snapshotId: id,
      userPool: { id: POOL, name: 'p' },
      startedAt: at,
      finishedAt: at,
    }),
  );
  return `${POOL}/${id}`;
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cv-cli-prune-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('cognito-vault prune and list', () => {
  it('refuses a malformed --user-pool-id, --keep-last 0 and bad numbers or durations with exit 2', async () => {
    const root = path.join(work, 'usage');
    for (const args of [
      ['--keep-last', '1', '--user-pool-id', 'not a pool'],
      ['--keep-last', '1', '--user-pool-id', '../etc'],
      ['--keep-last', '0'],
      ['--keep-last', '-1'],
      ['--keep-last', '0x2'],
      ['--keep-last', '1.5'],
      ['--keep-last', '1', '--keep-daily', ''],
      ['--keep-last', '1', '--incomplete-grace', '5m'],
      ['--keep-last', '1', '--incomplete-grace', 'soon'],
    ]) {
      const r = await cli(['prune', root, ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n')[0]).toMatch(/error/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(root)).toBe(false);
  });

  it('lists and keeps unreadable and unknown-format snapshots, and says why', async () => {
    const dir = path.join(work, 'mixed');
    const root = new LocalDirStorage(dir);
    const s1 = await snapshot(root, '2026-11-01T00:00:00Z');
    const s2 = await snapshot(root, '2026-11-02T00:00:00Z');
    const s3 = await snapshot(root, '2026-11-03T00:00:00Z');
    const s4 = await snapshot(root, '2026-11-04T00:00:00Z');
    await root.child(s1).put(MANIFEST_FILE, '{ not json');
    await root.child(s4).put(MANIFEST_FILE, JSON.stringify({ formatVersion: 3 }));

    const list = await cli(['list', dir]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^UNREADABLE\\s+\\S+${s1}\\s+.*not valid JSON`, 'm'));
    expect(list.stdout).toMatch(
      new RegExp(`^UNKNOWN-FORMAT\\s+\\S+${s4}\\s+.*formatVersion 3 is newer`, 'm'),
    );
    const json = JSON.parse((await cli(['list', dir, '--json'])).stdout) as {
      snapshots: { status: string }[];
    };
    expect(json.snapshots.map((s) => s.status)).toEqual([
      'unreadable',
      'complete',
      'complete',
      'unknown-format',
    ]);

    const dry = await cli(['prune', dir, '--keep-last', '1', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as {
      deleted: { path: string }[];
      unreadable: { path: string; why: string }[];
    };
    expect(plan.deleted.map((d) => d.path)).toEqual([s2]);
    expect(plan.unreadable.map((d) => d.path).sort()).toEqual([s1, s4].sort());
    expect(plan.unreadable.every((d) => d.why.length > 0)).toBe(true);

    const real = await cli(['prune', dir, '--keep-last', '1', '--user-pool-id', POOL]);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toMatch(/kept .*\(unreadable: manifest\.json is not valid JSON\)/);
    expect(real.stdout).toMatch(/kept .*\(unknown-format: formatVersion 3 is newer/);
    expect(existsSync(path.join(dir, s1))).toBe(true);
    expect(existsSync(path.join(dir, s2))).toBe(false);
    expect(existsSync(path.join(dir, s3))).toBe(true);
    expect(existsSync(path.join(dir, s4))).toBe(true);
  });

  it('verify takes no lease on a path that is not a snapshot and leaves none behind on one that is', async () => {
    const dir = path.join(work, 'verify');
    const root = new LocalDirStorage(dir);
    const s = await snapshot(root, '2026-11-01T00:00:00Z');
    const ok = await cli(['verify', path.join(dir, s)]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(path.join(dir, s, 'locks'))).toBe(false);
    const missing = path.join(dir, 'no', 'such');
    expect((await cli(['verify', missing])).code).toBe(3);
    expect(existsSync(missing)).toBe(false);
  });

  it('restore refuses a snapshot that a prune is deleting (exit 8) and leaves no lease of its own', async () => {
    const dir = path.join(work, 'being-pruned');
    const root = new LocalDirStorage(dir);
    const s = await snapshot(root, '2026-11-01T00:00:00Z');
    const pruning = await acquireLease(root.child(s), 'prune');
    try {
      const r = await cli([
        'restore',
        '--from',
        path.join(dir, s),
        '--to-user-pool-id',
        'us-east-1_Target',
        '--endpoint-url',
        'http://127.0.0.1:9',
        '--state-dir',
        path.join(work, 'state-being-pruned'),
      ]);
      expect(r.code, r.stderr).toBe(8);
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/^cognito-vault: error: .* is being deleted by a prune/),
      ]);
      expect(await readdir(path.join(dir, s, 'locks'))).toEqual([pruning.key.split('/')[1]]);
    } finally {
      await pruning.release();
    }
  });
});
