import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CognitoIdentityProviderClient,
  ListUserPoolsCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { seedPool } from '../../testing/seed.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import { RestoreJournal } from '../../src/restore/state/journal.js';
import { StateDirLock } from '../../src/restore/state/lock.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';
import { MOTO_ENV } from '../support/moto.js';

/**
 * The state directory's lock, with real processes: two runs started at once never both hold it
 * (also when both race to take over a stale lock), a lock left by a SIGKILLed run is taken
 * over, and two concurrent `restore --create-pool` runs of the same restore create one pool.
 */
const CLI = process.env.CV_TEST_CLI ?? path.resolve('dist/cli/main.js');
const LOCK_JS = pathToFileURL(path.resolve('dist/restore/state/lock.js')).href;

interface Out {
  code: number | null;
  stdout: string;
  stderr: string;
}

function node(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Out> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A process that takes the lock, proves it is alone inside, holds it a while, releases. */
const HOLDER = `
import { openSync, closeSync, unlinkSync } from 'node:fs';
import { StateDirLock } from ${JSON.stringify(LOCK_JS)};
const dir = process.argv[1];
let lock;
try { lock = StateDirLock.acquire(dir); } catch (e) { console.log('LOCKED ' + e.code); process.exit(0); }
let fd;
try { fd = openSync(dir + '/inside', 'wx'); } catch { console.log('OVERLAP'); process.exit(3); }
closeSync(fd);
await new Promise((r) => setTimeout(r, Number(process.argv[2] ?? 300)));
unlinkSync(dir + '/inside');
lock.release();
console.log('OK');
`;

function holder(dir: string, holdMs = 300): Promise<Out> {
  return node(['--input-type=module', '-e', HOLDER, dir, String(holdMs)]);
}

/** A lock file as a run that died would have left it. */
function staleLock(dir: string, gen = 1): void {
  writeFileSync(
    path.join(dir, `lock.${gen}`),
    JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), start: '1', token: 'dead', at: '' }),
  );
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
});

describe('state directory lock (real processes)', () => {
  it('two runs started at once: never both inside, also when both take over a stale lock', async () => {
    for (let i = 0; i < 8; i++) {
      const dir = mkdtempSync(path.join(tmpdir(), 'cv-lock-'));
      if (i % 2 === 0) staleLock(dir, 1 + i);
      const runs = await Promise.all([holder(dir), holder(dir), holder(dir)]);
      const lines = runs.map((r) => r.stdout.trim());
      expect(
        lines.filter((l) => l === 'OVERLAP'),
        lines.join(' | '),
      ).toEqual([]);
      expect(lines.filter((l) => l === 'OK').length).toBeGreaterThanOrEqual(1);
      for (const l of lines) expect(['OK', 'LOCKED STATE_DIR_LOCKED']).toContain(l);
      // Nothing left behind: no lock file, no temporary file.
      expect(readdirSync(dir).filter((n) => n.startsWith('lock') || n.startsWith('.lock'))).toEqual(
        [],
      );
    }
  });

  it('a lock whose holder was SIGKILLed is taken over; a live holder is refused', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cv-lock-kill-'));
    const child = spawn(process.execPath, ['--input-type=module', '-e', HOLDER, dir, '60000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // Wait until it holds the lock.
    for (let t = 0; t < 200 && !existsSync(path.join(dir, 'inside')); t++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(existsSync(path.join(dir, 'inside'))).toBe(true);
    expect(() => StateDirLock.acquire(dir)).toThrow(/another restore \(pid \d+\)/);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const lock = StateDirLock.acquire(dir);
    expect(lock.stillHeld()).toBe(true);
    // The same process cannot take it twice either.
    expect(() => StateDirLock.acquire(dir)).toThrow(/another restore/);
    lock.release();
    expect(readdirSync(dir).filter((n) => n.startsWith('lock.'))).toEqual([]);
  });

  it('a temporary lock file left by a run killed before publishing it is cleaned up', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cv-lock-tmp-'));
    writeFileSync(
      path.join(dir, '.lock-tmp-dead'),
      JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), start: '1', token: 'dead', at: '' }),
    );
    writeFileSync(path.join(dir, '.lock-tmp-partial'), '{"pid":');
    const lock = StateDirLock.acquire(dir);
    lock.release();
    expect(readdirSync(dir).sort()).toEqual(['.lock-tmp-partial']);
  });

  it('an unwritable state directory is a storage error (exit 8), not a crash', async () => {
    if (process.getuid?.() === 0) return; // root writes anywhere
    const dir = mkdtempSync(path.join(tmpdir(), 'cv-lock-ro-'));
    chmodSync(dir, 0o500);
    try {
      await expect(RestoreJournal.lockDir(dir)).rejects.toMatchObject({
        code: 'UNWRITABLE',
        exitCode: 8,
      });
    } finally {
      chmodSync(dir, 0o700);
    }
  });

  it('a lock from another host is never taken over', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cv-lock-host-'));
    writeFileSync(
      path.join(dir, 'lock.1'),
      JSON.stringify({ pid: 1, host: `not-${hostname()}`, start: '', token: 't', at: '' }),
    );
    expect(() => StateDirLock.acquire(dir)).toThrow(/on not-.*remove/);
  });
});

describe('two concurrent restores of the same snapshot into --create-pool (moto)', () => {
  let fixture: MotoFixture | undefined;
  let snapshot: string;
  let raw: CognitoIdentityProviderClient;

  beforeAll(async () => {
    fixture = await startMotoFixture('cv-restore-lock-');
    raw = fixture.raw;
    const seeded = await seedPool(fixture.gw, {
      users: 30,
      groups: 3,
      poolName: 'lock-source',
      concurrency: 8,
    });
    const root = new LocalDirStorage(path.join(fixture.work, 'snapshots'));
    const b = await backupPool(fixture.gw, root, { userPoolId: seeded.userPoolId });
    snapshot = path.join(root.location, seeded.userPoolId, b.manifest.snapshotId);
    writeFileSync(
      path.join(fixture.work, 'secrets.json'),
      JSON.stringify({ Google: { client_secret: 'x' } }),
    );
  });

  afterAll(async () => {
    await fixture?.stop();
  });

  it('a run paused after its preflight started cannot create a second pool (in-process)', async () => {
    const f = fixture as MotoFixture;
    const stateDir = path.join(f.work, 'state-paused');
    const name = 'lock-paused';
    const open = () => SnapshotReader.open(new LocalDirStorage(snapshot));
    // B starts first and is held inside its preflight (reading the snapshot's users).
    const b = await open();
    let resume!: () => void;
    const paused = new Promise<void>((r) => (resume = r));
    let reached!: () => void;
    const inPreflight = new Promise<void>((r) => (reached = r));
    const records = b.records.bind(b);
    let first = true;
    b.records = async function* (...args: Parameters<typeof records>) {
      if (first && args[0] === 'users') {
        first = false;
        reached();
        await paused;
      }
      yield* records(...args);
    } as typeof b.records;
    const opts = { stateDir, idpSecrets: { Google: { client_secret: 'x' } } };
    const runB = restoreSnapshot(f.gw, b, { ...opts, target: { createPool: name } });
    await inPreflight;
    // A runs meanwhile: with the lock taken before the journal is read, A is refused; without
    // it, A would create the pool and B, resuming with its stale view, a second one.
    const a = await restoreSnapshot(f.gw, await open(), {
      ...opts,
      target: { createPool: name },
    }).catch((e: unknown) => e);
    resume();
    await runB;
    expect(a).toMatchObject({ code: 'STATE_DIR_LOCKED' });
    const pools = await raw.send(new ListUserPoolsCommand({ MaxResults: 60 }));
    expect((pools.UserPools ?? []).filter((p) => p.Name === name)).toHaveLength(1);
  });

  it('create exactly one pool, whatever the interleaving', async () => {
    const f = fixture as MotoFixture;
    const env: NodeJS.ProcessEnv = { ...process.env, ...MOTO_ENV };
    delete env.AWS_PROFILE;
    for (let i = 0; i < 3; i++) {
      const name = `lock-target-${i}`;
      const stateDir = path.join(f.work, `state-${i}`);
      if (i === 2) {
        // A stale lock from a killed run: both race to take it over.
        mkdirSync(stateDir, { recursive: true, mode: 0o700 });
        staleLock(stateDir);
      }
      const args = [
        CLI,
        'restore',
        '--from',
        snapshot,
        '--create-pool',
        name,
        '--state-dir',
        stateDir,
        '--idp-secrets',
        path.join(f.work, 'secrets.json'),
        '--endpoint-url',
        f.moto.endpoint,
        '--json',
        '--quiet',
      ];
      const runs = await Promise.all([node(args, env), node(args, env)]);
      const codes = runs.map((r) => r.code).sort();
      // Either one was refused (exit 2, the lock) or they ran one after the other (0, 0).
      expect([
        [0, 0],
        [0, 2],
      ]).toContainEqual(codes);
      for (const r of runs.filter((x) => x.code === 2)) expect(r.stderr).toMatch(/another restore/);
      const pools = await raw.send(new ListUserPoolsCommand({ MaxResults: 60 }));
      expect((pools.UserPools ?? []).filter((p) => p.Name === name)).toHaveLength(1);
      // Rerun once more: still one pool.
      const again = await node(args, env);
      expect(again.code, again.stderr).toBe(0);
      const after = await raw.send(new ListUserPoolsCommand({ MaxResults: 60 }));
      expect((after.UserPools ?? []).filter((p) => p.Name === name)).toHaveLength(1);
    }
  });
});
