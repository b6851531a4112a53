import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import {
  AdminCreateUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminUpdateUserAttributesCommand,
  CognitoIdentityProviderClient,
  CreateUserPoolCommand,
  DescribeUserPoolCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { TargetIncompatibleError } from '../../src/core/errors.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { seedPool } from '../../testing/seed.js';
import { comparePools, type SubMapEntry } from '../../src/compare/index.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import { loadIdpSecrets } from '../../src/restore/preflight/idp-secrets.js';
import { planPoolCreation } from '../../src/restore/pool/target.js';
import type { RestoreOptions, RestoreResult } from '../../src/restore/types.js';
import { PoolDocument, SnapshotReader, UserRecord } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';
import {
  plainDifferences,
  plainPool,
  type RawPool,
  rawAttrs,
  readRawPool,
  subMapProblems,
} from '../support/raw-pool.js';

const USERS = 600;
const GROUPS = 70;
const SMALL_USERS = 100;
const EMAIL_USERS = 100;

let fixture: MotoFixture | undefined;
let gw: CognitoGateway;
let raw: CognitoIdentityProviderClient;
let work: string;
let secretsFile: string;

interface Seeded {
  poolId: string;
  reader: SnapshotReader;
}
/** 600 users, 70 groups: the round trip. */
let plain: Seeded;
/** A smaller pool for restoring into existing pools (the same code paths, less moto time). */
let small: Seeded;
let emailPool: Seeded;
const sources = new Map<string, Promise<RawPool>>();
const rawPool = (poolId: string): Promise<RawPool> => readRawPool(raw, poolId);
/** A source pool as the API shows it, read once. */
const source = (s: Seeded): Promise<RawPool> => {
  let p = sources.get(s.poolId);
  if (!p) {
    p = rawPool(s.poolId);
    sources.set(s.poolId, p);
  }
  return p;
};

async function seedAndBackup(name: string, opts: Parameters<typeof seedPool>[1]): Promise<Seeded> {
  const seeded = await seedPool(gw, { ...opts, poolName: name, concurrency: 16 });
  const root = new LocalDirStorage(path.join(work, 'snapshots'));
  const backup = await backupPool(gw, root, {
    userPoolId: seeded.userPoolId,
    includeSecrets: false,
  });
  const reader = await SnapshotReader.open(
    root.child(`${seeded.userPoolId}/${backup.manifest.snapshotId}`),
  );
  return { poolId: seeded.userPoolId, reader };
}

function readSubMap(file: string): SubMapEntry[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as SubMapEntry);
}

/** Every user of A maps, by old sub, to the sub of the same user (username/email) in B. */
function checkSubMap(a: RawPool, b: RawPool, entries: SubMapEntry[], keyBy: 'username' | 'email') {
  expect(subMapProblems(a, b, entries, keyBy)).toEqual([]);
  expect(new Set(entries.map((e) => e.username)).size).toBe(entries.length);
}

/** The restored pool judged without src/compare: plain data read with the raw SDK. */
function expectSamePool(
  a: RawPool,
  b: RawPool,
  opts: Parameters<typeof plainPool>[1],
  ignoreInB: string[] = [],
) {
  const pb = plainPool(b, { ...opts, ignore: [...(opts.ignore ?? []), ...ignoreInB] });
  expect(plainDifferences(plainPool(a, opts), pb)).toEqual([]);
}

async function restore(
  reader: SnapshotReader,
  over: Partial<RestoreOptions> & Pick<RestoreOptions, 'target'>,
) {
  return (await restoreSnapshot(gw, reader, {
    stateDir: await mkdtemp(path.join(work, 'state-')),
    idpSecrets: await loadIdpSecrets(secretsFile),
    ...over,
  })) as RestoreResult;
}

async function emptyPoolLike(seeded: Seeded, name: string): Promise<string> {
  const doc = await seeded.reader.readJson('pool', PoolDocument);
  const { UserPool: pool } = await gw.send(
    new CreateUserPoolCommand(planPoolCreation(doc, name).input),
  );
  return pool?.Id ?? '';
}

beforeAll(async () => {
  fixture = await startMotoFixture('cv-restore-it-');
  ({ gw, raw, work } = fixture);
  secretsFile = path.join(work, 'idp-secrets.json');
  writeFileSync(secretsFile, JSON.stringify({ Google: { client_secret: 'demo-google-secret' } }));
  plain = await seedAndBackup('restore-source', { users: USERS, groups: GROUPS });
  small = await seedAndBackup('restore-source-small', { users: SMALL_USERS, groups: 8 });
  emailPool = await seedAndBackup('restore-source-email', {
    users: EMAIL_USERS,
    groups: 10,
    usernameAttributes: ['email'],
  });
});

afterAll(async () => {
  await fixture?.stop();
});

describe('restore on moto', () => {
  it('restores into a new pool (--create-pool): equal to the source by API, every sub mapped', async () => {
    // Every operation the restore sends, by name: none may message a user.
    const ops = new Map<string, number>();
    const suppressed: (string | undefined)[] = [];
    gw.client.middlewareStack.add(
      (next, context) => (args) => {
        const name = String(context.commandName);
        ops.set(name, (ops.get(name) ?? 0) + 1);
        if (name === 'AdminCreateUserCommand')
          suppressed.push((args.input as { MessageAction?: string }).MessageAction);
        return next(args);
      },
      // After serialization (build step): the input as sent, after the pacing plugin's
      // invariants (AdminCreateUser is SUPPRESS whatever the caller put in).
      { step: 'build', name: 'recordOperations' },
    );
    const t0 = performance.now();
    const r = await restore(plain.reader, { target: { createPool: 'restored-new' } }).finally(() =>
      gw.client.middlewareStack.remove('recordOperations'),
    );
    for (const name of ops.keys()) {
      expect(name).not.toMatch(
        /ResetUserPassword|ResendConfirmationCode|ForgotPassword|SignUp|GetUserAttributeVerificationCode|AdminConfirmSignUp/,
      );
    }
    expect(suppressed.length).toBeGreaterThan(0);
    expect(suppressed.every((m) => m === 'SUPPRESS')).toBe(true);
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `restore of ${USERS} users into a new pool: ${seconds.toFixed(1)} s (${(USERS / seconds).toFixed(0)} users/s, unpaced)`,
    );
    expect(r.users).toEqual({
      created: USERS,
      imported: 0,
      existing: 0,
      failed: 0,
      externalProvider: 0,
    });
    expect(r.failedUsers).toEqual([]);
    expect(r.groups).toBe(GROUPS);
    expect(r.createdPool).toBe(true);
    expect(statSync(r.report).mode & 0o777).toBe(0o600);
    expect(statSync(r.subMap).mode & 0o777).toBe(0o600);

    const a = await source(plain);
    const b = await rawPool(r.userPoolId);
    expect(b.users).toHaveLength(USERS);
    // How each user gets back in: CONFIRMED (random password nobody knows) for everyone the
    // source let sign in, FORCE_CHANGE_PASSWORD for the never-confirmed.
    const statusOf = new Map(a.users.map((u) => [u.Username, u.UserStatus]));
    for (const u of b.users) {
      expect(u.UserStatus).toBe(
        statusOf.get(u.Username) === 'UNCONFIRMED' ? 'FORCE_CHANGE_PASSWORD' : 'CONFIRMED',
      );
    }
    expect(b.users.some((u) => statusOf.get(u.Username) === 'CONFIRMED')).toBe(true);
    expect(b.users.some((u) => statusOf.get(u.Username) === 'UNCONFIRMED')).toBe(true);
    const unconfirmed = a.users.filter((u) => u.UserStatus === 'UNCONFIRMED').length;
    expect(r.signIn.confirmed).toBe(USERS - unconfirmed);
    expect(r.signIn.forceChangePassword).toBe(unconfirmed);
    expect(ops.get('AdminSetUserPasswordCommand')).toBe(USERS - unconfirmed);
    expect(statSync(r.signIn.needsAdminFile).mode & 0o777).toBe(0o600);
    expectSamePool(a, b, { keyBy: 'username' });
    expect(r.memberships).toBe(Object.values(a.members).reduce((n, l) => n + l.length, 0));
    expect(r.disabled).toBe(a.users.filter((u) => u.Enabled === false).length);
    checkSubMap(a, b, readSubMap(r.subMap), 'username');

    const clientMap = JSON.parse(readFileSync(r.clientMap, 'utf8')) as Record<string, string>;
    expect(Object.keys(clientMap)).toHaveLength(2);
    for (const [oldId, newId] of Object.entries(clientMap)) expect(newId).not.toBe(oldId);

    const cmp = await comparePools(gw, plain.poolId, gw, r.userPoolId, {
      subMap: readSubMap(r.subMap),
      userStatus: 'restored',
    });
    expect(cmp.differences).toEqual([]);
    expect(cmp.summary.users.matched).toBe(USERS);
  });

  it('restores into an existing compatible empty pool', async () => {
    const target = await emptyPoolLike(small, 'restored-existing');
    const r = await restore(small.reader, { target: { userPoolId: target } });
    expect(r.users).toEqual({
      created: SMALL_USERS,
      imported: 0,
      existing: 0,
      failed: 0,
      externalProvider: 0,
    });
    const a = await source(small);
    const b = await rawPool(target);
    expectSamePool(a, b, { keyBy: 'username' });
    checkSubMap(a, b, readSubMap(r.subMap), 'username');
    const cmp = await comparePools(gw, small.poolId, gw, target, { subMap: readSubMap(r.subMap) });
    expect(cmp.equal).toBe(true);
  });

  it('--merge into a pool that holds some of the users: they count as existing, not failed', async () => {
    const target = await emptyPoolLike(small, 'restored-merge');
    const some: UserRecord[] = [];
    for await (const u of small.reader.records('users', UserRecord))
      if (some.length < 25) some.push(u);
    for (const u of some) {
      await raw.send(
        new AdminCreateUserCommand({
          UserPoolId: target,
          Username: u.Username,
          MessageAction: 'SUPPRESS',
          UserAttributes: u.Attributes.filter((x) => x.Name !== 'sub'),
        }),
      );
    }
    await raw.send(
      new AdminCreateUserCommand({
        UserPoolId: target,
        Username: 'stranger',
        MessageAction: 'SUPPRESS',
      }),
    );
    // Without --merge the preflight refuses, and writes nothing.
    const refused = await restore(small.reader, { target: { userPoolId: target } }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(TargetIncompatibleError);
    expect((refused as TargetIncompatibleError).differences).toEqual([
      expect.stringContaining('the target pool already has users'),
    ]);
    expect((await rawPool(target)).users).toHaveLength(some.length + 1);
    expect(Object.keys((await rawPool(target)).groups)).toHaveLength(0);

    const r = await restore(small.reader, { target: { userPoolId: target }, merge: true });
    expect(r.users).toEqual({
      created: SMALL_USERS - some.length,
      imported: 0,
      existing: some.length,
      failed: 0,
      externalProvider: 0,
    });
    const a = await source(small);
    const b = await rawPool(target);
    const nb = plainPool(b, { keyBy: 'username' });
    expect(nb.users.stranger).toBeDefined();
    delete nb.users.stranger;
    expect(plainDifferences(plainPool(a, { keyBy: 'username' }), nb)).toEqual([]);
    const map = readSubMap(r.subMap);
    expect(map).toHaveLength(SMALL_USERS);
    checkSubMap(a, b, map, 'username');

    // comparePools sees exactly what differs: the stranger, and what we change now.
    const [group, victim] =
      Object.entries(a.members)
        .map(([g, l]) => [g, some.find((u) => l.includes(u.Username))?.Username] as const)
        .find(([, v]) => v !== undefined) ?? [];
    if (!group || !victim) throw new Error('no pre-existing user is in a group');
    await raw.send(
      new AdminRemoveUserFromGroupCommand({
        UserPoolId: target,
        Username: victim,
        GroupName: group,
      }),
    );
    await raw.send(
      new AdminUpdateUserAttributesCommand({
        UserPoolId: target,
        Username: victim,
        UserAttributes: [{ Name: 'custom:tier', Value: 'platinum' }],
      }),
    );
    const cmp = await comparePools(gw, small.poolId, gw, target, { subMap: map });
    expect(cmp.differences.map((d) => d.message).sort()).toEqual(
      [
        'user stranger is only in B',
        `user ${victim} is in group ${group} in A only`,
        `user ${victim}: attribute custom:tier differs`,
      ].sort(),
    );
    expect(JSON.stringify(cmp.differences)).not.toContain('platinum');
  });

  it('restores an email-username pool: Cognito makes new usernames, the sub map follows the email', async () => {
    const r = await restore(emailPool.reader, {
      target: { createPool: 'restored-email' },
      domain: 'restored-email-prefix',
      legacySubAttribute: 'legacy_sub',
    });
    const { UserPool: created } = await gw.send(
      new DescribeUserPoolCommand({ UserPoolId: r.userPoolId }),
    );
    expect(created?.Domain).toBe('restored-email-prefix');
    expect(created?.SchemaAttributes?.map((a) => a.Name)).toContain('custom:legacy_sub');
    expect(r.users).toEqual({
      created: EMAIL_USERS,
      imported: 0,
      existing: 0,
      failed: 0,
      externalProvider: 0,
    });
    const a = await source(emailPool);
    const b = await rawPool(r.userPoolId);
    expect(b.users).toHaveLength(EMAIL_USERS);
    expectSamePool(a, b, { keyBy: 'email' }, ['custom:legacy_sub']);
    // Each user carries its old sub in custom:legacy_sub.
    const oldSubByEmail = new Map(a.users.map((u) => [rawAttrs(u).email, rawAttrs(u).sub]));
    for (const u of b.users)
      expect(rawAttrs(u)['custom:legacy_sub']).toBe(oldSubByEmail.get(rawAttrs(u).email));
    const map = readSubMap(r.subMap);
    checkSubMap(a, b, map, 'email');
    // The sub map names both usernames, since they differ.
    const aNames = new Set(a.users.map((u) => u.Username));
    const bNames = new Set(b.users.map((u) => u.Username));
    for (const e of map as (SubMapEntry & { newUsername?: string })[]) {
      expect(aNames.has(e.username ?? '')).toBe(true);
      expect(bNames.has(e.newUsername ?? '')).toBe(true);
    }
    const cmp = await comparePools(gw, emailPool.poolId, gw, r.userPoolId, {
      subMap: map,
      userStatus: 'restored',
      ignoreAttributes: ['custom:legacy_sub'],
    });
    expect(cmp.differences).toEqual([]);
  });
});
