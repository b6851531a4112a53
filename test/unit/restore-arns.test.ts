import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AdminCreateUserCommand,
  type AdminCreateUserCommandInput,
  AdminDisableUserCommand,
  AdminAddUserToGroupCommand,
  CreateGroupCommand,
  CreateUserPoolClientCommand,
  type CreateUserPoolClientCommandInput,
  CreateUserPoolCommand,
  type CreateUserPoolCommandInput,
  DescribeUserPoolCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListUserPoolClientsCommand,
  ListUserPoolsCommand,
  ListUsersCommand,
  UpdateUserPoolCommand,
  type UpdateUserPoolCommandInput,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, TargetIncompatibleError, UsageError } from '../../src/core/errors.js';
import { CognitoGateway } from '../../src/cognito/gateway.js';
import {
  applyArnMap,
  checkForeignArns,
  collectArns,
  foreignReason,
  loadArnMap,
  parseArn,
  parseArnMap,
} from '../../src/restore/preflight/arns.js';
import { restoreSnapshot } from '../../src/restore/engine.js';
import type { SnapshotData } from '../../src/restore/preflight/snapshot.js';
import { UPDATE_POOL_KEYS } from '../../src/cognito/fields.js';
import { wholeSettingsUpdate } from '../../src/restore/pool/triggers.js';
import type { RestoreOptions, RestoreResult } from '../../src/restore/types.js';
import { SnapshotReader } from '../../src/snapshot/index.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { StackMock } from '../support/stack-mock.js';
import { unitGateway } from '../support/unit-gateway.js';
import { manifestDraft } from '../support/tiny-snapshot.js';

const SRC_ACCOUNT = '111111111111';
const DST_ACCOUNT = '222222222222';
const LAMBDA = `arn:aws:lambda:us-east-1:${SRC_ACCOUNT}:function:pre-signup`;
const KMS = `arn:aws:kms:us-east-1:${SRC_ACCOUNT}:key/abcd`;
const SES = `arn:aws:ses:us-east-1:${SRC_ACCOUNT}:identity/example.com`;
const SMS_ROLE = `arn:aws:iam::${SRC_ACCOUNT}:role/cognito-sms`;
const GROUP_ROLE = `arn:aws:iam::${SRC_ACCOUNT}:role/admins`;
const DST_ROLE = `arn:aws:iam::${DST_ACCOUNT}:role/admins`;
const PINPOINT = `arn:aws:mobiletargeting:us-east-1:${SRC_ACCOUNT}:apps/abc`;
const LOGS = `arn:aws:logs:us-east-1:${SRC_ACCOUNT}:log-group:/cognito/x`;

function sourceUserPool(): Record<string, unknown> {
  return {
    Id: 'us-east-1_Source',
    Name: 'source',
    Arn: `arn:aws:cognito-idp:us-east-1:${SRC_ACCOUNT}:userpool/us-east-1_Source`,
    SchemaAttributes: [{ Name: 'email', AttributeDataType: 'String', Mutable: true }],
    MfaConfiguration: 'OFF',
    LambdaConfig: {
      PreSignUp: LAMBDA,
      CustomSMSSender: { LambdaVersion: 'V1_0', LambdaArn: LAMBDA },
      KMSKeyID: KMS,
    },
    EmailConfiguration: { SourceArn: SES, EmailSendingAccount: 'DEVELOPER' },
    SmsConfiguration: { SnsCallerArn: SMS_ROLE, ExternalId: 'x' },
  };
}

function data(): SnapshotData {
  return {
    pool: {
      userPool: sourceUserPool(),
      logDeliveryConfiguration: {
        LogConfigurations: [
          {
            LogLevel: 'ERROR',
            EventSource: 'userNotification',
            CloudWatchLogsConfiguration: { LogGroupArn: LOGS },
          },
        ],
      },
      domain: {
        CustomDomainConfig: {
          CertificateArn: `arn:aws:acm:us-east-1:${SRC_ACCOUNT}:certificate/x`,
        },
      },
    },
    groups: [{ GroupName: 'admins', RoleArn: GROUP_ROLE }],
    clients: [
      {
        ClientId: 'c1',
        ClientName: 'web',
        AnalyticsConfiguration: { ApplicationArn: PINPOINT, RoleArn: SMS_ROLE },
      },
    ],
    identityProviders: [],
    resourceServers: [],
  } as unknown as SnapshotData;
}

describe('ARN parsing and the foreign-ARN check', () => {
  it('parses ARNs with and without Region/account, and rejects other strings', () => {
    expect(parseArn(LAMBDA)).toMatchObject({
      service: 'lambda',
      region: 'us-east-1',
      account: SRC_ACCOUNT,
    });
    expect(parseArn(SMS_ROLE)).toMatchObject({ service: 'iam', region: '', account: SRC_ACCOUNT });
    expect(parseArn('arn:aws:iam::aws:policy/ReadOnlyAccess')?.account).toBe('aws');
    expect(parseArn('arn:aws:lambda')).toBeUndefined();
    expect(parseArn('https://example.com')).toBeUndefined();
  });

  it('finds every ARN a restore sends — triggers, KMS, SES, SMS role, log group, group role, Pinpoint — and not the old pool ARN or the custom domain certificate', () => {
    const found = collectArns(data(), { includePool: true }).map((u) => u.path);
    expect(found).toEqual(
      expect.arrayContaining([
        'pool.userPool.LambdaConfig.PreSignUp',
        'pool.userPool.LambdaConfig.CustomSMSSender.LambdaArn',
        'pool.userPool.LambdaConfig.KMSKeyID',
        'pool.userPool.EmailConfiguration.SourceArn',
        'pool.userPool.SmsConfiguration.SnsCallerArn',
        'pool.logDeliveryConfiguration.LogConfigurations[0].CloudWatchLogsConfiguration.LogGroupArn',
        'group admins.RoleArn',
        'client web.AnalyticsConfiguration.ApplicationArn',
        'client web.AnalyticsConfiguration.RoleArn',
      ]),
    );
    expect(found).toHaveLength(9);
    expect(found.some((p) => p.includes('Arn') && p === 'pool.userPool.Arn')).toBe(false);
    // An existing target keeps its own pool settings: only groups and clients are sent.
    expect(collectArns(data(), { includePool: false })).toHaveLength(3);
  });

  it('names account and Region differences; AWS-owned and same-place ARNs are not foreign', () => {
    const here = { region: 'us-east-1', account: SRC_ACCOUNT };
    expect(foreignReason(LAMBDA, here)).toBeUndefined();
    expect(foreignReason(LAMBDA, { region: 'eu-west-1', account: SRC_ACCOUNT })).toBe(
      'Region us-east-1, target eu-west-1',
    );
    expect(foreignReason(SMS_ROLE, { region: 'eu-west-1', account: DST_ACCOUNT })).toBe(
      `account ${SRC_ACCOUNT}, target ${DST_ACCOUNT}`,
    );
    expect(
      foreignReason('arn:aws:iam::aws:policy/X', { region: 'eu-west-1', account: DST_ACCOUNT }),
    ).toBeUndefined();
    expect(foreignReason(LAMBDA, { region: 'us-east-1', account: undefined })).toBeUndefined();
    // An ARN deliberately in another Region than the source pool (SES in us-east-1 for a pool in
    // eu-central-1) stays valid wherever the pool goes; one co-located with the source moves.
    const ses = `arn:aws:ses:us-east-1:${SRC_ACCOUNT}:identity/x`;
    const fromFrankfurt = { account: SRC_ACCOUNT, sourceRegion: 'eu-central-1' };
    expect(foreignReason(ses, { ...fromFrankfurt, region: 'eu-central-1' })).toBeUndefined();
    expect(foreignReason(ses, { ...fromFrankfurt, region: 'eu-west-1' })).toBeUndefined();
    expect(
      foreignReason(`arn:aws:lambda:eu-central-1:${SRC_ACCOUNT}:function:f`, {
        ...fromFrankfurt,
        region: 'eu-west-1',
      }),
    ).toBe('Region eu-central-1, target eu-west-1');
  });

  it('refuses (exit 4) naming every foreign ARN, or warns once with --allow-foreign-arns', () => {
    const target = { region: 'us-east-1', account: DST_ACCOUNT };
    let err: unknown;
    try {
      checkForeignArns(data(), { target, includePool: true, allowForeign: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TargetIncompatibleError);
    const e = err as TargetIncompatibleError;
    expect(e.exitCode).toBe(ExitCode.TargetIncompatible);
    expect(e.differences).toHaveLength(9);
    for (const arn of [LAMBDA, KMS, SES, SMS_ROLE, GROUP_ROLE, PINPOINT, LOGS])
      expect(e.message).toContain(arn);
    const w = checkForeignArns(data(), { target, includePool: true, allowForeign: true });
    expect(w).toHaveLength(1);
    expect(w[0]?.code).toBe('FOREIGN_ARNS');
    expect(
      checkForeignArns(data(), {
        target: { region: 'us-east-1', account: SRC_ACCOUNT },
        includePool: true,
        allowForeign: false,
      }),
    ).toEqual([]);
  });
});

describe('--map-arns', () => {
  it('rewrites exact and prefix entries everywhere they are sent, never the old pool ARN or the domain', () => {
    const d = data();
    const map = parseArnMap(
      {
        [LAMBDA]: `arn:aws:lambda:eu-west-1:${DST_ACCOUNT}:function:pre-signup-eu`,
        [`arn:aws:iam::${SRC_ACCOUNT}:*`]: `arn:aws:iam::${DST_ACCOUNT}:`,
        [`arn:aws:kms:us-east-1:${SRC_ACCOUNT}:*`]: `arn:aws:kms:eu-west-1:${DST_ACCOUNT}:`,
        [`arn:aws:lambda:us-east-1:${SRC_ACCOUNT}:*`]: 'arn:aws:lambda:eu-west-1:999999999999:',
        'arn:aws:sns:us-east-1:111111111111:unused': 'arn:aws:sns:us-east-1:222222222222:x',
      },
      'map.json',
    );
    const n = applyArnMap(d, map);
    const up = d.pool.userPool;
    // The exact entry wins over the prefix.
    expect(up.LambdaConfig?.PreSignUp).toBe(
      `arn:aws:lambda:eu-west-1:${DST_ACCOUNT}:function:pre-signup-eu`,
    );
    expect(up.LambdaConfig?.KMSKeyID).toBe(`arn:aws:kms:eu-west-1:${DST_ACCOUNT}:key/abcd`);
    expect(up.SmsConfiguration?.SnsCallerArn).toBe(`arn:aws:iam::${DST_ACCOUNT}:role/cognito-sms`);
    expect(d.groups[0]?.RoleArn).toBe(`arn:aws:iam::${DST_ACCOUNT}:role/admins`);
    expect(d.clients[0]?.AnalyticsConfiguration?.RoleArn).toBe(
      `arn:aws:iam::${DST_ACCOUNT}:role/cognito-sms`,
    );
    expect(up.Arn).toBe(sourceUserPool().Arn);
    expect(JSON.stringify(d.pool.domain)).toContain(SRC_ACCOUNT);
    expect(n).toBe(6);
    // Both Lambda uses matched the exact entry: the prefix rule matched nothing.
    expect(map.unused().sort()).toEqual(
      [
        'arn:aws:sns:us-east-1:111111111111:unused',
        `arn:aws:lambda:us-east-1:${SRC_ACCOUNT}:*`,
      ].sort(),
    );
  });

  it('validates the file: exit 2 naming the bad entry, never its neighbours', async () => {
    const bad: unknown[] = [
      [],
      'x',
      {},
      { [LAMBDA]: 5 },
      { 'not-an-arn': LAMBDA },
      { [LAMBDA]: 'lambda:x' },
      { 'arn:aws:*:*': 'arn:aws:' },
      { 'arn:aws:iam::1:*': 'iam' },
    ];
    for (const b of bad) {
      let err: unknown;
      try {
        parseArnMap(b, 'map.json');
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(b)).toBeInstanceOf(UsageError);
      expect((err as UsageError).exitCode).toBe(ExitCode.Usage);
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'cv-arns-'));
    try {
      const f = path.join(dir, 'map.json');
      await writeFile(f, '{ nope');
      await expect(loadArnMap(f)).rejects.toMatchObject({ exitCode: ExitCode.Usage });
      await expect(loadArnMap(path.join(dir, 'missing.json'))).rejects.toMatchObject({
        exitCode: ExitCode.Usage,
      });
      await writeFile(f, JSON.stringify({ [LAMBDA]: LAMBDA }));
      expect(await loadArnMap(f)).toEqual({ [LAMBDA]: LAMBDA });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('whole-settings UpdateUserPool', () => {
  it('sends back every UpdateUserPool member the pool has, with only LambdaConfig changed', () => {
    const live: UserPoolType = {
      Id: 'us-east-1_New',
      Name: 'new',
      Arn: 'arn:aws:cognito-idp:us-east-1:222222222222:userpool/us-east-1_New',
      Policies: { PasswordPolicy: { MinimumLength: 12, TemporaryPasswordValidityDays: 3 } },
      DeletionProtection: 'ACTIVE',
      AutoVerifiedAttributes: ['email'],
      VerificationMessageTemplate: {
        EmailMessage: 'code {####}',
        DefaultEmailOption: 'CONFIRM_WITH_CODE',
      },
      EmailVerificationMessage: 'code {####}',
      MfaConfiguration: 'OPTIONAL',
      DeviceConfiguration: { ChallengeRequiredOnNewDevice: true },
      EmailConfiguration: { EmailSendingAccount: 'COGNITO_DEFAULT' },
      UserPoolTags: { team: 'x' },
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true, UnusedAccountValidityDays: 3 },
      UserPoolAddOns: { AdvancedSecurityMode: 'OFF' },
      AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
      UserAttributeUpdateSettings: { AttributesRequireVerificationBeforeUpdate: ['email'] },
      UserPoolTier: 'ESSENTIALS',
      SchemaAttributes: [{ Name: 'email' }],
      UsernameAttributes: ['email'],
      CreationDate: new Date(),
    };
    const input = wholeSettingsUpdate(live, { PreSignUp: LAMBDA });
    expect(input.UserPoolId).toBe('us-east-1_New');
    expect(input.PoolName).toBe('new');
    expect(input.LambdaConfig).toEqual({ PreSignUp: LAMBDA });
    for (const k of UPDATE_POOL_KEYS) {
      if (k === 'LambdaConfig' || k === 'EmailVerificationMessage') continue;
      const v = (live as Record<string, unknown>)[k];
      if (v === undefined) continue;
      if (k === 'AdminCreateUserConfig')
        expect(input[k]).toEqual({ AllowAdminCreateUserOnly: true });
      else expect(input[k], k).toEqual(v);
    }
    // Each message once (the template supersedes the legacy field); create-only and
    // output-only fields are not sent.
    expect(input.EmailVerificationMessage).toBeUndefined();
    for (const k of ['SchemaAttributes', 'UsernameAttributes', 'CreationDate', 'Arn', 'Id', 'Name'])
      expect(Object.keys(input)).not.toContain(k);
  });
});

// ---- the engine, on a mocked Cognito --------------------------------------------------------

let mock: StackMock;
let gw: CognitoGateway;
let stateDir: string;
let pools: Map<string, UserPoolType>;
let calls: string[];

async function snapshot(
  userPool: Record<string, unknown>,
  groupRole = GROUP_ROLE,
): Promise<SnapshotReader> {
  const storage = new MemoryStorage();
  const w = new SnapshotWriter(storage);
  await w.writeJson('pool.json', 'pool', { userPool, mfaConfig: { MfaConfiguration: 'OFF' } }, 1);
  const groups = [{ GroupName: 'admins', RoleArn: groupRole }];
  await w.writeJson('groups.json', 'groups', groups, 1);
  await w.writeJson('clients.json', 'clients', [], 0);
  await w.writeJson('identity-providers.json', 'identityProviders', [], 0);
  await w.writeJson('resource-servers.json', 'resourceServers', [], 0);
  const users = ['ann', 'ben', 'cat'].map((u) => ({
    Username: u,
    Attributes: [{ Name: 'sub', Value: `old-${u}` }],
    Enabled: u !== 'ben',
    UserStatus: 'CONFIRMED',
  }));
  await w.writeJsonLines('users/part-00000.jsonl.gz', 'users', users);
  await w.writeJsonLines('memberships/part-00000.jsonl.gz', 'memberships', [
    { group: 'admins', username: 'ann' },
  ]);
  await w.commit(
    manifestDraft({
      userPool: { id: 'us-east-1_Source', name: 'source' },
      counts: { users: 3, groups: 1, memberships: 1 },
    }),
  );
  return SnapshotReader.open(storage);
}

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'cv-arns-engine-'));
  ({ mock, gw } = unitGateway());
  pools = new Map();
  calls = [];
  const account = (): string => DST_ACCOUNT;
  mock.on(ListUserPoolsCommand).callsFake(() => ({
    UserPools: [...pools.values()].map((p) => ({ Id: p.Id, Name: p.Name })),
  }));
  mock.on(DescribeUserPoolCommand).callsFake((i: { UserPoolId: string }) => {
    const p = pools.get(i.UserPoolId);
    if (!p) throw Object.assign(new Error('no'), { name: 'ResourceNotFoundException' });
    return { UserPool: p };
  });
  mock.on(CreateUserPoolCommand).callsFake((i: CreateUserPoolCommandInput) => {
    calls.push('CreateUserPool');
    const id = `us-east-1_New${pools.size}`;
    const { PoolName, Schema: _s, ...rest } = i;
    const p: UserPoolType = {
      ...(rest as UserPoolType),
      Id: id,
      Name: PoolName,
      Arn: `arn:aws:cognito-idp:us-east-1:${account()}:userpool/${id}`,
    };
    pools.set(id, p);
    return { UserPool: p };
  });
  mock.on(UpdateUserPoolCommand).callsFake((i: UpdateUserPoolCommandInput) => {
    calls.push('UpdateUserPool');
    const p = pools.get(i.UserPoolId ?? '');
    if (!p) throw new Error('no pool');
    const { UserPoolId: _id, PoolName, ...rest } = i;
    // UpdateUserPool resets what it omits: only what is sent (plus the immutable parts) stays.
    pools.set(p.Id ?? '', {
      Id: p.Id,
      Arn: p.Arn,
      Name: PoolName ?? p.Name,
      SchemaAttributes: p.SchemaAttributes,
      ...(rest as UserPoolType),
    });
    return {};
  });
  mock.on(ListUsersCommand).resolves({ Users: [] });
  mock.on(ListGroupsCommand).resolves({ Groups: [] });
  mock.on(CreateGroupCommand).callsFake(() => {
    calls.push('CreateGroup');
    return {};
  });
  mock.on(ListResourceServersCommand).resolves({ ResourceServers: [] });
  mock.on(ListIdentityProvidersCommand).resolves({ Providers: [] });
  mock.on(ListUserPoolClientsCommand).resolves({ UserPoolClients: [] });
  mock.on(CreateUserPoolClientCommand).callsFake((i: CreateUserPoolClientCommandInput) => ({
    UserPoolClient: { ClientId: `new-${i.ClientName}` },
  }));
  mock.on(AdminCreateUserCommand).callsFake((i: AdminCreateUserCommandInput) => {
    calls.push('AdminCreateUser');
    return {
      User: { Username: i.Username, Attributes: [{ Name: 'sub', Value: `new-${i.Username}` }] },
    };
  });
  mock.on(AdminAddUserToGroupCommand).callsFake(() => {
    calls.push('AdminAddUserToGroup');
    return {};
  });
  mock.on(AdminDisableUserCommand).callsFake(() => {
    calls.push('AdminDisableUser');
    return {};
  });
});

afterEach(async () => {
  mock.restore();
  await rm(stateDir, { recursive: true, force: true });
});

function opts(over: Partial<RestoreOptions>): RestoreOptions {
  return { target: { createPool: 'restored' }, stateDir, ...over };
}

const MAP = {
  [`arn:aws:lambda:us-east-1:${SRC_ACCOUNT}:*`]: `arn:aws:lambda:us-east-1:${DST_ACCOUNT}:`,
  [`arn:aws:iam::${SRC_ACCOUNT}:*`]: `arn:aws:iam::${DST_ACCOUNT}:`,
  [`arn:aws:kms:us-east-1:${SRC_ACCOUNT}:*`]: `arn:aws:kms:us-east-1:${DST_ACCOUNT}:`,
  [`arn:aws:ses:us-east-1:${SRC_ACCOUNT}:*`]: `arn:aws:ses:us-east-1:${DST_ACCOUNT}:`,
};

describe('restore with foreign ARNs (stack mock)', () => {
  it('refuses a cross-account restore before writing anything when --target-account says so (exit 4)', async () => {
    const reader = await snapshot(sourceUserPool());
    const err = await restoreSnapshot(gw, reader, opts({ targetAccount: DST_ACCOUNT })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TargetIncompatibleError);
    expect(String((err as Error).message)).toContain(LAMBDA);
    expect(calls).toEqual([]);
    expect(existsSync(path.join(stateDir, 'journal.jsonl'))).toBe(false);
  });

  it('reads the account from another pool in the Region when no flag gives it', async () => {
    pools.set('us-east-1_Other', {
      Id: 'us-east-1_Other',
      Name: 'other',
      Arn: `arn:aws:cognito-idp:us-east-1:${DST_ACCOUNT}:userpool/us-east-1_Other`,
    });
    const reader = await snapshot(sourceUserPool());
    await expect(restoreSnapshot(gw, reader, opts({}))).rejects.toBeInstanceOf(
      TargetIncompatibleError,
    );
    expect(calls).toEqual([]);
  });

  it('with no pool to read the account from and no --target-account, refuses (exit 2) before writing anything', async () => {
    const reader = await snapshot(sourceUserPool());
    const err = await restoreSnapshot(gw, reader, opts({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.Usage);
    expect((err as Error).message).toContain('`targetAccount`');
    expect(calls).toEqual([]);
    // --allow-foreign-arns accepts the risk: the restore goes on.
    const r = (await restoreSnapshot(
      gw,
      await snapshot(sourceUserPool()),
      opts({ allowForeignArns: true }),
    )) as RestoreResult;
    expect(r.users.created).toBe(3);
  });

  it('with no pool to read the account from, ARNs sent after CreateUserPool (group roles) are checked right after it, before any is sent (exit 4)', async () => {
    const {
      LambdaConfig: _l,
      EmailConfiguration: _e,
      SmsConfiguration: _s,
      ...plain
    } = sourceUserPool();
    const err = await restoreSnapshot(gw, await snapshot(plain), opts({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetIncompatibleError);
    expect((err as Error).message).toContain(GROUP_ROLE);
    expect(calls).toEqual(['CreateUserPool']);
  });

  it('a wrong --target-account is caught right after CreateUserPool (exit 4), with only the pool written', async () => {
    const reader = await snapshot(sourceUserPool());
    const err = await restoreSnapshot(gw, reader, opts({ targetAccount: SRC_ACCOUNT })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TargetIncompatibleError);
    expect((err as Error).message).toContain(`is in account ${DST_ACCOUNT}`);
    expect(calls).toEqual(['CreateUserPool']);
  });

  it('--map-arns rewrites what CreateUserPool and CreateGroup get; --allow-foreign-arns keeps them with a warning', async () => {
    const reader = await snapshot(sourceUserPool());
    const r = (await restoreSnapshot(
      gw,
      reader,
      opts({ mapArns: MAP, targetAccount: DST_ACCOUNT }),
    )) as RestoreResult;
    const created = pools.get(r.userPoolId);
    expect(JSON.stringify(created)).not.toContain(SRC_ACCOUNT);
    expect(created?.LambdaConfig?.PreSignUp).toBe(
      `arn:aws:lambda:us-east-1:${DST_ACCOUNT}:function:pre-signup`,
    );
    const group = mock.commandCalls(CreateGroupCommand)[0]?.args[0].input;
    expect(group?.RoleArn).toBe(`arn:aws:iam::${DST_ACCOUNT}:role/admins`);

    await rm(stateDir, { recursive: true, force: true });
    const r2 = (await restoreSnapshot(
      gw,
      await snapshot(sourceUserPool()),
      opts({ allowForeignArns: true, targetAccount: DST_ACCOUNT }),
    )) as RestoreResult;
    expect(r2.warnings.find((w) => w.code === 'FOREIGN_ARNS')?.message).toContain(LAMBDA);
    expect(pools.get(r2.userPoolId)?.LambdaConfig?.PreSignUp).toBe(LAMBDA);
  });
});

describe('--without-triggers (stack mock)', () => {
  const sameAccount = (): Record<string, unknown> => {
    const p = sourceUserPool();
    return JSON.parse(JSON.stringify(p).replaceAll(SRC_ACCOUNT, DST_ACCOUNT)) as Record<
      string,
      unknown
    >;
  };

  it('creates the pool without LambdaConfig, attaches the triggers after every user and follow-up with the whole settings, once', async () => {
    const reader = await snapshot(sameAccount(), DST_ROLE);
    const r = (await restoreSnapshot(
      gw,
      reader,
      opts({ withoutTriggers: true, targetAccount: DST_ACCOUNT }),
    )) as RestoreResult;
    const create = mock.commandCalls(CreateUserPoolCommand)[0]?.args[0].input;
    expect(create?.LambdaConfig).toBeUndefined();
    expect(create?.EmailConfiguration).toBeDefined();
    const last = calls.lastIndexOf('AdminCreateUser');
    expect(calls.indexOf('UpdateUserPool')).toBeGreaterThan(last);
    expect(calls.indexOf('UpdateUserPool')).toBeGreaterThan(
      calls.lastIndexOf('AdminAddUserToGroup'),
    );
    expect(calls.indexOf('UpdateUserPool')).toBeGreaterThan(calls.lastIndexOf('AdminDisableUser'));
    const after = pools.get(r.userPoolId);
    expect(after?.LambdaConfig).toEqual((sameAccount() as { LambdaConfig: unknown }).LambdaConfig);
    // Nothing else reset: every other setting CreateUserPool set is still there.
    expect(after?.EmailConfiguration).toEqual(create?.EmailConfiguration);
    expect(after?.SmsConfiguration).toEqual(create?.SmsConfiguration);
    expect(after?.MfaConfiguration).toBe(create?.MfaConfiguration);
    expect(r.triggersAttached).toBe(true);
    // A re-run finds it done: no second UpdateUserPool.
    await restoreSnapshot(
      gw,
      await snapshot(sameAccount(), DST_ROLE),
      opts({ withoutTriggers: true, targetAccount: DST_ACCOUNT }),
    );
    expect(calls.filter((c) => c === 'UpdateUserPool')).toHaveLength(1);
    const journal = readFileSync(path.join(stateDir, 'journal.jsonl'), 'utf8');
    expect(journal).toContain('"t":"triggers","s":"pending"');
    expect(journal).toContain('"t":"triggers","s":"attached"');
  });

  it('a run killed before the triggers went back attaches them on resume, even without the flag', async () => {
    let failNext = true;
    mock.on(UpdateUserPoolCommand).callsFake(() => {
      if (failNext) {
        failNext = false;
        throw Object.assign(new Error('denied'), {
          name: 'AccessDeniedException',
          $metadata: { httpStatusCode: 403 },
        });
      }
      calls.push('UpdateUserPool');
      return {};
    });
    const reader = await snapshot(sameAccount(), DST_ROLE);
    await expect(
      restoreSnapshot(gw, reader, opts({ withoutTriggers: true, targetAccount: DST_ACCOUNT })),
    ).rejects.toMatchObject({
      name: 'CredentialsError',
      exitCode: 5,
      context: { operation: 'UpdateUserPool' },
    });
    const r = (await restoreSnapshot(
      gw,
      await snapshot(sameAccount(), DST_ROLE),
      opts({ targetAccount: DST_ACCOUNT }),
    )) as RestoreResult;
    expect(r.triggersAttached).toBe(true);
    expect(calls.filter((c) => c === 'UpdateUserPool')).toHaveLength(1);
    expect(calls.filter((c) => c === 'AdminCreateUser')).toHaveLength(3);
  });

  it('--dry-run shows the closing triggers phase and writes nothing', async () => {
    const plan = await restoreSnapshot(
      gw,
      await snapshot(sameAccount(), DST_ROLE),
      opts({ withoutTriggers: true, targetAccount: DST_ACCOUNT, dryRun: true }),
    );
    expect(plan.dryRun).toBe(true);
    if (plan.dryRun) expect(plan.phases.map((p) => p.phase)).toContain('triggers');
    expect(calls).toEqual([]);
  });

  it('is refused for an existing pool (exit 2): its triggers are its owner’s', async () => {
    const reader = await snapshot(sameAccount(), DST_ROLE);
    const err = await restoreSnapshot(
      gw,
      reader,
      opts({ target: { userPoolId: 'us-east-1_X' }, withoutTriggers: true }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(calls).toEqual([]);
  });
});
