import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ListUserPoolsCommand, paginateListUsers } from '@aws-sdk/client-cognito-identity-provider';
import { items } from '../../src/cognito/gateway.js';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedPool, type SeedResult } from '../../testing/seed.js';
import { REGION, startMotoFixture, type MotoFixture } from '../support/fixture.js';
import { MOTO_ENV } from '../support/moto.js';

/**
 * `backup --encrypt-to` and `--identity` as a user runs them (built CLI, moto): the round trip
 * backup → verify without the key → verify with it → export-csv, diff and restore with it; a
 * missing or wrong key; tampered ciphertext; two recipients.
 */
const CLI = path.resolve('dist/cli/main.js');
const USERS = 60;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let fx: MotoFixture;
let seed: SeedResult;
let snapshot: string;
let usernames: string[];
const keys: Record<'alice' | 'bob' | 'mallory', { file: string; recipient: string }> = {
  alice: { file: '', recipient: '' },
  bob: { file: '', recipient: '' },
  mallory: { file: '', recipient: '' },
};

async function cli(args: string[]): Promise<Run> {
  return promisify(execFile)(process.execPath, [CLI, ...args], {
    cwd: fx.work,
    env: {
      PATH: process.env.PATH,
      HOME: fx.work,
      ...MOTO_ENV,
      AWS_CONFIG_FILE: path.join(fx.work, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(fx.work, 'none'),
    },
    maxBuffer: 16 * 1024 * 1024,
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: Run) => e,
  );
}

/** One `cognito-vault: error:` line on stderr, and nothing else. */
function oneErrorLine(r: Run, re: RegExp): void {
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^cognito-vault: error: /);
  expect(lines[0]).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack
}

function noPii(r: Run): void {
  for (const u of usernames) {
    expect(r.stdout).not.toContain(u);
    expect(r.stderr).not.toContain(u);
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  fx = await startMotoFixture('cv-age-it-');
  for (const name of Object.keys(keys) as (keyof typeof keys)[]) {
    const identity = await generateX25519Identity();
    const recipient = await identityToRecipient(identity);
    const file = path.join(fx.work, `${name}.key`);
    // As age-keygen writes it: comments, then the key.
    await writeFile(
      file,
      `# created: 2026-11-30T00:00:00Z\n# public key: ${recipient}\n${identity}\n`,
      { mode: 0o600 },
    );
    keys[name] = { file, recipient };
  }
  seed = await seedPool(fx.gw, { users: USERS, groups: 3 });
  usernames = [];
  const listed = fx.gw.pages(paginateListUsers, { UserPoolId: seed.userPoolId });
  for await (const u of items(listed, 'Users')) if (u.Username) usernames.push(u.Username);
  const b = await cli([
    'backup',
    '--user-pool-id',
    seed.userPoolId,
    '--endpoint-url',
    fx.moto.endpoint,
    '--to',
    path.join(fx.work, 'backups'),
    '--encrypt-to',
    keys.alice.recipient,
    '--encrypt-to',
    keys.bob.recipient,
    '--json',
    '--quiet',
  ]);
  expect(b.code, b.stderr).toBe(0);
  const out = JSON.parse(b.stdout) as { snapshot: string; encryptedTo: string[] };
  snapshot = out.snapshot;
  expect(out.encryptedTo).toEqual([keys.alice.recipient, keys.bob.recipient]);
}, 240_000);

afterAll(async () => {
  await fx?.stop();
});

describe('encrypted snapshots (built CLI, moto)', () => {
  it('every data file is age ciphertext without a username; the manifest stays clear (v2)', async () => {
    const files = await filesUnder(snapshot);
    expect(files).toContain('manifest.json');
    for (const f of files.filter((x) => x !== 'manifest.json')) {
      expect(f).toMatch(/\.age$/);
      const bytes = await readFile(path.join(snapshot, f));
      expect(bytes.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
      const text = bytes.toString('latin1');
      for (const u of usernames) expect(text).not.toContain(u);
    }
    const manifest = JSON.parse(await readFile(path.join(snapshot, 'manifest.json'), 'utf8')) as {
      formatVersion: number;
      encryption: { scheme: string; recipients: string[] };
      counts: { users: number };
    };
    expect(manifest.formatVersion).toBe(2);
    expect(manifest.encryption).toEqual({
      scheme: 'age-encryption.org/v1',
      recipients: [keys.alice.recipient, keys.bob.recipient],
    });
    expect(manifest.counts.users).toBe(USERS);
    // list reads the manifest only: no key needed.
    const l = await cli(['list', path.join(fx.work, 'backups'), '--json']);
    expect(l.code, l.stderr).toBe(0);
    expect(JSON.parse(l.stdout)).toMatchObject({
      snapshots: [{ complete: true, users: USERS }],
    });
  });

  it('verify without a key checks the stored bytes; with either identity it decrypts', async () => {
    const blind = await cli(['verify', snapshot]);
    expect(blind.code, blind.stderr).toBe(0);
    expect(blind.stdout).toMatch(/^ok: .*not checked without --identity/);
    for (const k of [keys.alice, keys.bob]) {
      const r = await cli(['verify', snapshot, '--identity', k.file, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout) as { ok: boolean; encrypted: string; records: number };
      expect(j).toMatchObject({ ok: true, encrypted: 'decrypted' });
      expect(j.records).toBeGreaterThanOrEqual(USERS);
    }
  });

  it('a wrong key or a missing one: one stderr line, exit 3, no PII', async () => {
    const wrong = await cli(['verify', snapshot, '--identity', keys.mallory.file]);
    expect(wrong.code).toBe(3);
    oneErrorLine(wrong, new RegExp(`encrypted to .*${keys.alice.recipient}.*none of them`));
    const csvOut = path.join(fx.work, 'csv-nokey');
    for (const args of [
      ['export-csv', snapshot, '--to', csvOut],
      ['export-csv', snapshot, '--to', csvOut, '--identity', keys.mallory.file],
      ['diff', snapshot, '--user-pool-id', seed.userPoolId, '--endpoint-url', fx.moto.endpoint],
      [
        'diff',
        snapshot,
        '--user-pool-id',
        seed.userPoolId,
        '--endpoint-url',
        fx.moto.endpoint,
        '--identity',
        keys.mallory.file,
      ],
    ]) {
      const r = await cli([...args, '--quiet']);
      expect(r.code, args.join(' ')).toBe(3);
      oneErrorLine(r, args.includes('--identity') ? /none of them/ : /needs --identity/);
      noPii(r);
    }
    // restore refuses before any call to Cognito: no pool is created.
    const before = await fx.raw.send(new ListUserPoolsCommand({ MaxResults: 60 }));
    const r = await cli([
      'restore',
      '--from',
      snapshot,
      '--create-pool',
      'never-created',
      '--users',
      'admin-create',
      '--state-dir',
      path.join(fx.work, 'state-nokey'),
      '--endpoint-url',
      fx.moto.endpoint,
      '--quiet',
    ]);
    expect(r.code).toBe(3);
    oneErrorLine(r, /is encrypted .*needs --identity/);
    const after = await fx.raw.send(new ListUserPoolsCommand({ MaxResults: 60 }));
    expect(after.UserPools?.length).toBe(before.UserPools?.length);
  });

  it('export-csv and diff with the key', async () => {
    const out = path.join(fx.work, 'csv');
    const e = await cli([
      'export-csv',
      snapshot,
      '--to',
      out,
      '--identity',
      keys.bob.file,
      '--json',
    ]);
    expect(e.code, e.stderr).toBe(0);
    noPii(e);
    const csv = await readFile(path.join(out, 'users-00001.csv'), 'utf8');
    expect(csv.split('\n').filter(Boolean).length).toBeGreaterThan(1);
    const d = await cli([
      'diff',
      snapshot,
      '--user-pool-id',
      seed.userPoolId,
      '--endpoint-url',
      fx.moto.endpoint,
      '--identity',
      keys.alice.file,
      '--quiet',
    ]);
    expect(d.code, d.stderr + d.stdout).toBe(0);
    expect(d.stdout).toMatch(/^IDENTICAL: /);
  });

  it('restore with the key recreates every user', async () => {
    const r = await cli([
      'restore',
      '--from',
      snapshot,
      '--create-pool',
      'restored-from-encrypted',
      '--users',
      'admin-create',
      '--identity',
      keys.alice.file,
      '--state-dir',
      path.join(fx.work, 'state-restore'),
      '--endpoint-url',
      fx.moto.endpoint,
      '--json',
      '--quiet',
    ]);
    expect([0, 6], r.stderr).toContain(r.code);
    noPii(r);
    const j = JSON.parse(r.stdout) as { userPoolId: string };
    let n = 0;
    for await (const _ of items(
      fx.gw.pages(paginateListUsers, { UserPoolId: j.userPoolId }),
      'Users',
    ))
      n++;
    expect(n).toBe(USERS);
  }, 180_000);

  it('tampered ciphertext: verify without the key finds it (exit 3); readers refuse it', async () => {
    const copy = path.join(
      fx.work,
      'tampered',
      path.basename(path.dirname(snapshot)),
      path.basename(snapshot),
    );
    await mkdir(path.dirname(copy), { recursive: true });
    await cp(snapshot, copy, { recursive: true });
    const part = (await filesUnder(copy)).find((f) => f.startsWith('users/'));
    if (!part) throw new Error('no users part');
    const p = path.join(copy, part);
    const bytes = await readFile(p);
    bytes[bytes.length - 5]! ^= 0x40;
    await chmod(p, 0o600);
    await writeFile(p, bytes);
    const blind = await cli(['verify', copy]);
    expect(blind.code).toBe(3);
    expect(blind.stdout).toContain(`problem: ${part}: sha256 mismatch`);
    const keyed = await cli(['verify', copy, '--identity', keys.alice.file]);
    expect(keyed.code).toBe(3);
    expect(keyed.stdout).toMatch(/does not decrypt/);
    const e = await cli([
      'export-csv',
      copy,
      '--to',
      path.join(fx.work, 'csv-tampered'),
      '--identity',
      keys.alice.file,
    ]);
    expect(e.code).toBe(3);
    noPii(e);
  });
});

describe('encrypted snapshots on S3 (moto)', () => {
  it('backup to s3:// uploads ciphertext; verify without and with the key; export-csv reads it', async () => {
    const s3 = new S3Client({ region: REGION, endpoint: fx.moto.endpoint, forcePathStyle: true });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'vault-enc' }));
      const b = await cli([
        'backup',
        '--user-pool-id',
        seed.userPoolId,
        '--endpoint-url',
        fx.moto.endpoint,
        '--to',
        's3://vault-enc/snapshots',
        '--encrypt-to',
        keys.bob.recipient,
        '--json',
        '--quiet',
      ]);
      expect(b.code, b.stderr).toBe(0);
      const s3snap = (JSON.parse(b.stdout) as { snapshot: string }).snapshot;
      expect(s3snap).toMatch(/^s3:\/\/vault-enc\/snapshots\//);
      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: 'vault-enc', Prefix: 'snapshots/' }),
      );
      const keysListed = (listed.Contents ?? []).map((o) => o.Key ?? '');
      expect(keysListed.some((k) => k.endsWith('/manifest.json'))).toBe(true);
      for (const k of keysListed.filter((x) => !x.endsWith('/manifest.json'))) {
        expect(k).toMatch(/\.age$/);
        const o = await s3.send(new GetObjectCommand({ Bucket: 'vault-enc', Key: k }));
        const body = Buffer.from(await (o.Body?.transformToByteArray() ?? Promise.resolve([])));
        expect(body.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
        for (const u of usernames) expect(body.toString('latin1')).not.toContain(u);
      }
      const common = ['--endpoint-url', fx.moto.endpoint];
      const blind = await cli(['verify', s3snap, '--json', ...common]);
      expect(blind.code, blind.stderr).toBe(0);
      expect(JSON.parse(blind.stdout)).toMatchObject({ ok: true, encrypted: 'stored-only' });
      const keyed = await cli(['verify', s3snap, '--json', '--identity', keys.bob.file, ...common]);
      expect(keyed.code, keyed.stderr).toBe(0);
      expect(JSON.parse(keyed.stdout)).toMatchObject({ ok: true, encrypted: 'decrypted' });
      const wrong = await cli(['verify', s3snap, '--identity', keys.alice.file, ...common]);
      expect(wrong.code).toBe(3);
      oneErrorLine(wrong, /none of them/);
      const out = path.join(fx.work, 'csv-s3');
      const e = await cli([
        'export-csv',
        s3snap,
        '--to',
        out,
        '--identity',
        keys.bob.file,
        '--quiet',
        ...common,
      ]);
      expect(e.code, e.stderr).toBe(0);
      expect(await readFile(path.join(out, 'users-00001.csv'), 'utf8')).toMatch(/\n.+/);
    } finally {
      s3.destroy();
    }
  }, 120_000);
});

describe('bad encryption inputs (built CLI): exit 2, one line, nothing written', () => {
  it('a malformed --encrypt-to is refused before any call or write; a secret key is not echoed', async () => {
    const to = path.join(fx.work, 'bad-recipient');
    const secret = (await readFile(keys.alice.file, 'utf8')).split('\n')[2] ?? '';
    for (const bad of [
      `${keys.alice.recipient.slice(0, -1)}${keys.alice.recipient.endsWith('q') ? 'p' : 'q'}`,
      'age1short',
      secret,
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5',
    ]) {
      const r = await cli([
        'backup',
        '--user-pool-id',
        seed.userPoolId,
        '--endpoint-url',
        'http://127.0.0.1:9',
        '--to',
        to,
        '--encrypt-to',
        bad,
      ]);
      expect(r.code, bad).toBe(2);
      oneErrorLine(r, /--encrypt-to/);
      expect(r.stderr).not.toContain(secret.slice(15));
      expect(existsSync(to)).toBe(false);
    }
  });

  it('--identity unreadable or malformed: exit 2, one line, the key never echoed', async () => {
    const bad = path.join(fx.work, 'bad.key');
    const secret = (await readFile(keys.alice.file, 'utf8')).split('\n')[2] ?? '';
    await writeFile(bad, `# comment\n${secret.slice(0, -3)}\n`, { mode: 0o600 });
    const pub = path.join(fx.work, 'pub.key');
    await writeFile(pub, `${keys.alice.recipient}\n`, { mode: 0o600 });
    for (const [file, re] of [
      [path.join(fx.work, 'no-such.key'), /cannot be read \(ENOENT\)/],
      [bad, /line 2: not an age X25519 identity/],
      [pub, /line 1: that is a public recipient/],
      [fx.work, /is not a file/],
    ] as const) {
      for (const cmd of [
        ['verify', snapshot],
        ['export-csv', snapshot, '--to', path.join(fx.work, 'csv-bad')],
      ]) {
        const r = await cli([...cmd, '--identity', file]);
        expect(r.code, `${cmd[0]} ${file}`).toBe(2);
        oneErrorLine(r, re);
        expect(r.stderr).not.toContain(secret.slice(15, 40));
      }
    }
  });

  it('a group-readable identity file works, with one warning', async () => {
    const loose = path.join(fx.work, 'loose.key');
    await cp(keys.bob.file, loose);
    await chmod(loose, 0o644);
    const r = await cli(['verify', snapshot, '--identity', loose]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^warning: --identity .* is readable by group or others .*chmod 600/),
    ]);
  });
});
