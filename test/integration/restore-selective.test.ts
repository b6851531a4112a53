import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  AdminDeleteUserCommand,
  AdminDisableUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminUpdateUserAttributesCommand,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { seedPool } from '../../src/demo/seed.js';
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
async function cli(args: string[]): Promise<Run> {
  runs++;
  return startCli(
    [
      'restore',
      '--from',
      snapshot,
      '--to-user-pool-id',
      poolId,
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
    expectUnchangedOutside(before, await listPool(raw, poolId), {});
  }, 60_000);
});
