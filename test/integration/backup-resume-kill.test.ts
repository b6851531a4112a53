import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { seedPool } from '../../testing/seed.js';
import { type FileKind, SnapshotReader } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { cliEnv, type Run, startCli } from '../support/cli.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';

/**
 * Issue 10.1's acceptance test: a backup of a few thousand users on moto, interrupted at random
 * moments (kill -9, and SIGTERM at least once) at least five times, resumed each time with
 * `backup --resume`, ends in a snapshot that verifies and holds exactly the records of an
 * uninterrupted backup of the same pool. The kill moments come from a seeded PRNG; the seed is
 * printed, and RESUME_KILL_SEED=<seed> replays a failing run's schedule.
 */
const USERS = 3000;
const INTERRUPTS = 5;

let fx: MotoFixture;
let poolId: string;
let home: string;

/** mulberry32: small, seedable, good enough for picking moments. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

beforeAll(async () => {
  fx = await startMotoFixture('cv-resume-kill-');
  home = path.join(fx.work, 'home');
  await mkdir(home, { recursive: true });
  const t0 = performance.now();
  poolId = (
    await seedPool(fx.gw, {
      poolName: 'resume-kill',
      users: USERS,
      groups: 6,
      statuses: false,
      concurrency: 16,
    })
  ).userPoolId;
  console.log(`seeded ${USERS} users in ${Math.round(performance.now() - t0)} ms`);
}, 600_000);

afterAll(async () => {
  await fx?.stop();
});

/**
 * ListUsers paced (16 shards: 10 calls/s, 256: 25/s): a run's progress is bound by the rate, not
 * by how loaded the machine is, so an eighth of the reference run's time is at most about an
 * eighth of its work whatever the load (the pacer allows no burst).
 */
function backupArgs(to: string, shards: string, extra: string[] = []): string[] {
  return [
    'backup',
    '--user-pool-id',
    poolId,
    '--endpoint-url',
    fx.moto.endpoint,
    '--to',
    to,
    '--shards',
    shards,
    '--max-rps',
    `UserList=${shards === '256' ? 25 : 10}`,
    ...extra,
  ];
}

const env = (): NodeJS.ProcessEnv => cliEnv(home, fx.moto.endpoint);

async function snapshotIds(to: string): Promise<string[]> {
  const dir = path.join(to, poolId);
  return existsSync(dir) ? (await readdir(dir)).sort() : [];
}

/** Every record of a snapshot as sorted JSON strings per kind, ids and timestamps aside. */
async function contents(dir: string): Promise<Record<string, string[]>> {
  const reader = await SnapshotReader.open(new LocalDirStorage(dir));
  const out: Record<string, string[]> = {};
  const docs: FileKind[] = [
    'pool',
    'clients',
    'identityProviders',
    'resourceServers',
    'groups',
    'managedLoginBranding',
  ];
  for (const kind of docs) {
    const v = await reader.readJson(kind, z.unknown());
    out[kind] = (Array.isArray(v) ? v : [v]).map((x) => JSON.stringify(x)).sort();
  }
  for (const kind of ['users', 'memberships'] as const) {
    const rows: string[] = [];
    for await (const r of reader.records(kind, z.unknown())) rows.push(JSON.stringify(r));
    out[kind] = rows.sort();
  }
  return out;
}

async function verify(to: string, id: string): Promise<Run> {
  return startCli(['verify', path.join(to, poolId, id), '--quiet'], { env: env() }).done;
}

describe.each(['16', '256'])('backup interrupted at random moments (%s shards)', (shards) => {
  it('kill -9 / SIGTERM ≥ 5 times, resumed each time: the snapshot verifies and equals an uninterrupted one', async () => {
    const seed = Number(process.env.RESUME_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`shards ${shards}: RESUME_KILL_SEED=${seed}`);
    const rand = prng(seed + Number(shards));

    // The reference, uninterrupted; its duration scales the kill moments.
    const refTo = path.join(fx.work, `ref-${shards}`);
    const ref = startCli(backupArgs(refTo, shards), { env: env(), timeoutMs: 300_000 });
    await ref.waitFor(/… snapshot: /, 120_000);
    const t0 = performance.now();
    const refRun = await ref.done;
    const full = performance.now() - t0;
    expect(refRun.code, refRun.stderr).toBe(0);
    const [refId] = await snapshotIds(refTo);
    console.log(
      `shards ${shards}: uninterrupted backup took ${Math.round(full)} ms after its snapshot line`,
    );

    // At most an eighth of a full run each, so that five runs cannot finish the work (with 256
    // shards, finished one by one, progress adds up from run to run; 16 shards advance together,
    // and an unfinished one is listed again from its start).
    const to = path.join(fx.work, `resumed-${shards}`);
    const sigtermAt = Math.floor(rand() * INTERRUPTS);
    let id: string | undefined;
    let interrupts = 0;
    for (let attempt = 0; interrupts < INTERRUPTS; attempt++) {
      expect(attempt, 'too many runs finished before their kill').toBeLessThan(INTERRUPTS + 5);
      const signal = interrupts === sigtermAt ? 'SIGTERM' : 'SIGKILL';
      const delay = Math.round((rand() * full) / 8);
      const run = startCli(backupArgs(to, shards, id ? ['--resume', id] : []), {
        env: env(),
        timeoutMs: 300_000,
      });
      await run.waitFor(/… snapshot: /, 120_000);
      await new Promise((r) => setTimeout(r, delay));
      const alive = run.child.exitCode === null && run.child.signalCode === null;
      run.child.kill(signal);
      const r = await run.done;
      console.log(
        `shards ${shards}: run ${attempt} ${signal} after ${delay} ms → ${r.signal ?? r.code}`,
      );
      id ??= (await snapshotIds(to))[0];
      expect(id).toBeDefined();
      if (!alive || r.code === 0) continue; // finished before the kill: not an interruption
      if (signal === 'SIGTERM') {
        // Stopped cleanly: exit 130, the id to resume named, its lease released.
        expect(r.code, r.stderr).toBe(130);
        expect(r.stderr).toContain(`snapshot ${id}`);
        // Its own lease is released (a lease of an earlier, killed run may still be there).
        const locks = path.join(to, poolId, id ?? '', 'locks');
        for (const f of existsSync(locks) ? await readdir(locks) : []) {
          const lease = JSON.parse(await readFile(path.join(locks, f), 'utf8')) as { pid: number };
          expect(lease.pid).not.toBe(run.child.pid);
        }
      } else {
        expect(r.signal).toBe('SIGKILL');
      }
      expect(existsSync(path.join(to, poolId, id ?? '', 'manifest.json'))).toBe(false);
      interrupts++;
    }
    const last = await startCli(backupArgs(to, shards, ['--resume', id ?? '', '--json']), {
      env: env(),
      timeoutMs: 300_000,
    }).done;
    expect(last.code, last.stderr).toBe(0);
    const result = JSON.parse(last.stdout) as { resumed?: { count: number } };
    expect(result.resumed?.count).toBeGreaterThanOrEqual(INTERRUPTS);
    expect(await snapshotIds(to)).toEqual([id]);

    const v = await verify(to, id ?? '');
    expect(v.code, v.stderr).toBe(0);
    const a = await contents(path.join(refTo, poolId, refId ?? ''));
    const b = await contents(path.join(to, poolId, id ?? ''));
    expect(a.users).toHaveLength(USERS);
    expect(new Set(b.users).size).toBe(b.users?.length);
    for (const kind of Object.keys(a)) expect(b[kind], kind).toEqual(a[kind]);
    const manifest = (
      await SnapshotReader.open(new LocalDirStorage(path.join(to, poolId, id ?? '')))
    ).manifest;
    expect(manifest.resumes?.length).toBe(result.resumed?.count);
    console.log(
      `shards ${shards}: units kept at each resume: ${(manifest.resumes ?? []).map((x) => x.unitsKept).join(', ')}`,
    );
  }, 900_000);
});
