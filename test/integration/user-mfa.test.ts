import path from 'node:path';
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminSetUserMFAPreferenceCommand,
  CreateUserPoolCommand,
  SetUserPoolMfaConfigCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { diffSnapshot } from '../../src/compare/index.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import type { RestoreResult } from '../../src/restore/types.js';
import { SnapshotReader, UserRecord } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';

/**
 * backup --user-mfa → restore on moto: SMS MFA preferences come back with
 * AdminSetUserMFAPreference.
 */
let fixture: MotoFixture | undefined;
let f: MotoFixture;
let poolId: string;
const SMS = {
  SnsCallerArn: 'arn:aws:iam::123456789012:role/sms',
  ExternalId: 'x',
  SnsRegion: 'us-east-1',
};

beforeAll(async () => {
  fixture = await startMotoFixture('cv-user-mfa-');
  f = fixture;
  const p = await f.raw.send(
    new CreateUserPoolCommand({
      PoolName: 'mfa',
      MfaConfiguration: 'OPTIONAL',
      SmsConfiguration: SMS,
    }),
  );
  poolId = p.UserPool?.Id ?? '';
  await f.raw.send(
    new SetUserPoolMfaConfigCommand({
      UserPoolId: poolId,
      MfaConfiguration: 'OPTIONAL',
      SmsMfaConfiguration: { SmsConfiguration: SMS },
      SoftwareTokenMfaConfiguration: { Enabled: true },
    }),
  );
  for (const u of ['sms-user', 'plain-user']) {
    await f.raw.send(
      new AdminCreateUserCommand({
        UserPoolId: poolId,
        Username: u,
        MessageAction: 'SUPPRESS',
        UserAttributes: [
          { Name: 'phone_number', Value: '+15555550100' },
          { Name: 'phone_number_verified', Value: 'true' },
        ],
      }),
    );
  }
  await f.raw.send(
    new AdminSetUserMFAPreferenceCommand({
      UserPoolId: poolId,
      Username: 'sms-user',
      SMSMfaSettings: { Enabled: true, PreferredMfa: true },
    }),
  );
  // moto refuses TOTP without a verified software token (AssociateSoftwareToken needs the
  // user's access token): TOTP users are covered by test/unit/user-mfa.test.ts.
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
});

describe('per-user MFA on moto', () => {
  it('backup --user-mfa records the factors and says how many users were billed as MAU; restore sets the SMS preference back', async () => {
    const root = new LocalDirStorage(path.join(f.work, 'snapshots'));
    const b = await backupPool(f.gw, root, { userPoolId: poolId, userMfa: true });
    expect(b.userMfa?.billedAsMau).toBe(2);
    expect(b.userMfa?.factors).toEqual({ SMS_MFA: 1 });
    expect(b.manifest.options.userMfa).toBe(true);
    const reader = await SnapshotReader.open(root.child(`${poolId}/${b.manifest.snapshotId}`));
    const users = new Map<string, UserRecord>();
    for await (const u of reader.records('users', UserRecord)) users.set(u.Username, u);
    expect(users.get('sms-user')?.UserMFASettingList).toEqual(['SMS_MFA']);
    expect(users.get('sms-user')?.PreferredMfaSetting).toBe('SMS_MFA');
    expect(users.get('plain-user')?.UserMFASettingList).toEqual([]);

    const stateDir = path.join(f.work, 'state');
    const r = (await restoreSnapshot(f.gw, reader, {
      target: { createPool: 'mfa-restored' },
      stateDir,
    })) as RestoreResult;
    expect(r.failedUsers).toEqual([]);
    expect(r.mfa).toMatchObject({ preferencesSet: 1, totpNotRestorable: 0 });
    const got = await f.raw.send(
      new AdminGetUserCommand({ UserPoolId: r.userPoolId, Username: 'sms-user' }),
    );
    expect(got.UserMFASettingList).toEqual(['SMS_MFA']);
    expect(got.PreferredMfaSetting).toBe('SMS_MFA');
    const plain = await f.raw.send(
      new AdminGetUserCommand({ UserPoolId: r.userPoolId, Username: 'plain-user' }),
    );
    expect(plain.UserMFASettingList ?? []).toEqual([]);

    // diff --user-mfa checks what restore wrote; a preference lost afterwards is caught.
    const same = await diffSnapshot(reader, f.gw, r.userPoolId, {
      userStatus: 'restored',
      userMfa: true,
    });
    expect(same.settingsNotCompared ?? []).not.toContain('UserMFASettings');
    expect(same.changed.attributes).toBe(0);
    await f.raw.send(
      new AdminSetUserMFAPreferenceCommand({
        UserPoolId: r.userPoolId,
        Username: 'sms-user',
        SMSMfaSettings: { Enabled: false, PreferredMfa: false },
      }),
    );
    const fields: string[] = [];
    const lost = await diffSnapshot(reader, f.gw, r.userPoolId, {
      userStatus: 'restored',
      userMfa: true,
      onDifference: (d) => fields.push(`${d.key} ${d.field ?? ''}`),
    });
    expect(lost.changed.attributes).toBe(1);
    expect(fields).toContain('sms-user UserMFASettingList');
  }, 120_000);

  it('a backup without --user-mfa makes no AdminGetUser call', async () => {
    const root = new LocalDirStorage(path.join(f.work, 'snapshots2'));
    const before = f.gw.rate.report().find((c) => c.category === 'UserRead')?.calls ?? 0;
    const b = await backupPool(f.gw, root, { userPoolId: poolId });
    const after = f.gw.rate.report().find((c) => c.category === 'UserRead')?.calls ?? 0;
    expect(b.userMfa).toBeUndefined();
    expect(after).toBe(before);
  }, 60_000);
});
