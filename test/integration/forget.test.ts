import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  AdminDeleteUserCommand,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { seedPool } from '../../testing/seed.js';
import { AgeKeyring } from '../../src/snapshot/age.js';
import { MembershipRecord, UserRecord } from '../../src/snapshot/format.js';
import { SnapshotReader } from '../../src/snapshot/reader.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { cliEnv, type Run, startCli } from '../support/cli.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';
import { listPool } from '../support/pool-listing.js';

/**
 * `cognito-vault forget`: the user is in no snapshot of the pool afterwards (plain and
 * encrypted ones, read back with the snapshot reader and the reference age key), every snapshot
 * verifies, the ledger holds no clear identifier, and no restore — selective or whole — nor
 * export-csv brings the user back from a snapshot taken after the erasure.
 */
let fixture: MotoFixture | undefined;
let raw: CognitoIdentityProviderClient;
let work: string;
let endpoint: string;
let poolId: string;
let root: string;
let keyFile: string;
let keyring: AgeKeyring;
const ERASED = 'user-000012';

beforeAll(async () => {
  fixture = await startMotoFixture('cv-forget-');
  ({ raw, work } = fixture);
  endpoint = fixture.moto.endpoint;
  poolId = (await seedPool(fixture.gw, { users: 30, groups: 3, statuses: false })).userPoolId;
  root = path.join(work, 'backups');
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  keyFile = path.join(work, 'key.txt');
  writeFileSync(keyFile, `${identity}\n`, { mode: 0o600 });
  keyring = await AgeKeyring.fromFile(keyFile);
  await backupPool(fixture.gw, new LocalDirStorage(root), { userPoolId: poolId });
  await backupPool(fixture.gw, new LocalDirStorage(root), {
    userPoolId: poolId,
    encryptTo: [recipient],
    now: () => new Date(Date.now() + 1000),
  });
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
});

const cli = (args: string[]): Promise<Run> =>
  startCli(args, { env: cliEnv(work, endpoint), cwd: work }).done;

async function holds(snapshotDir: string): Promise<{ user: boolean; memberships: number }> {
  const r = await SnapshotReader.open(new LocalDirStorage(snapshotDir), { keyring });
  let user = false;
  for await (const u of r.records('users', UserRecord)) user ||= u.Username === ERASED;
  let memberships = 0;
  for await (const m of r.records('memberships', MembershipRecord))
    if (m.username === ERASED) memberships++;
  return { user, memberships };
}

const snapshots = () =>
  readdirSync(path.join(root, poolId))
    .filter((n) => /^\d{4}-/.test(n))
    .map((n) => path.join(root, poolId, n));

describe('forget', () => {
  it('rewrites every snapshot without the user (encrypted ones too), which still verify; the ledger has hashes only', async () => {
    const before = snapshots();
    expect(before).toHaveLength(2);
    for (const s of before) expect((await holds(s)).user).toBe(true);
    const noKey = await cli(['forget', '--user', ERASED, '--root', root, '--user-pool-id', poolId]);
    expect(noKey.code, noKey.stderr).toBe(8);
    expect(noKey.stdout).toMatch(/pending: .*encrypted: pass --identity/);
    expect(`${noKey.stdout}${noKey.stderr}`).not.toContain(ERASED);
    const r = await cli([
      'forget',
      '--user',
      ERASED,
      '--root',
      root,
      '--user-pool-id',
      poolId,
      '--identity',
      keyFile,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      snapshots: { rewritten: number; clean: number };
      pending: unknown[];
    };
    expect(out.snapshots).toMatchObject({ rewritten: 1, clean: 1 });
    expect(out.pending).toEqual([]);
    for (const s of snapshots()) {
      expect(await holds(s)).toEqual({ user: false, memberships: 0 });
      const v = await cli(['verify', s, '--identity', keyFile]);
      expect(v.code, v.stdout).toBe(0);
    }
    const ledger = readFileSync(path.join(root, poolId, 'erasure-ledger.jsonl'), 'utf8');
    expect(ledger.trim().split('\n')).toHaveLength(2); // username and sub
    expect(ledger).not.toContain(ERASED);
    expect(ledger).not.toContain('user12@example.com');
    // Again: nothing left to do.
    const again = await cli([
      'forget',
      '--user',
      ERASED,
      '--root',
      root,
      '--user-pool-id',
      poolId,
      '--identity',
      keyFile,
      '--json',
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      ledgerEntries: 0,
      snapshots: { rewritten: 0, clean: 2 },
    });
  }, 120_000);

  it('no restore or export brings the user back, even from a snapshot taken after the erasure', async () => {
    const later = await backupPool(fixture?.gw as MotoFixture['gw'], new LocalDirStorage(root), {
      userPoolId: poolId,
      now: () => new Date(Date.now() + 5000),
    });
    const snap = path.join(root, poolId, later.manifest.snapshotId);
    expect((await holds(snap)).user).toBe(true);
    await raw.send(new AdminDeleteUserCommand({ UserPoolId: poolId, Username: ERASED }));
    const common = ['--endpoint-url', endpoint, '--json'];
    const secrets = path.join(work, 'idp-secrets.json');
    writeFileSync(secrets, JSON.stringify({ Google: { client_secret: 'x' } }));

    const selective = await cli([
      'restore',
      '--from',
      snap,
      '--to-user-pool-id',
      poolId,
      '--user',
      ERASED,
      '--user',
      'user-000013',
      '--state-dir',
      path.join(work, 'st1'),
      ...common,
    ]);
    expect(selective.code, selective.stderr).toBe(0);
    const s = JSON.parse(selective.stdout) as {
      counts: { users: { erased: number } };
      created: number;
    };
    expect(s.counts.users.erased).toBe(1);
    expect(s.created).toBe(0);
    expect((await listPool(raw, poolId)).users.has(ERASED)).toBe(false);

    const whole = await cli([
      'restore',
      '--from',
      snap,
      '--create-pool',
      'after-forget',
      '--state-dir',
      path.join(work, 'st2'),
      '--idp-secrets',
      secrets,
      ...common,
    ]);
    expect(whole.code, whole.stderr).toBe(0);
    const w = JSON.parse(whole.stdout) as {
      userPoolId: string;
      users: { created: number; erased: number };
    };
    expect(w.users.erased).toBe(1);
    const restored = await listPool(raw, w.userPoolId);
    expect(restored.users.has(ERASED)).toBe(false);
    expect(restored.users.size).toBe(29);

    const csv = await cli(['export-csv', snap, '--to', path.join(work, 'csv'), '--json']);
    expect(csv.code, csv.stderr).toBe(0);
    expect(JSON.parse(csv.stdout)).toMatchObject({ erased: 1 });
    for (const f of readdirSync(path.join(work, 'csv')))
      expect(readFileSync(path.join(work, 'csv', f), 'utf8')).not.toContain('user12@example.com');
  }, 120_000);
});
