import path from 'node:path';
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  CreateGroupCommand,
  CreateUserPoolCommand,
  DescribeUserPoolCommand,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupPool } from '../../src/backup/engine.js';
import { TargetIncompatibleError } from '../../src/core/errors.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import type { RestoreResult } from '../../src/restore/types.js';
import { SnapshotReader } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';

/**
 * --without-triggers and the foreign-ARN preflight on moto: the pool comes back with the same
 * settings whether its triggers were attached at creation or at the end (UpdateUserPool resets
 * what it omits, so the closing update must carry the whole configuration).
 */
let fixture: MotoFixture | undefined;
let f: MotoFixture;
let reader: SnapshotReader;
const ACCOUNT = '123456789012'; // moto's account
const TRIGGER = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:pre-signup`;

beforeAll(async () => {
  fixture = await startMotoFixture('cv-triggers-');
  f = fixture;
  const created = await f.raw.send(
    new CreateUserPoolCommand({
      PoolName: 'with-triggers',
      LambdaConfig: { PreSignUp: TRIGGER, PostConfirmation: TRIGGER },
      Policies: {
        PasswordPolicy: {
          MinimumLength: 12,
          RequireNumbers: true,
          RequireSymbols: false,
          RequireUppercase: true,
          RequireLowercase: true,
          TemporaryPasswordValidityDays: 5,
        },
      },
      AutoVerifiedAttributes: ['email'],
      DeletionProtection: 'INACTIVE',
      DeviceConfiguration: {
        ChallengeRequiredOnNewDevice: true,
        DeviceOnlyRememberedOnUserPrompt: true,
      },
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      UserPoolTags: { team: 'identity' },
      VerificationMessageTemplate: {
        DefaultEmailOption: 'CONFIRM_WITH_CODE',
        EmailMessage: 'Your code is {####}',
        EmailSubject: 'Code',
      },
      AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
      UserAttributeUpdateSettings: { AttributesRequireVerificationBeforeUpdate: ['email'] },
    }),
  );
  const poolId = created.UserPool?.Id ?? '';
  await f.raw.send(
    new CreateGroupCommand({
      UserPoolId: poolId,
      GroupName: 'admins',
      RoleArn: `arn:aws:iam::${ACCOUNT}:role/admins`,
    }),
  );
  for (const u of ['ann', 'ben', 'cat']) {
    await f.raw.send(
      new AdminCreateUserCommand({
        UserPoolId: poolId,
        Username: u,
        MessageAction: 'SUPPRESS',
        UserAttributes: [{ Name: 'email', Value: `${u}@example.com` }],
      }),
    );
  }
  const root = new LocalDirStorage(path.join(f.work, 'snapshots'));
  const b = await backupPool(f.gw, root, { userPoolId: poolId, includeSecrets: false });
  reader = await SnapshotReader.open(root.child(`${poolId}/${b.manifest.snapshotId}`));
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
});

async function describePool(id: string): Promise<UserPoolType> {
  const r = await f.raw.send(new DescribeUserPoolCommand({ UserPoolId: id }));
  return r.UserPool ?? {};
}

/** The settings, without what differs between any two pools (ids, names, dates, counts). */
function settings(p: UserPoolType): Record<string, unknown> {
  const {
    Id: _i,
    Arn: _a,
    Name: _n,
    CreationDate: _c,
    LastModifiedDate: _l,
    EstimatedNumberOfUsers: _e,
    ...rest
  } = p;
  return JSON.parse(JSON.stringify(rest)) as Record<string, unknown>;
}

describe('restore --without-triggers on moto', () => {
  it('ends with the same pool as a restore with the triggers attached at creation, users created while they were off', async () => {
    const plain = (await restoreSnapshot(f.gw, reader, {
      target: { createPool: 'plain' },
      stateDir: path.join(f.work, 'state-plain'),
    })) as RestoreResult;
    const deferred = (await restoreSnapshot(f.gw, reader, {
      target: { createPool: 'deferred' },
      stateDir: path.join(f.work, 'state-deferred'),
      withoutTriggers: true,
    })) as RestoreResult;
    expect(deferred.triggersAttached).toBe(true);
    expect(deferred.users.created).toBe(3);
    const a = await describePool(plain.userPoolId);
    const b = await describePool(deferred.userPoolId);
    expect(b.LambdaConfig).toEqual({ PreSignUp: TRIGGER, PostConfirmation: TRIGGER });
    expect(settings(b)).toEqual(settings(a));
    // And the users are there.
    const got = await f.raw.send(
      new AdminGetUserCommand({ UserPoolId: deferred.userPoolId, Username: 'ann' }),
    );
    expect(got.Username).toBe('ann');
    // What to change outside Cognito: the issuer of the new pool, the trigger permissions.
    const kinds = deferred.reconfigure.map((i) => i.kind);
    expect(kinds).toEqual(expect.arrayContaining(['token-issuer', 'lambda-triggers']));
    expect(deferred.reconfigure.find((i) => i.kind === 'token-issuer')?.values.userPoolId).toBe(
      deferred.userPoolId,
    );
  }, 120_000);

  it('the preflight names a foreign trigger before anything is written; --map-arns rewrites it', async () => {
    const err = await restoreSnapshot(f.gw, reader, {
      target: { createPool: 'elsewhere' },
      stateDir: path.join(f.work, 'state-elsewhere'),
      targetAccount: '210987654321',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetIncompatibleError);
    expect((err as Error).message).toContain(TRIGGER);
    const mapped = (await restoreSnapshot(f.gw, reader, {
      target: { createPool: 'mapped' },
      stateDir: path.join(f.work, 'state-mapped'),
      mapArns: {
        [TRIGGER]: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:pre-signup-v2`,
      },
    })) as RestoreResult;
    const p = await describePool(mapped.userPoolId);
    expect(p.LambdaConfig?.PreSignUp).toBe(
      `arn:aws:lambda:us-east-1:${ACCOUNT}:function:pre-signup-v2`,
    );
  }, 120_000);
});
