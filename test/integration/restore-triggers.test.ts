import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
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
import { RESTORE_TOKEN_TAG } from '../../src/restore/create-once.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import type { RestoreResult } from '../../src/restore/types.js';
import { SnapshotReader } from '../../src/snapshot/index.js';
import { LocalDirStorage } from '../../src/storage/local.js';
import { type MotoFixture, startMotoFixture } from '../support/fixture.js';
import { MOTO_ENV } from '../support/moto.js';

const CLI = path.resolve('dist/cli/main.js');
let snapshotDir: string;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...MOTO_ENV };
    delete env.AWS_PROFILE;
    const child = spawn(process.execPath, [CLI, ...args, '--endpoint-url', f.moto.endpoint], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

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
  snapshotDir = path.join(root.location, poolId, b.manifest.snapshotId);
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
  // Each restore tags its new pool with its own restore token (create-once.ts).
  const tags = { ...rest.UserPoolTags };
  delete tags[RESTORE_TOKEN_TAG];
  return JSON.parse(JSON.stringify({ ...rest, UserPoolTags: tags })) as Record<string, unknown>;
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

describe('the new restore flags through the CLI', () => {
  it('exit 2 for a bad --map-arns file or --without-triggers into an existing pool; exit 4 naming a foreign trigger; nothing written', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    const base = ['restore', '--from', snapshotDir];
    const missing = await cli([
      ...base,
      '--create-pool',
      'x',
      '--map-arns',
      path.join(f.work, 'nope.json'),
      '--state-dir',
      path.join(f.work, 'cli-1'),
    ]);
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toContain('--map-arns');
    const bad = path.join(f.work, 'bad-map.json');
    writeFileSync(bad, JSON.stringify({ 'not-an-arn': TRIGGER }));
    const badRun = await cli([
      ...base,
      '--create-pool',
      'x',
      '--map-arns',
      bad,
      '--state-dir',
      path.join(f.work, 'cli-2'),
    ]);
    expect(badRun.code, badRun.stderr).toBe(2);
    expect(badRun.stderr.trim().split('\n')).toHaveLength(1);
    const existing = await cli([
      ...base,
      '--to-user-pool-id',
      'us-east-1_Whatever1',
      '--without-triggers',
      '--state-dir',
      path.join(f.work, 'cli-3'),
    ]);
    expect(existing.code, existing.stderr).toBe(2);
    expect(existing.stderr).toContain('--without-triggers');
    const foreign = await cli([
      ...base,
      '--create-pool',
      'cli-foreign',
      '--target-account',
      '210987654321',
      '--state-dir',
      path.join(f.work, 'cli-4'),
    ]);
    expect(foreign.code, foreign.stderr).toBe(4);
    expect(foreign.stderr).toContain(TRIGGER);
    expect(existsSync(path.join(f.work, 'cli-4'))).toBe(false);
  }, 120_000);

  it('prints what to reconfigure outside Cognito and that the triggers went back, without usernames', async () => {
    const ok = await cli([
      'restore',
      '--from',
      snapshotDir,
      '--create-pool',
      'cli-ok',
      '--without-triggers',
      '--state-dir',
      path.join(f.work, 'cli-5'),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('reconfigure outside Cognito');
    expect(ok.stdout).toContain('issuer: https://cognito-idp.us-east-1.amazonaws.com/');
    expect(ok.stdout).toContain('Lambda triggers attached after the users');
    for (const name of ['ann', 'ben', 'cat'])
      expect(ok.stdout + ok.stderr).not.toMatch(new RegExp(`\\b${name}\\b`));
  }, 120_000);
});
