import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { backupPool, NoProgressError } from '../../src/backup/engine.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { InterruptedError, type VaultError } from '../../src/core/errors.js';
import { seedPool } from '../../testing/seed.js';
import { SnapshotReader } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { cliEnv, startCli } from '../support/cli.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { type MotoFixture, REGION, startMotoFixture } from '../support/fixture.js';
import { type QuotaProxy, startQuotaProxy } from '../support/quota-proxy.js';

/**
 * Issue 15.2's acceptance: resume always makes progress. The pool is listed through the quota
 * proxy (Cognito's UserList bucket, here 12 RPS, answering TooManyRequestsException above it),
 * which counts every ListUsers call, so that what a resume lists again is measured, not
 * assumed:
 *  - a backup killed (kill -9) at random moments and resumed lists again at most about one page
 *    per open shard per kill (the page in flight, and one stored in no segment yet);
 *  - stopped by a short "invocation deadline" again and again (the Step Functions unit's
 *    situation), a pool that needs ≥ 5 invocations completes, every invocation makes progress,
 *    and the snapshot equals an uninterrupted one record for record;
 *  - an invocation that stores nothing fails with NoProgressError instead of looping.
 * The kill moments come from a seeded PRNG; the seed is printed, RESUME_PAGES_SEED replays it.
 */
const USERS = 2400; // 16 shards × 2–3 pages of 60
const USER_LIST_RPS = 12;
const OPEN_SHARDS = 16;

let fx: MotoFixture;
let proxy: QuotaProxy;
let poolId: string;
let home: string;

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
  fx = await startMotoFixture('cv-resume-pages-');
  home = path.join(fx.work, 'home');
  await mkdir(home, { recursive: true });
  poolId = (
    await seedPool(fx.gw, {
      poolName: 'resume-pages',
      users: USERS,
      groups: 0,
      memberships: 'none',
      statuses: false,
      concurrency: 16,
    })
  ).userPoolId;
  proxy = await startQuotaProxy({
    target: fx.moto.endpoint,
    delayMs: 20,
    overrides: { UserList: USER_LIST_RPS },
  });
}, 600_000);

afterAll(async () => {
  await proxy?.close();
  await fx?.stop();
});

/** ListUsers calls the proxy let through since the last reset (the pool has no groups). */
function listUsersCalls(): number {
  return proxy.stats().categories.UserList?.allowed ?? 0;
}

async function settle(): Promise<void> {
  // A full bucket for each run, as after any idle second.
  await new Promise((r) => setTimeout(r, 1100));
  proxy.resetStats();
}

/** Every record of a snapshot as sorted JSON strings per kind. */
async function contents(dir: string): Promise<Record<string, string[]>> {
  const reader = await SnapshotReader.open(new LocalDirStorage(dir));
  expect((await reader.verify()).ok).toBe(true);
  const out: Record<string, string[]> = {};
  for (const kind of ['users', 'memberships'] as const) {
    const rows: string[] = [];
    for await (const r of reader.records(kind, z.unknown())) rows.push(JSON.stringify(r));
    out[kind] = rows.sort();
  }
  for (const kind of ['pool', 'clients', 'groups', 'identityProviders'] as const) {
    const v = await reader.readJson(kind, z.unknown());
    out[kind] = (Array.isArray(v) ? v : [v]).map((x) => JSON.stringify(x)).sort();
  }
  return out;
}

const backupArgs = (to: string, extra: string[] = []): string[] => [
  'backup',
  '--user-pool-id',
  poolId,
  '--endpoint-url',
  proxy.endpoint,
  '--to',
  to,
  '--max-rps',
  `UserList=${USER_LIST_RPS}`,
  ...extra,
];

let reference: { dir: string; calls: number; ms: number } | undefined;

/** An uninterrupted backup through the proxy: its ListUsers calls and its records. */
async function uninterrupted(): Promise<{ dir: string; calls: number; ms: number }> {
  if (reference) return reference;
  const to = path.join(fx.work, 'reference');
  await settle();
  const run = startCli(backupArgs(to), { env: cliEnv(home, fx.moto.endpoint), timeoutMs: 300_000 });
  const r = await run.done;
  expect(r.code, r.stderr).toBe(0);
  const [id] = await readdir(path.join(to, poolId));
  reference = { dir: path.join(to, poolId, id ?? ''), calls: listUsersCalls(), ms: r.ms };
  console.log(`uninterrupted: ${reference.calls} ListUsers calls in ${Math.round(r.ms)} ms`);
  return reference;
}

describe('resume below the shard, through the quota proxy', () => {
  it('killed (kill -9) at random moments: each resume lists again at most about one page per open shard', async () => {
    const ref = await uninterrupted();
    const seed = Number(process.env.RESUME_PAGES_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`RESUME_PAGES_SEED=${seed}`);
    const rand = prng(seed);
    const to = path.join(fx.work, 'killed');
    const env = cliEnv(home, fx.moto.endpoint);
    let id: string | undefined;
    let calls = 0;
    let kills = 0;
    let runs = 0;
    for (let attempt = 0; kills < 3; attempt++) {
      expect(attempt, 'too many runs finished before their kill').toBeLessThan(8);
      await settle();
      const run = startCli(backupArgs(to, id ? ['--resume', id] : []), { env, timeoutMs: 300_000 });
      runs++;
      await run.waitFor(/… snapshot: /, 120_000);
      // Between a twelfth and a quarter of an uninterrupted run: each leaves work to resume.
      const delay = Math.round(ref.ms * (0.08 + rand() * 0.17));
      await new Promise((r) => setTimeout(r, delay));
      const alive = run.child.exitCode === null && run.child.signalCode === null;
      run.child.kill('SIGKILL');
      const r = await run.done;
      calls += listUsersCalls();
      id ??= existsSync(path.join(to, poolId)) ? (await readdir(path.join(to, poolId)))[0] : id;
      console.log(`run ${attempt}: SIGKILL after ${delay} ms → ${r.signal ?? r.code}`);
      if (alive && r.signal === 'SIGKILL') kills++;
    }
    await settle();
    const last = await startCli(backupArgs(to, ['--resume', id ?? '', '--json']), {
      env,
      timeoutMs: 300_000,
    }).done;
    expect(last.code, last.stderr).toBe(0);
    calls += listUsersCalls();
    const relisted = calls - ref.calls;
    console.log(
      `${kills} kills: ${calls} ListUsers calls in all against ${ref.calls} uninterrupted: ${relisted} listed again (${(relisted / kills / OPEN_SHARDS).toFixed(2)} per open shard per kill)`,
    );
    // The page in flight at the kill, and at most one received but not yet stored.
    expect(relisted).toBeLessThanOrEqual(kills * OPEN_SHARDS * 2);
    const result = JSON.parse(last.stdout) as { resumed?: { count: number } };
    expect(result.resumed?.count).toBe(runs);
    expect(await contents(path.join(to, poolId, id ?? ''))).toEqual(await contents(ref.dir));
  }, 900_000);

  it('stopped at a short invocation deadline again and again: ≥ 5 invocations, each makes progress, and the snapshot equals an uninterrupted one', async () => {
    const ref = await uninterrupted();
    const to = path.join(fx.work, 'deadlines');
    const root = new LocalDirStorage(to);
    // UserList at a quarter of the rate: ~16 s of listing, in invocations of 3 s (start-up and
    // the pool's resources, which must fit in one invocation, included).
    const rps = USER_LIST_RPS / 4;
    const slow = await startQuotaProxy({
      target: fx.moto.endpoint,
      delayMs: 20,
      overrides: { UserList: rps },
    });
    const deadlineMs = 3000;
    let id: string | undefined;
    let invocations = 0;
    let calls = 0;
    for (;;) {
      expect(invocations, 'the backup does not converge').toBeLessThan(60);
      await new Promise((r) => setTimeout(r, 1100));
      slow.resetStats();
      invocations++;
      const gw = CognitoGateway.create(
        { region: REGION, endpointUrl: slow.endpoint },
        { rate: { maxRps: { UserList: rps } } },
      );
      const deadline = new AbortController();
      const timer = setTimeout(
        () => deadline.abort(new InterruptedError('stopped before the Lambda timeout')),
        deadlineMs,
      );
      try {
        const r = await backupPool(gw, root, {
          userPoolId: poolId,
          ...(id ? { resume: id } : {}),
          signal: deadline.signal,
          failWithoutProgress: true,
        });
        calls += slow.stats().categories.UserList?.allowed ?? 0;
        expect(r.users).toBe(USERS);
        id = r.snapshotId;
        break;
      } catch (e) {
        calls += slow.stats().categories.UserList?.allowed ?? 0;
        console.log(
          `invocation ${invocations}: ${(e as VaultError).code}, progressMade ${String((e as VaultError).context?.progressMade)}`,
        );
        // A stopped invocation that stored nothing would be NoProgressError: never here.
        expect(e).toBeInstanceOf(InterruptedError);
        expect((e as VaultError).context.progressMade).toBe(true);
        id = String((e as VaultError).context.snapshotId);
      } finally {
        clearTimeout(timer);
        gw.destroy();
      }
    }
    await slow.close();
    console.log(
      `deadline ${deadlineMs} ms: ${invocations} invocations, ${calls} ListUsers calls against ${ref.calls} uninterrupted`,
    );
    expect(invocations).toBeGreaterThanOrEqual(5);
    expect(calls - ref.calls).toBeLessThanOrEqual((invocations - 1) * OPEN_SHARDS * 2);
    expect(await contents(path.join(to, poolId, id ?? ''))).toEqual(await contents(ref.dir));
  }, 900_000);

  it('an invocation that stores nothing fails with NoProgressError (BACKUP_NO_PROGRESS), never "continue"', async () => {
    const root = new LocalDirStorage(path.join(fx.work, 'no-progress'));
    // ListUsers unanswered (held by a proxy): a stop stores the pages that answered, and here
    // none does.
    const holding = await startFaultProxy({
      target: proxy.endpoint,
      dropResponses: {},
      hold: ['ListUsers'],
    });
    const gw = CognitoGateway.create(
      { region: REGION, endpointUrl: holding.endpoint },
      { rate: { maxRps: { UserList: USER_LIST_RPS } } },
    );
    try {
      // Stopped the moment its snapshot exists (the plan written, no page answered): there is
      // a snapshot to continue and continuing it would make no progress.
      const deadline = new AbortController();
      const e = await backupPool(gw, root, {
        userPoolId: poolId,
        signal: deadline.signal,
        failWithoutProgress: true,
        onProgress: (ev) => {
          if (ev.type === 'phase' && ev.phase === 'snapshot') {
            deadline.abort(new InterruptedError('deadline'));
          }
        },
      }).then(
        () => undefined,
        (x: unknown) => x as VaultError,
      );
      expect(e).toBeInstanceOf(NoProgressError);
      expect(e?.code).toBe('BACKUP_NO_PROGRESS');
      expect(e?.context.progressMade).toBe(false);
      expect(typeof e?.context.snapshotId).toBe('string');

      // Stopped before the snapshot has an id: nothing to continue, so a plain InterruptedError
      // without a snapshot id (the state machine's bounded retry starts a new run).
      const early = new AbortController();
      const run = backupPool(gw, root, {
        userPoolId: poolId,
        signal: early.signal,
        failWithoutProgress: true,
      });
      early.abort(new InterruptedError('deadline'));
      const e2 = await run.then(
        () => undefined,
        (x: unknown) => x as VaultError,
      );
      expect(e2).toBeInstanceOf(InterruptedError);
      expect(e2?.context.progressMade).toBe(false);
      expect(e2?.context.snapshotId).toBeUndefined();
      expect(holding.calls.has('ListUsers')).toBe(true);
    } finally {
      gw.destroy();
      await holding.close();
    }
  }, 120_000);
});
