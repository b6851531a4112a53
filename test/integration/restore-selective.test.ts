import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  AdminAddUserToGroupCommand,
  AdminDeleteUserCommand,
  CreateUserPoolCommand,
  DeleteGroupCommand,
  DeleteIdentityProviderCommand,
  DeleteUserPoolClientCommand,
  UpdateGroupCommand,
  UpdateIdentityProviderCommand,
  UpdateUserPoolClientCommand,
  AdminDisableUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminUpdateUserAttributesCommand,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { seedPool } from '../../testing/seed.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { cliEnv, startCli, type Run } from '../support/cli.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';
import { expectUnchangedOutside, listPool, withoutSub } from '../support/pool-listing.js';

/**
 * Selective restore (`restore --to-user-pool-id ID` with selectors) on the emulator, run as the
 * CLI a user runs. Every check reads the pool back with the raw SDK (support/pool-listing.ts),
 * never with the code under test, and everything outside the selection must be unchanged.
 */
let fixture: MotoFixture | undefined;
let raw: CognitoIdentityProviderClient;
let work: string;
let endpoint: string;
let poolId: string;
let snapshot: string;
let secrets: string;

beforeAll(async () => {
  fixture = await startMotoFixture('cv-selective-');
  ({ raw, work } = fixture);
  endpoint = fixture.moto.endpoint;
  const seeded = await seedPool(fixture.gw, {
    users: 40,
    groups: 4,
    poolName: 'selective',
    statuses: false,
  });
  poolId = seeded.userPoolId;
  const root = new LocalDirStorage(path.join(work, 'backups'));
  const b = await backupPool(fixture.gw, root, { userPoolId: poolId });
  snapshot = path.join(root.location, poolId, b.manifest.snapshotId);
  secrets = path.join(work, 'idp-secrets.json');
  writeFileSync(secrets, JSON.stringify({ Google: { client_secret: 'demo-google-secret' } }));
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
});

let runs = 0;
async function cli(args: string[], target = poolId): Promise<Run> {
  runs++;
  return startCli(
    [
      'restore',
      '--from',
      snapshot,
      '--to-user-pool-id',
      target,
      '--state-dir',
      path.join(work, `state-${runs}`),
      '--endpoint-url',
      endpoint,
      '--json',
      ...args,
    ],
    { env: cliEnv(work, endpoint), cwd: work },
  ).done;
}

function json<T = Record<string, unknown>>(r: Run): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

const U = (i: number) => `user-${String(i).padStart(6, '0')}`;

describe('restore --user', () => {
  it('skip creates the deleted user and leaves existing ones; revert puts back attributes, enabled state and memberships', async () => {
    const before = await listPool(raw, poolId);
    const deleted = U(7);
    const changed = U(8);
    const disabled = U(9);
    expect(before.users.get(changed)?.groups.length).toBeGreaterThan(0);
    const group = before.users.get(changed)?.groups[0] ?? '';
    await raw.send(new AdminDeleteUserCommand({ UserPoolId: poolId, Username: deleted }));
    await raw.send(
      new AdminUpdateUserAttributesCommand({
        UserPoolId: poolId,
        Username: changed,
        UserAttributes: [{ Name: 'custom:tier', Value: 'overwritten' }],
      }),
    );
    await raw.send(
      new AdminRemoveUserFromGroupCommand({
        UserPoolId: poolId,
        Username: changed,
        GroupName: group,
      }),
    );
    await raw.send(new AdminDisableUserCommand({ UserPoolId: poolId, Username: disabled }));
    // A membership the snapshot does not have: the revert removes it.
    const other =
      [...before.groups.keys()].find((g) => !before.users.get(disabled)?.groups.includes(g)) ?? '';
    await raw.send(
      new AdminAddUserToGroupCommand({ UserPoolId: poolId, Username: disabled, GroupName: other }),
    );
    const sel = ['--user', deleted, '--user', changed, '--user', disabled];

    const skip = await cli(sel);
    expect(skip.code, skip.stderr).toBe(0);
    const s = json<{
      created: number;
      reverted: number;
      usersWritten: number;
      counts: { users: Record<string, number> };
    }>(skip);
    expect(s.created).toBe(1);
    expect(s.reverted).toBe(0);
    expect(s.usersWritten).toBe(1);
    expect(s.counts.users).toMatchObject({ create: 1, skip: 2 });
    const mid = await listPool(raw, poolId);
    expect(withoutSub(mid.users.get(deleted))).toEqual({
      ...withoutSub(before.users.get(deleted)),
      status: 'CONFIRMED',
    });
    expect(mid.users.get(changed)?.attributes['custom:tier']).toBe('overwritten');
    expect(mid.users.get(disabled)?.enabled).toBe(false);

    const revert = await cli([...sel, '--existing', 'revert']);
    expect(revert.code, revert.stderr).toBe(0);
    const r = json<{ created: number; reverted: number; usersWritten: number }>(revert);
    expect(r.reverted).toBe(2);
    expect(r.created).toBe(0);
    const after = await listPool(raw, poolId);
    expect(after.users.get(changed)).toEqual(before.users.get(changed));
    expect(after.users.get(disabled)).toEqual(before.users.get(disabled));
    expectUnchangedOutside(before, after, { users: [deleted] });
  }, 60_000);

  it('a selector that matches nothing in the snapshot: exit 2 naming the selector, not the value; nothing written', async () => {
    const before = await listPool(raw, poolId);
    const r = await cli(['--user', U(1), '--user', 'nobody-by-this-name', '--existing', 'revert']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--user \(2nd\) matches no user in the snapshot/);
    expect(r.stderr).not.toContain('nobody-by-this-name');
    const g = await cli(['--group', 'no-such-group']);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/--group \(1st\) matches nothing in the snapshot/);
    expect(g.stderr).not.toContain('no-such-group');
    expect(existsSync(path.join(work, `state-${runs}`))).toBe(false);
    expectUnchangedOutside(before, await listPool(raw, poolId), {});
  }, 60_000);
});

describe('restore --users-from', () => {
  it('takes a plain list and a diff --details file; revert puts the attributes back', async () => {
    const before = await listPool(raw, poolId);
    const names = [U(11), U(12)];
    for (const n of names)
      await raw.send(
        new AdminUpdateUserAttributesCommand({
          UserPoolId: poolId,
          Username: n,
          UserAttributes: [{ Name: 'custom:score', Value: '1' }],
        }),
      );
    const plain = path.join(work, 'users.txt');
    writeFileSync(plain, `# incident 42\n${names[0]}\n\n`);
    const details = path.join(work, 'diff-details.jsonl');
    const d = await startCli(
      [
        'diff',
        snapshot,
        '--user-pool-id',
        poolId,
        '--details',
        details,
        '--endpoint-url',
        endpoint,
      ],
      { env: cliEnv(work, endpoint), cwd: work },
    ).done;
    expect(d.code, d.stderr).toBe(9);
    const skip = await cli(['--users-from', plain]);
    expect(skip.code, skip.stderr).toBe(0);
    expect(json<{ counts: { users: { skip: number } } }>(skip).counts.users.skip).toBe(1);
    const revert = await cli(['--users-from', details, '--existing', 'revert']);
    expect(revert.code, revert.stderr).toBe(0);
    expect(json<{ reverted: number }>(revert).reverted).toBe(2);
    expectUnchangedOutside(before, await listPool(raw, poolId), {});
  }, 60_000);
});

describe('restore --group', () => {
  it('a deleted group comes back with its settings and members; revert puts back settings and removes members added since', async () => {
    const before = await listPool(raw, poolId);
    const group = 'team-001';
    const members = [...before.users].filter(([, u]) => u.groups.includes(group)).map(([n]) => n);
    expect(members.length).toBeGreaterThan(2);
    await raw.send(new DeleteGroupCommand({ UserPoolId: poolId, GroupName: group }));
    const skip = await cli(['--group', group]);
    expect(skip.code, skip.stderr).toBe(0);
    const s = json<{ counts: { group: { create: number }; memberships: { add: number } } }>(skip);
    expect(s.counts.group.create).toBe(1);
    expect(s.counts.memberships.add).toBe(members.length);
    const mid = await listPool(raw, poolId);
    expect(mid.groups.get(group)).toEqual(before.groups.get(group));
    expectUnchangedOutside(before, mid, {});

    // Settings changed and an outsider added: skip leaves both, revert undoes both.
    const outsider = [...before.users].find(([, u]) => !u.groups.includes(group))?.[0] ?? '';
    await raw.send(
      new UpdateGroupCommand({
        UserPoolId: poolId,
        GroupName: group,
        Description: 'changed',
        Precedence: 99,
      }),
    );
    await raw.send(
      new AdminAddUserToGroupCommand({ UserPoolId: poolId, Username: outsider, GroupName: group }),
    );
    const skip2 = await cli(['--group', group]);
    expect(skip2.code, skip2.stderr).toBe(0);
    expect((await listPool(raw, poolId)).groups.get(group)?.Description).toBe('changed');
    const revert = await cli(['--group', group, '--existing', 'revert']);
    expect(revert.code, revert.stderr).toBe(0);
    expectUnchangedOutside(before, await listPool(raw, poolId), {});
  }, 60_000);
});

describe('restore --client', () => {
  it('a deleted client is created (client id map); a changed one is reverted in place with the same id', async () => {
    const before = await listPool(raw, poolId);
    const machine = before.clients.get('machine');
    const web = before.clients.get('web');
    if (!machine || !web) throw new Error('seeded clients missing');
    await raw.send(new DeleteUserPoolClientCommand({ UserPoolId: poolId, ClientId: machine.id }));
    await raw.send(
      new UpdateUserPoolClientCommand({
        UserPoolId: poolId,
        ClientId: web.id,
        ClientName: 'web',
        RefreshTokenValidity: 3,
      }),
    );
    const skip = await cli(['--client', 'machine', '--client', 'web']);
    expect(skip.code, skip.stderr).toBe(0);
    const s = json<{ clientMap: string; counts: { client: Record<string, number> } }>(skip);
    expect(s.counts.client).toMatchObject({ create: 1, skip: 1 });
    const map = JSON.parse(readFileSync(s.clientMap, 'utf8')) as Record<string, string>;
    const mid = await listPool(raw, poolId);
    expect(Object.values(map)).toEqual([mid.clients.get('machine')?.id]);
    // A new client id, and a new secret: the snapshot (without --include-secrets) has none.
    const { ClientSecret: newSecret, ...machineSettings } =
      mid.clients.get('machine')?.settings ?? {};
    const { ClientSecret: oldSecret, ...oldMachineSettings } = machine.settings;
    expect(typeof newSecret).toBe(typeof oldSecret);
    expect(machineSettings).toEqual(oldMachineSettings);
    expect(mid.clients.get('web')?.settings.RefreshTokenValidity).toBe(3);
    const revert = await cli(['--client', 'web', '--existing', 'revert']);
    expect(revert.code, revert.stderr).toBe(0);
    const after = await listPool(raw, poolId);
    expect(after.clients.get('web')).toEqual(web);
    expectUnchangedOutside(before, after, { clients: ['machine'] });
  }, 60_000);
});

describe('restore --identity-provider', () => {
  it('a deleted IdP is created with --idp-secrets; a changed one is reverted', async () => {
    const before = await listPool(raw, poolId);
    const google = before.identityProviders.get('Google');
    expect(google).toBeDefined();
    await raw.send(
      new DeleteIdentityProviderCommand({ UserPoolId: poolId, ProviderName: 'Google' }),
    );
    const skip = await cli(['--identity-provider', 'Google', '--idp-secrets', secrets]);
    expect(skip.code, skip.stderr).toBe(0);
    expect((await listPool(raw, poolId)).identityProviders.get('Google')).toEqual(google);
    await raw.send(
      new UpdateIdentityProviderCommand({
        UserPoolId: poolId,
        ProviderName: 'Google',
        AttributeMapping: { email: 'email', given_name: 'given_name' },
      }),
    );
    expect((await listPool(raw, poolId)).identityProviders.get('Google')).not.toEqual(google);
    const skip2 = await cli(['--identity-provider', 'Google']);
    expect(skip2.code, skip2.stderr).toBe(0);
    expect(
      json<{ counts: { identityProvider: { skip: number } } }>(skip2).counts.identityProvider.skip,
    ).toBe(1);
    const revert = await cli([
      '--identity-provider',
      'Google',
      '--existing',
      'revert',
      '--idp-secrets',
      secrets,
    ]);
    expect(revert.code, revert.stderr).toBe(0);
    expectUnchangedOutside(before, await listPool(raw, poolId), {});
  }, 60_000);
});

describe('restore --resource-server', () => {
  it('a missing resource server is created; an existing one is counted (skip) or planned (revert)', async () => {
    // moto 5.2.1 has neither DeleteResourceServer nor UpdateResourceServer: the missing server
    // is restored into a second pool (same username settings), the revert is checked as a plan.
    const target =
      (
        await raw.send(
          new CreateUserPoolCommand({
            PoolName: 'rs-target',
            AliasAttributes: ['email'],
            AutoVerifiedAttributes: ['email'],
            UsernameConfiguration: { CaseSensitive: false },
          }),
        )
      ).UserPool?.Id ?? '';
    const before = await listPool(raw, target);
    const id = 'https://api.example.com';
    const skip = await cli(['--resource-server', id], target);
    expect(skip.code, skip.stderr).toBe(0);
    expect(
      json<{ counts: { resourceServer: { create: number } } }>(skip).counts.resourceServer.create,
    ).toBe(1);
    const after = await listPool(raw, target);
    expect(after.resourceServers.get(id)).toEqual({
      ...(await listPool(raw, poolId)).resourceServers.get(id),
      UserPoolId: target,
    });
    expectUnchangedOutside(before, after, { resourceServers: [id] });
    const again = await cli(['--resource-server', id, '--existing', 'revert', '--dry-run'], target);
    expect(again.code, again.stderr).toBe(0);
    expect(
      json<{ counts: { resourceServer: { unchanged: number } } }>(again).counts.resourceServer
        .unchanged,
    ).toBe(1);
  }, 60_000);
});

describe('restore --differences', () => {
  it('selects everything diff finds (narrowed by other selectors) and revert makes the pool equal to the snapshot', async () => {
    const before = await listPool(raw, poolId);
    await raw.send(new AdminDeleteUserCommand({ UserPoolId: poolId, Username: U(21) }));
    await raw.send(
      new AdminUpdateUserAttributesCommand({
        UserPoolId: poolId,
        Username: U(22),
        UserAttributes: [{ Name: 'given_name', Value: 'Changed' }],
      }),
    );
    await raw.send(
      new UpdateGroupCommand({ UserPoolId: poolId, GroupName: 'team-002', Description: 'x' }),
    );
    // Narrowed: only U(22) of the differences.
    const narrowed = await cli(['--differences', '--user', U(22), '--existing', 'revert']);
    expect(narrowed.code, narrowed.stderr).toBe(0);
    const n = json<{ counts: { users: Record<string, number>; group: Record<string, number> } }>(
      narrowed,
    );
    expect(n.counts.users).toMatchObject({ create: 0, revert: 1 });
    expect(n.counts.group.revert).toBe(0);
    expect((await listPool(raw, poolId)).users.has(U(21))).toBe(false);
    const all = await cli(['--differences', '--existing', 'revert']);
    expect(all.code, all.stderr).toBe(0);
    const a = json<{ counts: { users: Record<string, number>; group: Record<string, number> } }>(
      all,
    );
    expect(a.counts.users.create).toBe(1);
    expect(a.counts.group.revert).toBe(1);
    const after = await listPool(raw, poolId);
    expect(withoutSub(after.users.get(U(21)))).toEqual({
      ...withoutSub(before.users.get(U(21))),
      status: 'CONFIRMED',
    });
    expectUnchangedOutside(before, after, { users: [U(21)] });
  }, 90_000);
});

describe('restore --dry-run and --plan-hash', () => {
  it('prints counts and a planHash, per-user detail only in a 0600 file; a changed pool makes --plan-hash refuse (exit 9, nothing written)', async () => {
    const before = await listPool(raw, poolId);
    await raw.send(new AdminDeleteUserCommand({ UserPoolId: poolId, Username: U(31) }));
    await raw.send(
      new AdminUpdateUserAttributesCommand({
        UserPoolId: poolId,
        Username: U(32),
        UserAttributes: [{ Name: 'custom:tier', Value: 'x' }],
      }),
    );
    const planFile = path.join(work, 'plan.jsonl');
    const sel = ['--user', U(31), '--user', U(32), '--existing', 'revert'];
    const dry = await cli([...sel, '--dry-run', '--plan-file', planFile]);
    expect(dry.code, dry.stderr).toBe(0);
    const p = json<{
      planHash: string;
      planFile: string;
      counts: { users: Record<string, number> };
    }>(dry);
    expect(p.planHash).toMatch(/^[0-9a-f]{64}$/);
    expect(p.counts.users).toMatchObject({ create: 1, revert: 1 });
    expect(statSync(planFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(planFile, 'utf8')).toContain(U(32));
    // Counts only on stdout: no username, no attribute value.
    expect(dry.stdout).not.toContain(U(32));
    expect(dry.stdout).not.toContain('gold');
    const human = await startCli(
      [
        'restore',
        '--from',
        snapshot,
        '--to-user-pool-id',
        poolId,
        '--endpoint-url',
        endpoint,
        ...sel,
        '--dry-run',
        '--plan-file',
        path.join(work, 'plan2.jsonl'),
      ],
      { env: cliEnv(work, endpoint), cwd: work },
    ).done;
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`planHash: ${p.planHash}`);
    expect(`${human.stdout}${human.stderr}`).not.toContain(U(32));

    // The same pool gives the same hash; a pool changed since the review: exit 9.
    const again = await cli([...sel, '--dry-run', '--plan-file', path.join(work, 'plan3.jsonl')]);
    expect(json<{ planHash: string }>(again).planHash).toBe(p.planHash);
    await raw.send(
      new AdminUpdateUserAttributesCommand({
        UserPoolId: poolId,
        Username: U(32),
        UserAttributes: [{ Name: 'custom:tier', Value: 'y' }],
      }),
    );
    const mid = await listPool(raw, poolId);
    const refused = await cli([...sel, '--plan-hash', p.planHash]);
    expect(refused.code, refused.stderr).toBe(9);
    expect(refused.stderr).toMatch(/not the reviewed one/);
    // Nothing written: not even the state directory.
    expect(existsSync(path.join(work, `state-${runs}`))).toBe(false);
    expectUnchangedOutside(mid, await listPool(raw, poolId), {});
    const fresh = await cli([...sel, '--dry-run', '--plan-file', path.join(work, 'plan4.jsonl')]);
    const ok = await cli([...sel, '--plan-hash', json<{ planHash: string }>(fresh).planHash]);
    expect(ok.code, ok.stderr).toBe(0);
    const after = await listPool(raw, poolId);
    expect(after.users.get(U(32))).toEqual(before.users.get(U(32)));
    expectUnchangedOutside(before, after, { users: [U(31)] });
  }, 90_000);
});

describe('--from latest', () => {
  it('restore, diff, verify and export-csv pick the newest complete snapshot (before a time) and say which', async () => {
    const root = path.join(work, 'backups');
    const second = await backupPool(
      fixture?.gw as NonNullable<MotoFixture>['gw'],
      new LocalDirStorage(root),
      {
        userPoolId: poolId,
      },
    );
    const newest = path.join(root, poolId, second.manifest.snapshotId);
    // Newer still, but never to be picked: an interrupted backup and an unreadable manifest.
    const later = (ms: number) => new Date(Date.now() + ms).toISOString().replace(/[:.]/g, '-');
    const interrupted = path.join(root, poolId, later(60_000));
    mkdirSync(path.join(interrupted, 'users'), { recursive: true });
    writeFileSync(path.join(interrupted, 'users', 'part-00000.jsonl.gz'), 'x');
    const unreadable = path.join(root, poolId, later(120_000));
    mkdirSync(unreadable, { recursive: true });
    writeFileSync(path.join(unreadable, 'manifest.json'), '{broken');
    const env = cliEnv(work, endpoint);
    const run = (a: string[]) => startCli(a, { env, cwd: work }).done;

    const plan = await run([
      'restore',
      '--from',
      'latest',
      '--root',
      root,
      '--to-user-pool-id',
      poolId,
      '--user',
      U(1),
      '--dry-run',
      '--plan-file',
      path.join(work, 'latest-plan.jsonl'),
      '--endpoint-url',
      endpoint,
      '--json',
    ]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stderr).toContain(`latest: ${newest}`);
    expect(json<{ snapshot: string }>(plan).snapshot).toBe(newest);

    const before = new Date(new Date(second.manifest.finishedAt).getTime() - 1).toISOString();
    const older = await run([
      'restore',
      '--from',
      'latest',
      '--before',
      before,
      '--root',
      root,
      '--to-user-pool-id',
      poolId,
      '--user',
      U(1),
      '--dry-run',
      '--plan-file',
      path.join(work, 'latest-plan2.jsonl'),
      '--endpoint-url',
      endpoint,
      '--json',
    ]);
    expect(older.code, older.stderr).toBe(0);
    expect(json<{ snapshot: string }>(older).snapshot).toBe(snapshot);

    const v = await run(['verify', 'latest', '--root', root, '--source-pool-id', poolId, '--json']);
    expect(v.code, v.stderr).toBe(0);
    expect(json<{ ok: boolean; snapshot: string }>(v)).toMatchObject({
      ok: true,
      snapshot: newest,
    });
    const d = await run([
      'diff',
      'latest',
      '--root',
      root,
      '--user-pool-id',
      poolId,
      '--endpoint-url',
      endpoint,
      '--json',
    ]);
    expect([0, 9]).toContain(d.code);
    expect(json<{ snapshot: string }>(d).snapshot).toBe(newest);
    const e = await run([
      'export-csv',
      'latest',
      '--root',
      root,
      '--source-pool-id',
      poolId,
      '--to',
      path.join(work, 'csv'),
      '--json',
    ]);
    expect(e.code, e.stderr).toBe(0);
    expect(json<{ snapshot: string }>(e).snapshot).toBe(newest);

    const bad = await run([
      'verify',
      'latest',
      '--root',
      root,
      '--source-pool-id',
      poolId,
      '--before',
      'yesterday',
    ]);
    expect(bad.code).toBe(2);
    const none = await run([
      'verify',
      'latest',
      '--root',
      root,
      '--source-pool-id',
      'us-east-1_Nothing',
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no complete snapshot of pool us-east-1_Nothing/);
  }, 90_000);
});
