import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { seedPool, type SeedResult } from '../../testing/seed.js';
import { requireOrSkip } from '../support/env.js';
import { freePort, MOTO_ENV, startMoto, type MotoServer } from '../support/moto.js';

/**
 * The built CLI (dist/cli/main.js) as a user runs it: a child process, real exit codes, real
 * signals, talking to moto on loopback.
 */
const CLI = path.resolve('dist/cli/main.js');
const POOL_USERS = 300;
const MISSING_POOL = 'us-east-1_00000000000000000000000000000000';

let moto: MotoServer;
let seed: SeedResult;
let work: string;
let home: string;
let canMount = false;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Environment of a user with moto's credentials and nothing from this machine's AWS config. */
function env(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    AWS_CONFIG_FILE: path.join(home, 'no-such-dir', 'config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-such-dir', 'credentials'),
    ...MOTO_ENV,
    ...overrides,
  };
  for (const [k, v] of Object.entries(e)) if (v === undefined) delete e[k];
  return e;
}

interface Started {
  child: ReturnType<typeof spawn>;
  done: Promise<Run>;
  /** Resolves when stderr contains a line matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
}

function start(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Started {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], {
    env: opts.env ?? env(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of [...waiters]) {
      if (w.re.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const done = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
  });
  return {
    child,
    done,
    waitFor(re, timeoutMs = 30_000) {
      if (re.test(stderr)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(new Error(`no stderr line matching ${re} within ${timeoutMs} ms:\n${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          re,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
        void done.then(() => {
          clearTimeout(t);
          reject(new Error(`CLI exited before printing ${re}:\n${stderr}`));
        });
      });
    },
  };
}

function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  return start(args, opts).done;
}

/**
 * Environment that preloads test/support/block-network.cjs into the CLI: connections to
 * 127.0.0.1 go through and are recorded in `log`, any other connection or DNS lookup is refused
 * and recorded.
 */
function networkLog(log: string): Record<string, string> {
  return {
    NODE_OPTIONS: `--require ${path.resolve('test/support/block-network.cjs')}`,
    BLOCK_NETWORK_LOG: log,
    BLOCK_NETWORK_ALLOW_LOOPBACK: '1',
  };
}

/** What the CLI tried, in order (the pid column dropped); [] when it tried nothing. */
function networkAttempts(log: string): string[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\d+ /, ''));
}

/** Every manifest.json below `dir` (none if `dir` does not exist). */
async function manifests(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((e) => path.basename(e) === 'manifest.json');
}

/** The snapshot directories (<root>/<pool>/<snapshotId>) below a backup root. */
async function snapshotDirs(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const pool of await readdir(root)) {
    for (const snap of await readdir(path.join(root, pool))) out.push(path.join(root, pool, snap));
  }
  return out;
}

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('cognito-vault: error:'));
}

/** With --quiet, a failure is exactly one line on stderr, and no stack trace. */
function expectOneErrorLine(r: Run, re: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^cognito-vault: error: /);
  expect(lines[0]).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const dir = (name: string): string => path.join(work, name);

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  work = await mkdtemp(path.join(tmpdir(), 'cv-cli-it-'));
  home = path.join(work, 'home');
  await mkdir(home, { recursive: true });
  moto = await startMoto();
  const gw = CognitoGateway.create(
    {
      region: 'us-east-1',
      endpointUrl: moto.endpoint,
      credentials: {
        accessKeyId: MOTO_ENV.AWS_ACCESS_KEY_ID,
        secretAccessKey: MOTO_ENV.AWS_SECRET_ACCESS_KEY,
      },
    },
    { rate: { unlimited: true } },
  );
  try {
    seed = await seedPool(gw, { users: POOL_USERS, groups: 10 });
  } finally {
    gw.destroy();
  }
  // A real full disk needs a tiny tmpfs: root in a container usually may mount one.
  const probe = dir('mount-probe');
  await mkdir(probe);
  try {
    await promisify(execFile)('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', probe]);
    await promisify(execFile)('umount', [probe]);
    canMount = true;
  } catch {
    canMount = false;
  }
}, 120_000);

afterAll(async () => {
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('cognito-vault backup (built CLI, moto)', () => {
  it('backs up a pool: exit 0, a JSON result, JSON progress lines, a snapshot that verifies', async () => {
    const to = dir('ok');
    const r = await cli([
      'backup',
      '--user-pool-id',
      seed.userPoolId,
      '--endpoint-url',
      moto.endpoint,
      '--to',
      to,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      userPoolId: seed.userPoolId,
      users: POOL_USERS,
      groups: 10,
      memberships: seed.memberships,
      clients: 2,
      identityProviders: 1,
      resourceServers: 1,
    });
    expect(typeof out.durationMs).toBe('number');
    expect(typeof out.snapshot).toBe('string');
    const snapshot = out.snapshot as string;
    expect(path.dirname(path.dirname(snapshot))).toBe(to);
    expect(existsSync(path.join(snapshot, 'manifest.json'))).toBe(true);
    // stderr carries only progress, as JSON lines.
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(JSON.parse(l)).toHaveProperty('progress');

    const v = await cli(['verify', snapshot, '--json']);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, problems: [] });

    const text = await cli(['verify', snapshot]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ok: /);
  });

  it('lists snapshots under a root, complete ones with their user count', async () => {
    const to = dir('ok');
    const r = await cli(['list', to, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { snapshots: Record<string, unknown>[] };
    expect(out.snapshots).toHaveLength(1);
    expect(out.snapshots[0]).toMatchObject({
      userPoolId: seed.userPoolId,
      complete: true,
      state: 'complete',
      users: POOL_USERS,
      poolName: expect.any(String),
      bytes: expect.any(Number),
    });
    const t = await cli(['list', to]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(
      // state, path, pool name, users, size
      new RegExp(
        `^complete\\s+\\S+${seed.userPoolId}/\\S+\\s+"[^"]*"\\s+${POOL_USERS} users\\s+[\\d.]+ [kMG]?B`,
      ),
    );
  });

  it('a snapshot with a corrupted part fails verify with exit 3 and names the file', async () => {
    const [snapshot] = await snapshotDirs(dir('ok'));
    if (!snapshot) throw new Error('no snapshot from the first test');
    const copy = dir('corrupt');
    await cp(snapshot, copy, { recursive: true });
    const part = path.join(copy, 'users', 'part-00003.jsonl.gz');
    const bytes = await readFile(part);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0x10;
    await writeFile(part, bytes);
    const r = await cli(['verify', copy, '--json']);
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as { ok: boolean; problems: string[] };
    expect(out.ok).toBe(false);
    expect(out.problems).toContain('users/part-00003.jsonl.gz: sha256 mismatch');
  });
});

describe('errors a user will hit: one clear line, the documented exit code, no manifest', () => {
  const backupArgs = (to: string, poolId = seed.userPoolId, endpoint = moto.endpoint) => [
    'backup',
    '--user-pool-id',
    poolId,
    '--endpoint-url',
    endpoint,
    '--to',
    to,
    '--quiet',
  ];

  it('unknown pool id → exit 2', async () => {
    const to = dir('e-unknown');
    const r = await cli(backupArgs(to, MISSING_POOL));
    expect(r.code).toBe(2);
    expectOneErrorLine(r, /user pool us-east-1_0+ does not exist in us-east-1/);
    expect(await manifests(to)).toEqual([]);
    // --json: the same error as an object on stdout.
    const j = await cli([...backupArgs(to, MISSING_POOL), '--json']);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({
      error: { code: 'POOL_NOT_FOUND', exitCode: 2 },
    });
    expect(errorLines(j.stderr)).toHaveLength(1);
  });

  it('malformed pool id → exit 2', async () => {
    const to = dir('e-malformed');
    const r = await cli(backupArgs(to, 'not-a-pool-id'));
    expect(r.code).toBe(2);
    expectOneErrorLine(r, /malformed user pool id "not-a-pool-id"/);
    expect(await manifests(to)).toEqual([]);
  });

  it('--region that disagrees with the pool id → exit 2', async () => {
    const to = dir('e-region');
    const r = await cli([...backupArgs(to), '--region', 'eu-west-1']);
    expect(r.code).toBe(2);
    expectOneErrorLine(r, /is in us-east-1, not in --region eu-west-1/);
    expect(await manifests(to)).toEqual([]);
  });

  it('an unknown flag → exit 2', async () => {
    const r = await cli(['backup', '--user-pool-id', seed.userPoolId, '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--no-such-flag'/);
  });

  it('no credentials anywhere → exit 5, no instance-metadata lookup (no connection at all)', async () => {
    const to = dir('e-creds');
    const log = path.join(home, 'e-creds-network.log');
    const r = await cli(backupArgs(to), {
      env: env({
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_SESSION_TOKEN: undefined,
        AWS_PROFILE: undefined,
        AWS_EC2_METADATA_DISABLED: 'true',
        ...networkLog(log),
      }),
    });
    expect(r.code).toBe(5);
    expectOneErrorLine(r, /no AWS credentials found/);
    // Counted, not timed: no connection (IMDS, the endpoint) and no DNS lookup was attempted.
    expect(networkAttempts(log)).toEqual([]);
    expect(await manifests(to)).toEqual([]);
  });

  it('--to below a regular file (unwritable) → exit 8', async () => {
    const parent = dir('e-unwritable');
    await mkdir(parent);
    await writeFile(path.join(parent, 'file.txt'), 'I am a file');
    const to = path.join(parent, 'file.txt', 'sub');
    const r = await cli(backupArgs(to));
    expect(r.code).toBe(8);
    // Found by the preflight, before anything is read from Cognito.
    expectOneErrorLine(r, /cannot write --to .*file\.txt\/sub \(ENOTDIR\)/);
    expect(await manifests(parent)).toEqual([]);
  });

  it('the disk fills up mid-backup (a 40 KiB tmpfs) → exit 8, no manifest', async (ctx) => {
    requireOrSkip(ctx, canMount, 'root with mount rights (a 40 KiB tmpfs)');
    const to = dir('e-full');
    await mkdir(to);
    await promisify(execFile)('mount', ['-t', 'tmpfs', '-o', 'size=40k', 'tmpfs', to]);
    try {
      const r = await cli(backupArgs(to));
      expect(r.code, r.stderr).toBe(8);
      expectOneErrorLine(r, /no space left on the device while writing /);
      expect(await manifests(to)).toEqual([]);
      // It failed part-way, after writing something.
      expect((await readdir(to, { recursive: true })).length).toBeGreaterThan(0);
    } finally {
      await promisify(execFile)('umount', [to]);
    }
  });

  it('an unreachable endpoint (closed loopback port) → exit 7, fast', async () => {
    const port = await freePort();
    const closed = `http://127.0.0.1:${port}`;
    const to = dir('e-unreachable');
    const log = path.join(home, 'e-unreachable-network.log');
    const r = await cli(backupArgs(to, seed.userPoolId, closed), {
      env: env(networkLog(log)),
    });
    expect(r.code, r.stderr).toBe(7);
    expectOneErrorLine(
      r,
      /cannot reach the Cognito endpoint \(ECONNREFUSED\) for DescribeUserPool/,
    );
    // "Fast" is counted, not timed: every connection attempt goes to that port, and while the
    // endpoint has never answered each call gets the pacing plugin's unreachableAttempts (3), not
    // the transient budget (8, with backoff: ~8 s). The calls are DescribeUserPool and the 16
    // users shards the backup starts beside it (observed: 3 + 6–7 shard starts before the
    // failure stops the run), so at most 3 × 17 attempts; with the transient budget, ~136.
    const attempts = networkAttempts(log);
    expect(new Set(attempts)).toEqual(new Set([`connect 127.0.0.1:${port}`]));
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    expect(attempts.length).toBeLessThanOrEqual(3 * (1 + 16));
    expect(await manifests(to)).toEqual([]);
  });
});

describe('interrupted backups leave an incomplete snapshot, never a complete-looking one', () => {
  const slowBackup = (to: string) =>
    start([
      'backup',
      '--user-pool-id',
      seed.userPoolId,
      '--endpoint-url',
      moto.endpoint,
      '--to',
      to,
      '--json',
      '--max-rps',
      'UserList=2',
    ]);

  it('Ctrl-C (SIGINT) mid-backup → exit 130; list says INCOMPLETE; verify exits 3', async () => {
    const to = dir('sigint');
    const run = slowBackup(to);
    // Settings are on disk once the groups phase starts; users are still being listed then
    // (UserList paced at 2 calls/s takes several seconds for this pool).
    await run.waitFor(/"phase":"groups"/);
    await run.waitFor(/"type":"users"/);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    const snaps = await snapshotDirs(to);
    expect(snaps).toHaveLength(1);
    const id = path.basename(snaps[0] ?? '');
    expect(errorLines(r.stderr)).toEqual([
      `cognito-vault: error: interrupted; the partial snapshot has no manifest and is marked incomplete (its finished parts are recorded: backup --resume continues it); snapshot ${id}`,
    ]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(JSON.parse(r.stdout)).toMatchObject({
      error: { code: 'INTERRUPTED', exitCode: 130, context: { snapshotId: id } },
    });

    expect(await manifests(to)).toEqual([]);
    expect(existsSync(path.join(snaps[0] ?? '', 'pool.json'))).toBe(true);

    const list = await cli(['list', to, '--json']);
    expect(list.code).toBe(0);
    const listed = (JSON.parse(list.stdout) as { snapshots: Record<string, unknown>[] }).snapshots;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ complete: false, problem: 'no manifest (incomplete)' });
    // With completion records (progress/plan.json) `backup --resume` finishes it.
    const resumable = existsSync(path.join(snaps[0] ?? '', 'progress', 'plan.json'));
    expect(listed[0]).toMatchObject({ state: resumable ? 'resumable' : 'incomplete' });
    expect((await cli(['list', to])).stdout).toMatch(
      resumable ? /^RESUMABLE\s.*backup --resume/ : /^INCOMPLETE\s/,
    );

    const v = await cli(['verify', snaps[0] ?? '', '--json']);
    expect(v.code).toBe(3);
    const out = JSON.parse(v.stdout) as { ok: boolean; problems: string[] };
    expect(out.ok).toBe(false);
    expect(out.problems[0]).toMatch(/incomplete snapshot: it has no manifest\.json/);

    // backup --resume finishes it (`latest`: the pool's newest resumable snapshot).
    const common = ['--user-pool-id', seed.userPoolId, '--endpoint-url', moto.endpoint, '--to', to];
    const resumed = await cli(['backup', ...common, '--resume', 'latest', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({
      snapshotId: id,
      users: POOL_USERS,
      resumed: { count: 1 },
    });
    expect(await snapshotDirs(to)).toEqual(snaps);
    expect((await cli(['verify', snaps[0] ?? ''])).code).toBe(0);
    // Now complete: refused, one line, exit 2; so is --resume without one pool.
    const again = await cli(['backup', ...common, '--resume', id, '--quiet']);
    expect(again.code).toBe(2);
    expectOneErrorLine(again, /is complete \(it has a manifest\); there is nothing to resume/);
    const all = await cli([
      'backup',
      '--all-pools',
      '--region',
      'us-east-1',
      '--resume',
      id,
      '--quiet',
    ]);
    expect(all.code).toBe(2);
  });

  it('a killed backup (SIGKILL) leaves no manifest and lists as INCOMPLETE', async () => {
    const to = dir('sigkill');
    const run = slowBackup(to);
    await run.waitFor(/"phase":"groups"/);
    await run.waitFor(/"type":"users"/);
    run.child.kill('SIGKILL');
    const r = await run.done;
    expect(r.signal).toBe('SIGKILL');
    expect(await manifests(to)).toEqual([]);
    const list = await cli(['list', to, '--json']);
    const listed = (JSON.parse(list.stdout) as { snapshots: Record<string, unknown>[] }).snapshots;
    expect(listed.map((s) => s.complete)).toEqual([false]);
    const v = await cli(['verify', (await snapshotDirs(to))[0] ?? '']);
    expect(v.code).toBe(3);
    // `--resume ID` alone: the pool is the one whose directory holds it; the dead process's
    // lease does not hold it up.
    const snap = (await snapshotDirs(to))[0] ?? '';
    const id = path.basename(snap);
    const unknown = await cli([
      'backup',
      '--to',
      to,
      '--resume',
      '2020-01-01T00-00-00-000Z',
      '--quiet',
    ]);
    expect(unknown.code).toBe(2);
    expectOneErrorLine(unknown, /no snapshot 2020-01-01T00-00-00-000Z under /);
    const resumed = await cli([
      'backup',
      '--endpoint-url',
      moto.endpoint,
      '--to',
      to,
      '--resume',
      id,
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/resumed \(1 time\(s\)\)/);
    expect((await cli(['verify', snap])).code).toBe(0);
  });
});
