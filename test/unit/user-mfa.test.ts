import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AdminCreateUserCommand,
  type AdminCreateUserCommandInput,
  AdminGetUserCommand,
  AdminSetUserMFAPreferenceCommand,
  DescribeUserPoolCommand,
  GetUserPoolMfaConfigCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListUserPoolClientsCommand,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import { restoreSnapshot, restoreExitCode } from '../../src/restore/engine.js';
import { mfaOf, mfaPreferenceInput } from '../../src/restore/users/mfa.js';
import type { RestoreResult } from '../../src/restore/types.js';
import { SnapshotReader, UserRecord } from '../../src/snapshot/index.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { awsError } from '../support/aws-errors.js';
import type { StackMock } from '../support/stack-mock.js';
import { unitGateway } from '../support/unit-gateway.js';
import { manifestDraft } from '../support/tiny-snapshot.js';

const rec = (list?: string[], preferred?: string): UserRecord => ({
  Username: 'u',
  Attributes: [],
  ...(list ? { UserMFASettingList: list } : {}),
  ...(preferred ? { PreferredMfaSetting: preferred } : {}),
});

describe('per-user MFA preferences', () => {
  it('maps the captured factors to AdminSetUserMFAPreference; TOTP is only reported', () => {
    expect(mfaOf(rec())).toBeUndefined();
    expect(mfaOf(rec([]))).toBeUndefined();
    expect(mfaOf(rec(['SOFTWARE_TOKEN_MFA'], 'SOFTWARE_TOKEN_MFA'))).toEqual({ totp: true });
    expect(mfaOf(rec(['SMS_MFA', 'SOFTWARE_TOKEN_MFA'], 'SOFTWARE_TOKEN_MFA'))).toEqual({
      totp: true,
      preference: { sms: true, email: false },
    });
    const both = mfaOf(rec(['SMS_MFA', 'EMAIL_OTP'], 'EMAIL_OTP'));
    expect(both?.preference).toEqual({ sms: true, email: true, preferred: 'EMAIL_OTP' });
    expect(mfaPreferenceInput('p', 'n', both?.preference ?? { sms: false, email: false })).toEqual({
      UserPoolId: 'p',
      Username: 'n',
      SMSMfaSettings: { Enabled: true, PreferredMfa: false },
      EmailMfaSettings: { Enabled: true, PreferredMfa: true },
    });
    // A preferred factor that is not activated is not claimed.
    expect(mfaOf(rec(['SMS_MFA'], 'EMAIL_OTP'))?.preference).toEqual({ sms: true, email: false });
  });
});

let mock: StackMock;
let gw: CognitoGateway;
let stateDir: string;

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'cv-user-mfa-'));
  ({ mock, gw } = unitGateway());
});

afterEach(async () => {
  mock.restore();
  await rm(stateDir, { recursive: true, force: true });
});

async function snapshot(users: UserRecord[], userMfa: boolean): Promise<SnapshotReader> {
  const storage = new MemoryStorage();
  const w = new SnapshotWriter(storage);
  await w.writeJson(
    'pool.json',
    'pool',
    { userPool: { Id: 'us-east-1_S', Name: 's' }, mfaConfig: { MfaConfiguration: 'OPTIONAL' } },
    1,
  );
  await w.writeJson('groups.json', 'groups', [], 0);
  await w.writeJson('clients.json', 'clients', [], 0);
  await w.writeJson('identity-providers.json', 'identityProviders', [], 0);
  await w.writeJson('resource-servers.json', 'resourceServers', [], 0);
  await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', users);
  await w.writeJsonLines('memberships/part-00000.jsonl.gz', 'memberships', []);
  await w.commit(
    manifestDraft({
      counts: { users: users.length },
      options: userMfa ? { userMfa: true } : {},
    }),
  );
  return SnapshotReader.open(storage);
}

function mockTarget(): void {
  mock.on(DescribeUserPoolCommand).resolves({ UserPool: { Id: 'us-east-1_T', Name: 't' } });
  mock.on(ListUsersCommand).resolves({ Users: [] });
  mock.on(ListGroupsCommand).resolves({ Groups: [] });
  mock.on(ListResourceServersCommand).resolves({ ResourceServers: [] });
  mock.on(ListIdentityProvidersCommand).resolves({ Providers: [] });
  mock.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });
  mock.on(AdminCreateUserCommand).callsFake((i: AdminCreateUserCommandInput) => ({
    User: { Username: i.Username, Attributes: [{ Name: 'sub', Value: `new-${i.Username}` }] },
  }));
}

describe('restore of per-user MFA (stack mock)', () => {
  const users: UserRecord[] = [
    { ...rec(['SMS_MFA'], 'SMS_MFA'), Username: 'sms-person' },
    { ...rec(['EMAIL_OTP'], 'EMAIL_OTP'), Username: 'email-person' },
    { ...rec(['SOFTWARE_TOKEN_MFA'], 'SOFTWARE_TOKEN_MFA'), Username: 'totp-person' },
    { ...rec([]), Username: 'no-mfa-person' },
  ];

  it('sets SMS and email preferences, lists TOTP users in a 0600 file, names nobody in warnings, and does it once across a resume', async () => {
    mockTarget();
    let fail = true;
    mock.on(AdminSetUserMFAPreferenceCommand).callsFake((i: { Username: string }) => {
      if (i.Username === 'email-person' && fail) {
        fail = false;
        throw awsError('InvalidParameterException');
      }
      return {};
    });
    const o = { target: { userPoolId: 'us-east-1_T' }, stateDir };
    const r = (await restoreSnapshot(gw, await snapshot(users, true), o)) as RestoreResult;
    // The refused one is a per-user failure of that operation, not a failed creation.
    expect(r.failedUsers).toEqual([
      expect.objectContaining({ username: 'email-person', operation: 'AdminSetUserMFAPreference' }),
    ]);
    expect(r.users.failed).toBe(0);
    expect(restoreExitCode(r)).toBe(6);
    expect(r.mfa).toMatchObject({ preferencesSet: 1, totpNotRestorable: 1 });
    const file = r.mfa?.totpFile ?? '';
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(
      `${JSON.stringify({ username: 'totp-person', factor: 'SOFTWARE_TOKEN_MFA' })}\n`,
    );
    expect(JSON.stringify(r.warnings)).not.toMatch(/person/);
    expect(r.warnings.some((w) => w.code === 'TOTP_NOT_RESTORABLE')).toBe(true);

    const r2 = (await restoreSnapshot(gw, await snapshot(users, true), o)) as RestoreResult;
    expect(r2.failedUsers).toEqual([]);
    expect(r2.mfa).toMatchObject({ preferencesSet: 2, totpNotRestorable: 1 });
    const sets = mock.commandCalls(AdminSetUserMFAPreferenceCommand).map((c) => c.args[0].input);
    expect(sets.filter((s) => s.Username === 'sms-person')).toHaveLength(1);
    expect(sets.find((s) => s.Username === 'sms-person')).toEqual({
      UserPoolId: 'us-east-1_T',
      Username: 'sms-person',
      SMSMfaSettings: { Enabled: true, PreferredMfa: true },
    });
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('a snapshot without --user-mfa sets no preference and says MFA was not captured', async () => {
    mockTarget();
    const plain = users.map(({ UserMFASettingList: _l, PreferredMfaSetting: _p, ...u }) => u);
    const r = (await restoreSnapshot(gw, await snapshot(plain, false), {
      target: { userPoolId: 'us-east-1_T' },
      stateDir,
    })) as RestoreResult;
    expect(mock.commandCalls(AdminSetUserMFAPreferenceCommand)).toHaveLength(0);
    expect(r.mfa).toBeUndefined();
    expect(r.warnings.some((w) => w.code === 'USER_MFA_NOT_CAPTURED')).toBe(true);
  });
});

describe('backup --user-mfa (stack mock)', () => {
  it('reads each native user once with AdminGetUser, keeps a vanished user without MFA, skips federated users', async () => {
    mock.on(DescribeUserPoolCommand).resolves({
      UserPool: { Id: 'us-east-1_S', Name: 's', EstimatedNumberOfUsers: 3 },
    });
    mock.on(GetUserPoolMfaConfigCommand).resolves({ MfaConfiguration: 'OPTIONAL' });
    mock.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });
    mock.on(ListIdentityProvidersCommand).resolves({ Providers: [] });
    mock.on(ListResourceServersCommand).resolves({ ResourceServers: [] });
    mock.on(ListGroupsCommand).resolves({ Groups: [] });
    mock.on(ListUsersCommand).resolves({
      Users: [
        { Username: 'a', Attributes: [], UserStatus: 'CONFIRMED' },
        { Username: 'gone', Attributes: [], UserStatus: 'CONFIRMED' },
        { Username: 'Google_1', Attributes: [], UserStatus: 'EXTERNAL_PROVIDER' },
      ],
    });
    mock.on(AdminGetUserCommand).callsFake((i: { Username: string }) => {
      if (i.Username === 'gone') throw awsError('UserNotFoundException');
      return {
        Username: i.Username,
        UserMFASettingList: ['SMS_MFA'],
        PreferredMfaSetting: 'SMS_MFA',
      };
    });
    const storage = new MemoryStorage();
    const b = await backupPool(gw, storage, {
      userPoolId: 'us-east-1_S',
      userMfa: true,
      shards: 1,
    });
    expect(b.userMfa).toEqual({
      usersRead: 1,
      billedAsMau: 1,
      factors: { SMS_MFA: 1 },
      vanished: 1,
    });
    expect(
      mock
        .commandCalls(AdminGetUserCommand)
        .map((c) => c.args[0].input.Username)
        .sort(),
    ).toEqual(['a', 'gone']);
    const reader = await SnapshotReader.open(storage.child(`us-east-1_S/${b.manifest.snapshotId}`));
    const got: UserRecord[] = [];
    for await (const u of reader.records('users', UserRecord)) got.push(u);
    expect(got.find((u) => u.Username === 'a')?.UserMFASettingList).toEqual(['SMS_MFA']);
    expect(got.find((u) => u.Username === 'gone')?.UserMFASettingList).toBeUndefined();
  });
});
