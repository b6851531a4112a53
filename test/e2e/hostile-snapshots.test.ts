import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  CognitoIdentityProviderClient,
  ListUserPoolsCommand,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { seedPool, type SeedResult } from '../../testing/seed.js';
import { CLI, cliEnv } from '../support/cli.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { MOTO_ENV, startMoto, type MotoServer } from '../support/moto.js';

/**
 * Hostile snapshots (issue 20). A real snapshot made by the CLI is copied and crafted as an
 * attacker with write access to the backup location would, and every command that reads it
 * runs against it as a process: verify, restore with and without --dry-run, diff, export-csv,
 * list, prune with and without --dry-run. Each must end with its exit code and a one-line
 * message, write or remove nothing outside the snapshot and the state locations (a canary tree
 * the planted links point into stays byte-for-byte as it was), stay under a memory bound
 * (/usr/bin/time's peak RSS), and send nothing to Cognito (every call goes through a counting
 * proxy in front of moto; the pools are compared before and after).
 */

const USERS = 40;
/** Peak RSS of any command, KiB: the CLI needs ~150 MB; a read of a 2 GiB file would need GBs. */
const RSS_LIMIT_KB = 400 * 1024;
const RUN_MS = 120_000;

let moto: MotoServer;
let proxy: FaultProxy;
let raw: CognitoIdentityProviderClient;
let seed: SeedResult;
let work: string;
let home: string;
/** Two genuine snapshots of the seeded pool (older, newer), as backup wrote them. */
let genuine: string[];
let manifest: Manifest;

interface FileEntry {
  path: string;
  kind: string;
  encoding: string;
  bytes: number;
  sha256: string;
  records: number;
  inflatedBytes?: number;
}
interface Manifest {
  formatVersion: number;
  startedAt: string;
  finishedAt: string;
  snapshotId: string;
  counts: Record<string, number>;
  files: FileEntry[];
  userPool: { id: string };
}

const w = (...p: string[]): string => path.join(work, ...p);

/** ESC, CSI (U+009B), BEL or another C0/C1 control except newline and tab. */
function hasControl(text: string): boolean {
  return [...text].some((ch) => {
    const c = ch.codePointAt(0) ?? 0;
    return (c < 0x20 && ch !== '\n' && ch !== '\t') || (c >= 0x7f && c <= 0x9f);
  });
}
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  rssKb: number;
  ms: number;
}

/** The CLI under /usr/bin/time (peak RSS), through the counting proxy. */
function run(args: string[], cwd: string): Promise<Result> {
  const child = spawn('/usr/bin/time', ['-f', 'CV_MAXRSS_KB=%M', process.execPath, CLI, ...args], {
    env: cliEnv(home, proxy.endpoint),
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const t0 = performance.now();
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), RUN_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(killer);
      const m = /CV_MAXRSS_KB=(\d+)\s*$/.exec(stderr);
      const rssKb = m ? Number(m[1]) : Number.NaN;
      stderr = stderr.replace(
        /(Command exited with non-zero status \d+\n)?CV_MAXRSS_KB=\d+\s*$/,
        '',
      );
      resolve({ code, stdout, stderr, rssKb, ms: performance.now() - t0 });
    });
  });
}

/** Every path under `dir` (links not followed) with its type, size and content hash. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(d, e.name);
      const rel = path.relative(dir, full);
      if (e.isSymbolicLink()) out.push(`L ${rel}`);
      else if (e.isDirectory()) {
        out.push(`D ${rel}`);
        await walk(full);
      } else {
        const s = await lstat(full);
        out.push(`F ${rel} ${s.size} ${s.size < 8 << 20 ? sha256(await readFile(full)) : ''}`);
      }
    }
  };
  await walk(dir);
  return out.sort();
}

async function poolState(): Promise<string> {
  const pools = await raw.send(new ListUserPoolsCommand({ MaxResults: 60 }));
  const users = await raw.send(new ListUsersCommand({ UserPoolId: seed.userPoolId }));
  return JSON.stringify({
    ids: (pools.UserPools ?? []).map((p) => p.Id).sort(),
    users: (users.Users ?? []).length,
  });
}

/** A copy of the newer genuine snapshot at <root>/<pool>/<id>; returns its path. */
async function copyGenuine(
  root: string,
  id = manifest.snapshotId,
  from = genuine[1],
): Promise<string> {
  const dest = path.join(root, manifest.userPool.id, id);
  await mkdir(path.dirname(dest), { recursive: true });
  await cp(from as string, dest, { recursive: true });
  return dest;
}

async function readManifest(snap: string): Promise<Manifest> {
  return JSON.parse(await readFile(path.join(snap, 'manifest.json'), 'utf8')) as Manifest;
}
async function writeManifest(snap: string, m: Manifest): Promise<void> {
  await writeFile(path.join(snap, 'manifest.json'), `${JSON.stringify(m, null, 2)}\n`);
}

/** Rewrites one file and makes the manifest vouch for its new bytes (size and sha256). */
async function replaceVouched(
  snap: string,
  rel: string,
  body: Buffer,
  patch: Partial<FileEntry> = {},
): Promise<void> {
  await writeFile(path.join(snap, rel), body);
  const m = await readManifest(snap);
  m.files = m.files.map((f) =>
    f.path === rel ? { ...f, bytes: body.length, sha256: sha256(body), ...patch } : f,
  );
  await writeManifest(snap, m);
}

function usersPart(m: Manifest): FileEntry {
  const f = m.files.find((x) => x.kind === 'users' && x.records > 0);
  if (!f) throw new Error('no users part in the snapshot');
  return f;
}

type Command =
  | 'verify'
  | 'restore --dry-run'
  | 'restore'
  | 'diff'
  | 'export-csv'
  | 'list'
  | 'prune --dry-run'
  | 'prune';
const COMMANDS: Command[] = [
  'verify',
  'restore --dry-run',
  'restore',
  'diff',
  'export-csv',
  'list',
  'prune --dry-run',
  'prune',
];

function argsOf(c: Command, snap: string, root: string, state: string): string[] {
  switch (c) {
    case 'verify':
      return ['verify', snap];
    case 'restore --dry-run':
      return [
        'restore',
        '--from',
        snap,
        '--create-pool',
        'hostile',
        '--state-dir',
        path.join(state, 'rd'),
        '--dry-run',
        '--quiet',
      ];
    case 'restore':
      return [
        'restore',
        '--from',
        snap,
        '--create-pool',
        'hostile',
        '--state-dir',
        path.join(state, 'r'),
        '--quiet',
      ];
    case 'diff':
      return ['diff', snap, '--user-pool-id', seed.userPoolId, '--quiet'];
    case 'export-csv':
      return ['export-csv', snap, '--to', path.join(state, 'csv'), '--quiet'];
    case 'list':
      return ['list', root];
    case 'prune --dry-run':
      return ['prune', root, '--keep-last', '1', '--dry-run'];
    case 'prune':
      return ['prune', root, '--keep-last', '1'];
  }
}

interface Hostile {
  /** The crafted snapshot. */
  snap: string;
  /** Its backup root (list, prune). */
  root: string;
  /** Expected exit code per command. */
  exit: Record<Command, number>;
  /** What the one error line (or list/prune output) must say. */
  says?: Partial<Record<Command, RegExp>>;
  /** Snapshots that must still exist after prune. */
  survives?: string[];
}

const READERS_REFUSE: Record<Command, number> = {
  verify: 3,
  'restore --dry-run': 3,
  restore: 3,
  diff: 3,
  'export-csv': 3,
  list: 0,
  'prune --dry-run': 0,
  prune: 0,
};

/**
 * Runs every command against a hostile snapshot and checks the guarantees: exit code, one
 * error line, nothing outside changed, memory bounded, nothing sent to Cognito.
 */
async function attack(name: string, h: Hostile): Promise<Record<Command, Result>> {
  const state = w('state', name);
  const cwd = w('cwd', name);
  await mkdir(state, { recursive: true });
  await mkdir(cwd, { recursive: true });
  const outsideBefore = await tree(w('outside'));
  const poolsBefore = await poolState();
  const results = {} as Record<Command, Result>;
  for (const c of COMMANDS) {
    proxy.calls.clear();
    const r = await run(argsOf(c, h.snap, h.root, state), cwd);
    results[c] = r;
    const where = `${name}: ${c}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
    expect(r.code, where).toBe(h.exit[c]);
    // No escape sequence or bell, whatever the snapshot holds.
    expect(hasControl(r.stdout + r.stderr), where).toBe(false);
    if (r.code !== 0) {
      const lines = r.stderr.split('\n').filter((l) => l.trim());
      if (c === 'verify' && lines.length === 0) {
        // verify lists its problems on stdout, one line each.
        expect(r.stdout.trim().split('\n')[0], where).toMatch(/^problem: /);
      } else {
        expect(lines, where).toHaveLength(1);
        expect(lines[0], where).toMatch(/^cognito-vault: error: /);
      }
    }
    const says = h.says?.[c];
    if (says) expect(r.stdout + r.stderr, where).toMatch(says);
    expect(r.rssKb, where).toBeLessThan(RSS_LIMIT_KB);
    // Nothing reaches Cognito: no call at all (diff compares only a valid snapshot).
    expect([...proxy.calls], where).toEqual([]);
    expect(await tree(w('outside')), where).toEqual(outsideBefore);
    expect(await readdir(cwd), where).toEqual([]);
  }
  expect(await poolState()).toBe(poolsBefore);
  const peak = Math.max(...Object.values(results).map((r) => r.rssKb));
  const slowest = Math.max(...Object.values(results).map((r) => r.ms));
  console.log(
    `${name}: peak RSS ${Math.round(peak / 1024)} MiB, slowest command ${Math.round(slowest)} ms`,
  );
  for (const s of h.survives ?? [h.snap])
    expect(existsSync(path.join(s, 'manifest.json')), s).toBe(true);
  return results;
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  work = await mkdtemp(path.join(tmpdir(), 'cv-hostile-'));
  home = w('home');
  await mkdir(home);
  moto = await startMoto();
  proxy = await startFaultProxy({ target: moto.endpoint, dropResponses: {} });
  const creds = {
    accessKeyId: MOTO_ENV.AWS_ACCESS_KEY_ID,
    secretAccessKey: MOTO_ENV.AWS_SECRET_ACCESS_KEY,
  };
  raw = new CognitoIdentityProviderClient({
    region: 'us-east-1',
    endpoint: moto.endpoint,
    credentials: creds,
  });
  const gw = CognitoGateway.create(
    { region: 'us-east-1', endpointUrl: moto.endpoint, credentials: creds },
    { rate: { unlimited: true } },
  );
  try {
    seed = await seedPool(gw, { users: USERS, groups: 3 });
  } finally {
    gw.destroy();
  }
  genuine = [];
  for (let i = 0; i < 2; i++) {
    const r = await run(
      ['backup', '--user-pool-id', seed.userPoolId, '--to', w('backups'), '--json', '--quiet'],
      work,
    );
    if (r.code !== 0) throw new Error(`backup for the fixtures failed: ${r.stderr}`);
    genuine.push((JSON.parse(r.stdout) as { snapshot: string }).snapshot);
  }
  manifest = await readManifest(genuine[1] as string);
  // The canary tree planted links point into: empty directories (a sweep would remove them)
  // and a private file (a read through a link would print its size, or restore its content).
  await mkdir(w('outside', 'empty', 'deeper'), { recursive: true });
  await writeFile(w('outside', 'private.txt'), 'secret of someone else\n', { mode: 0o600 });
}, 300_000);

afterAll(async () => {
  raw?.destroy();
  await proxy?.close();
  await moto?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('hostile snapshots: every command that reads one', () => {
  it('1. a symlinked locks/ is refused: no lease written or swept through it', async () => {
    const root = w('h1');
    const snap = await copyGenuine(root);
    await symlink(w('outside'), path.join(snap, 'locks'));
    await attack('h1', {
      snap,
      root,
      exit: READERS_REFUSE,
      says: { verify: /locks\/ is a symbolic link/ },
    });
    expect((await lstat(path.join(snap, 'locks'))).isSymbolicLink()).toBe(true);
  }, 900_000);

  it('2. a forged manifest (no files, 2099) counts for nothing: prune deletes no genuine snapshot', async () => {
    const root = w('h2');
    const older = await copyGenuine(root, path.basename(genuine[0] as string), genuine[0]);
    const newer = await copyGenuine(root, path.basename(genuine[1] as string), genuine[1]);
    const snap = path.join(root, manifest.userPool.id, '2099-01-01T00-00-00-000Z');
    await mkdir(snap, { recursive: true });
    await writeManifest(snap, {
      ...manifest,
      snapshotId: '2099-01-01T00-00-00-000Z',
      startedAt: '2099-01-01T00:00:00.000Z',
      finishedAt: '2099-01-01T00:01:00.000Z',
      files: [],
    });
    const r = await attack('h2', {
      snap,
      root,
      exit: READERS_REFUSE,
      says: { list: /DAMAGED .*2099/, 'prune --dry-run': /kept .*2099.*damaged/ },
      // keep-last 1: the newest genuine snapshot stays (the older one is the policy's to delete).
      survives: [snap, newer],
    });
    expect(r.verify.stdout + r.verify.stderr).toMatch(/pool: document missing|users: files hold 0/);
    expect(existsSync(path.join(older, 'manifest.json'))).toBe(false);
  }, 900_000);

  it('3. bytes after the gzip data: exit 3 naming the file, never a hang', async () => {
    const root = w('h3');
    const snap = await copyGenuine(root);
    const part = usersPart(manifest);
    const body = Buffer.concat([await readFile(path.join(snap, part.path)), Buffer.alloc(1 << 20)]);
    await replaceVouched(snap, part.path, body);
    await attack('h3', {
      snap,
      root,
      exit: READERS_REFUSE,
      says: { verify: new RegExp(`${part.path}.*(bytes follow the end of the gzip data)`) },
    });
  }, 900_000);

  it('4. a 2 GiB (sparse) manifest and lease are refused by their size, unread', async () => {
    const root = w('h4');
    const snap = await copyGenuine(root);
    await truncate(path.join(snap, 'manifest.json'), 2 ** 31);
    await mkdir(path.join(snap, 'locks'));
    await writeFile(path.join(snap, 'locks', 'verify-0123456789abcdef.json'), '');
    await truncate(path.join(snap, 'locks', 'verify-0123456789abcdef.json'), 2 ** 31);
    await attack('h4', { snap, root, exit: READERS_REFUSE, says: { verify: /longer than/ } });
  }, 900_000);

  it('5. a decompression bomb fails fast; a blank line is refused', async () => {
    const root = w('h5');
    const snap = await copyGenuine(root);
    const part = usersPart(manifest);
    const lines = gunzipSync(await readFile(path.join(snap, part.path)));
    const first = lines.subarray(0, lines.indexOf(0x0a) + 1);
    // The part's own records, then 256 MiB of one record repeated: far beyond its recorded size.
    const bomb = Buffer.concat([lines, Buffer.alloc(256 << 20, first.toString('utf8'))]);
    await replaceVouched(snap, part.path, gzipSync(bomb, { level: 9 }));
    await attack('h5', {
      snap,
      root,
      exit: READERS_REFUSE,
      says: { verify: /inflates beyond|more than/ },
    });

    const root2 = w('h5b');
    const snap2 = await copyGenuine(root2);
    await replaceVouched(
      snap2,
      part.path,
      gzipSync(Buffer.concat([first, Buffer.from('\n'), lines.subarray(first.length)])),
      {
        inflatedBytes: lines.length + 1,
      },
    );
    await attack('h5b', {
      snap: snap2,
      root: root2,
      exit: READERS_REFUSE,
      says: { verify: /line 2 is empty|empty/ },
    });
  }, 900_000);

  it('6. escape sequences in paths, names and lease hosts never reach the terminal', async () => {
    const root = w('h6');
    const snap = await copyGenuine(root);
    const m = await readManifest(snap);
    m.files.push({
      ...usersPart(m),
      path: 'users/\u001b]0;pwned\u0007\u001b[2J.jsonl.gz',
      records: 0,
    });
    await writeManifest(snap, m);
    await mkdir(path.join(snap, 'locks'));
    const now = Date.now();
    await writeFile(
      path.join(snap, 'locks', 'verify-00000000000000aa.json'),
      JSON.stringify({
        kind: 'verify',
        host: '\u001b[31mevil\u009b2J',
        pid: 1,
        createdAt: new Date(now).toISOString(),
        refreshedAt: new Date(now).toISOString(),
        expiresAt: new Date(now + 3_600_000).toISOString(),
      }),
    );
    await attack('h6', {
      snap,
      root,
      exit: READERS_REFUSE,
      says: { list: /\\x1b\[31mevil/, verify: /\\x1b\]0;pwned\\x07/ },
    });
  }, 900_000);

  it('7. a users part declared "json" is refused (one encoding per kind; counts always checked)', async () => {
    const root = w('h7');
    const snap = await copyGenuine(root);
    const m = await readManifest(snap);
    m.files = m.files.map((f) => (f.kind === 'users' ? { ...f, encoding: 'json', records: 1 } : f));
    m.counts.users = m.files.filter((f) => f.kind === 'users').length;
    await writeManifest(snap, m);
    await attack('h7', {
      snap,
      root,
      exit: READERS_REFUSE,
      says: { verify: /users file is jsonl\+gzip/ },
    });
  }, 900_000);

  it('8. a part that is a symlink is never read through', async () => {
    const root = w('h8');
    const snap = await copyGenuine(root);
    const part = usersPart(manifest);
    const target = w('outside', 'private.txt');
    const body = await readFile(target);
    await rm(path.join(snap, part.path));
    await symlink(target, path.join(snap, part.path));
    const m = await readManifest(snap);
    m.files = m.files.map((f) =>
      f.path === part.path ? { ...f, bytes: body.length, sha256: sha256(body) } : f,
    );
    await writeManifest(snap, m);
    const r = await attack('h8', {
      snap,
      root,
      exit: READERS_REFUSE,
      says: { verify: /symbolic link/, list: /DAMAGED/ },
    });
    expect(r.verify.stdout + r.verify.stderr).not.toContain(`${body.length} bytes`);
  }, 900_000);

  it('9a. 100,000-deep nesting in pool.json is exit 3, not a stack overflow', async () => {
    const root = w('h9a');
    const snap = await copyGenuine(root);
    const pool = JSON.parse(await readFile(path.join(snap, 'pool.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const text = JSON.stringify(pool).replace(/^\{/, `{"deep":${deep},`);
    await replaceVouched(snap, 'pool.json', Buffer.from(text));
    await attack('h9a', {
      snap,
      root,
      exit: READERS_REFUSE,
      says: { verify: /nested deeper than/ },
    });
  }, 900_000);

  it('9b. a username in two parts is refused by verify and restore', async () => {
    const root = w('h9b');
    const snap = await copyGenuine(root);
    const part = usersPart(manifest);
    const lines = gunzipSync(await readFile(path.join(snap, part.path)));
    const first = lines.subarray(0, lines.indexOf(0x0a) + 1);
    const dup = gzipSync(first);
    const rel = 'users/part-09999.jsonl.gz';
    await writeFile(path.join(snap, rel), dup);
    const m = await readManifest(snap);
    m.files.push({
      ...part,
      path: rel,
      bytes: dup.length,
      sha256: sha256(dup),
      records: 1,
      inflatedBytes: first.length,
    });
    m.counts.users = (m.counts.users ?? 0) + 1;
    await writeManifest(snap, m);
    await attack('h9b', {
      snap,
      root,
      exit: { ...READERS_REFUSE },
      says: { verify: /occur more than once/ },
    });
  }, 900_000);
});

describe('no surprise bill', () => {
  it('above 10,000 users for AdminCreateUser, restore stops in preflight (exit 4) unless chosen; --dry-run estimates', async () => {
    const root = w('mau');
    const snap = await copyGenuine(root);
    const part = usersPart(manifest);
    const lines = gunzipSync(await readFile(path.join(snap, part.path)));
    const user = JSON.parse(lines.subarray(0, lines.indexOf(0x0a)).toString('utf8')) as {
      Username: string;
      Attributes: { Name: string; Value?: string }[];
    };
    const n = 10_001;
    const body: string[] = [];
    for (let i = 0; i < n; i++) {
      body.push(
        JSON.stringify({
          ...user,
          Username: `bulk-${i}`,
          Attributes: user.Attributes.filter((a) => a.Name !== 'sub' && a.Name !== 'email'),
        }),
      );
    }
    const text = Buffer.from(`${body.join('\n')}\n`);
    const m = await readManifest(snap);
    m.files = m.files.filter((f) => f.kind !== 'users' || f.path === part.path);
    for (const f of (await readManifest(genuine[1] as string)).files)
      if (f.kind === 'users' && f.path !== part.path) await rm(path.join(snap, f.path));
    await writeManifest(snap, m);
    await replaceVouched(snap, part.path, gzipSync(text), {
      records: n,
      inflatedBytes: text.length,
    });
    const m2 = await readManifest(snap);
    m2.counts.users = n;
    await writeManifest(snap, m2);
    const state = w('state', 'mau');
    await mkdir(w('cwd-mau'), { recursive: true });
    const before = await poolState();
    proxy.calls.clear();
    const stop = await run(
      [
        'restore',
        '--from',
        snap,
        '--create-pool',
        'billed',
        '--state-dir',
        path.join(state, 'a'),
        '--quiet',
      ],
      w('cwd-mau'),
    );
    expect(stop.code, stop.stderr).toBe(4);
    expect(stop.stderr.trim().split('\n')).toHaveLength(1);
    expect(stop.stderr).toMatch(
      /10001 user\(s\) would be written with AdminCreateUser.*--import-logs-role-arn.*--accept-mau-cost/,
    );
    expect(await poolState()).toBe(before);
    expect(
      [...proxy.calls].filter((op) => /^(Create|Admin|Update|Set|Delete|Add)/.test(op)),
    ).toEqual([]);

    const dry = await run(
      [
        'restore',
        '--from',
        snap,
        '--create-pool',
        'billed',
        '--state-dir',
        path.join(state, 'b'),
        '--dry-run',
      ],
      w('cwd-mau'),
    );
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(
      /10001 user\(s\) would be written with admin operations.*estimate at list prices.*\(Lite\).*\(Essentials\).*\(Plus\)/,
    );
    expect(dry.stdout).toMatch(/the restore would stop here/);

    const chosen = await run(
      [
        'restore',
        '--from',
        snap,
        '--create-pool',
        'billed',
        '--state-dir',
        path.join(state, 'c'),
        '--dry-run',
        '--users',
        'admin-create',
      ],
      w('cwd-mau'),
    );
    expect(chosen.code, chosen.stderr).toBe(0);
    expect(chosen.stdout).not.toMatch(/would stop here/);
    expect(await poolState()).toBe(before);
  }, 900_000);
});
