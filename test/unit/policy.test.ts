import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { operationsOf } from '../../src/cognito/operations.js';
import { OPERATION_CATEGORY } from '../../src/cognito/quotas.js';
import {
  actionsOf,
  iamPolicy,
  importLogsRole,
  parseS3Location,
  policyKinds,
} from '../../src/policy/iam.js';

const ARN = 'arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC';
const statement = (p: ReturnType<typeof iamPolicy>, sid: string) =>
  p.Statement.find((s) => s.Sid === sid);

describe('least-privilege IAM policies', () => {
  it('lets a backup read Cognito and nothing else', () => {
    const actions = actionsOf(iamPolicy('backup'));
    expect(actions.every((a) => /^cognito-idp:(Describe|List|Get)/.test(a))).toBe(true);
    expect(actions).toContain('cognito-idp:ListUsers');
    expect(actions).toContain('cognito-idp:ListUsersInGroup');
  });

  it('names only operations the gateway knows (every one has a quota category)', () => {
    for (const kind of ['backup', 'restore'] as const) {
      for (const op of operationsOf(kind))
        expect(Object.hasOwn(OPERATION_CATEGORY, op), op).toBe(true);
    }
  });

  it('lets a restore create users but never delete them or the pool', () => {
    const actions = actionsOf(iamPolicy('restore'));
    expect(actions).toContain('cognito-idp:AdminCreateUser');
    expect(actions).toContain('cognito-idp:AdminAddUserToGroup');
    // The sign-in step (random permanent password); never a call that messages a user.
    expect(actions).toContain('cognito-idp:AdminSetUserPassword');
    expect(
      actions.some((a) => /ResetUserPassword|ResendConfirmationCode|ForgotPassword|SignUp/.test(a)),
    ).toBe(false);
    expect(actions.some((a) => /UpdateUserPool$/.test(a))).toBe(false);
    // The one Delete: a selective revert removes attributes a user gained since the snapshot
    // (AdminDeleteUserAttributes); no user, group, client, provider, server or pool is deleted.
    expect(actions.filter((a) => /Delete/.test(a))).toEqual([
      'cognito-idp:AdminDeleteUserAttributes',
    ]);
  });

  it('allows AdminGetUser (backup --user-mfa) and UpdateUserPool (restore --without-triggers) only when asked', () => {
    expect(actionsOf(iamPolicy('backup'))).not.toContain('cognito-idp:AdminGetUser');
    expect(actionsOf(iamPolicy('backup', { userMfa: true }))).toContain('cognito-idp:AdminGetUser');
    expect(actionsOf(iamPolicy('restore'))).not.toContain('cognito-idp:UpdateUserPool');
    expect(actionsOf(iamPolicy('restore', { withoutTriggers: true }))).toContain(
      'cognito-idp:UpdateUserPool',
    );
    // A --user-mfa snapshot's SMS/email preferences: every restore may meet one.
    expect(actionsOf(iamPolicy('restore'))).toContain('cognito-idp:AdminSetUserMFAPreference');
  });

  it('lets restore --create-pool find the pool it created (ListUserPools, account-wide)', () => {
    const p = iamPolicy('restore');
    expect(statement(p, 'CognitoAccount')).toMatchObject({
      Action: expect.arrayContaining(['cognito-idp:ListUserPools', 'cognito-idp:CreateUserPool']),
      Resource: '*',
    });
  });

  it('restore with --user-pool-arn: existing pools only, unless --create-pool is asked for', () => {
    const scoped = iamPolicy('restore', { userPoolArns: [ARN] });
    expect(statement(scoped, 'CognitoUserPool')?.Resource).toEqual([ARN]);
    expect(actionsOf(scoped)).not.toContain('cognito-idp:CreateUserPool');
    expect(statement(scoped, 'CognitoAccount')).toBeUndefined();

    const creating = iamPolicy('restore', { userPoolArns: [ARN], createPool: true });
    expect(statement(creating, 'CognitoAccount')?.Action).toEqual(
      expect.arrayContaining(['cognito-idp:CreateUserPool', 'cognito-idp:ListUserPools']),
    );
    // The new pool's ARN is unknown: its actions are allowed in the ARN's account and Region.
    expect(statement(creating, 'CognitoCreatedPool')).toMatchObject({
      Resource: 'arn:aws:cognito-idp:eu-west-1:123456789012:userpool/*',
      Action: expect.arrayContaining([
        'cognito-idp:AdminCreateUser',
        'cognito-idp:SetUserPoolMfaConfig',
      ]),
    });
    expect(() =>
      iamPolicy('restore', {
        userPoolArns: [ARN, 'arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_X'],
        createPool: true,
      }),
    ).toThrow(UsageError);
  });

  it('restore passes roles only to Cognito, scoped to the named roles or the account', () => {
    const p = iamPolicy('restore', { userPoolArns: [ARN] });
    expect(statement(p, 'PassRolesToCognito')).toEqual({
      Sid: 'PassRolesToCognito',
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: 'arn:aws:iam::123456789012:role/*',
      Condition: { StringEquals: { 'iam:PassedToService': 'cognito-idp.amazonaws.com' } },
    });
    const named = iamPolicy('restore', { passRoleArns: ['arn:aws:iam::1:role/sms'] });
    expect(statement(named, 'PassRolesToCognito')?.Resource).toEqual(['arn:aws:iam::1:role/sms']);
    expect(actionsOf(iamPolicy('backup'))).not.toContain('iam:PassRole');
  });

  it('scopes Cognito actions to the named pools and adds the snapshot bucket', () => {
    const p = iamPolicy('backup', { userPoolArns: [ARN], s3Location: 's3://vault/cognito/' });
    expect(statement(p, 'CognitoUserPool')?.Resource).toEqual([ARN]);
    // No --all with named pools: no account-wide ListUserPools.
    expect(actionsOf(p)).not.toContain('cognito-idp:ListUserPools');
    // DescribeUserPoolDomain names a domain, not a pool: it cannot be scoped to pool ARNs.
    expect(statement(p, 'CognitoAccount')).toMatchObject({
      Action: ['cognito-idp:DescribeUserPoolDomain'],
      Resource: '*',
    });
    expect(statement(p, 'SnapshotObjects')).toMatchObject({
      Resource: 'arn:aws:s3:::vault/cognito/*',
    });
    expect(statement(p, 'SnapshotBucket')).toMatchObject({
      Resource: 'arn:aws:s3:::vault',
      Condition: { StringLike: { 's3:prefix': ['cognito', 'cognito/*'] } },
    });
    // Deleting data needs --prune; a job may only remove its own lease objects (locks/).
    expect(p.Statement.find((s) => s.Sid === 'SnapshotObjects')?.Action).not.toContain(
      's3:DeleteObject',
    );
    expect(p.Statement.find((s) => s.Sid === 'SnapshotLeases')).toMatchObject({
      Action: ['s3:PutObject', 's3:DeleteObject'],
      Resource: 'arn:aws:s3:::vault/cognito/*/locks/*',
    });
    expect(
      actionsOf(iamPolicy('backup', { s3Location: 's3://vault/cognito', prune: true })),
    ).toContain('s3:DeleteObject');
    // restore writes nothing but its lease objects.
    expect(
      statement(iamPolicy('restore', { s3Location: 's3://vault' }), 'SnapshotObjects')?.Action,
    ).not.toContain('s3:PutObject');
  });

  it('refuses an --s3 location that is not s3://bucket[/prefix]', () => {
    for (const bad of [
      'bucket/x',
      'vault',
      's3://',
      's3:///x',
      'S3://Vault/x',
      'https://vault/x',
    ]) {
      expect(() => iamPolicy('backup', { s3Location: bad }), bad).toThrow(UsageError);
    }
    expect(parseS3Location('s3://vault')).toEqual({ bucket: 'vault', prefix: '' });
    expect(parseS3Location('s3://vault//a//b/')).toEqual({ bucket: 'vault', prefix: 'a/b' });
  });

  it('storage-only kinds need --s3, and SSE-KMS only adds the key actions each needs', () => {
    expect(policyKinds()).toEqual(expect.arrayContaining(['backup', 'restore', 'prune', 'verify']));
    expect(() => iamPolicy('verify')).toThrow(UsageError);
    const kms = 'arn:aws:kms:eu-west-1:123456789012:key/k';
    const verify = iamPolicy('verify', { s3Location: 's3://vault/x', kmsKeyArn: kms });
    expect(actionsOf(verify).filter((a) => a.startsWith('cognito-idp:'))).toEqual([]);
    // verify reads, and writes only its lease (a new data key for SSE-KMS).
    expect(statement(verify, 'SnapshotKey')?.Action).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey',
    ]);
    const backup = iamPolicy('backup', { s3Location: 's3://vault/x', kmsKeyArn: kms });
    expect(statement(backup, 'SnapshotKey')?.Action).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey',
    ]);
    expect(() => iamPolicy('nonsense')).toThrow(UsageError);
  });

  it('lets a restore hold a lease on the snapshot it reads, and nothing more in S3', () => {
    const p = iamPolicy('restore', {
      s3Location: 's3://vault/cognito',
      kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/k',
    });
    expect(p.Statement.find((s) => s.Sid === 'SnapshotObjects')?.Action).toEqual(['s3:GetObject']);
    expect(p.Statement.find((s) => s.Sid === 'SnapshotLeases')?.Resource).toBe(
      'arn:aws:s3:::vault/cognito/*/locks/*',
    );
    expect(p.Statement.find((s) => s.Sid === 'SnapshotKey')?.Action).toContain(
      'kms:GenerateDataKey',
    );
  });

  it('lets a restore run CSV import jobs: the import API, PassRole to Cognito only, job logs', () => {
    const p = iamPolicy('restore', { userPoolArns: [ARN] });
    const actions = actionsOf(p);
    for (const op of [
      'GetCSVHeader',
      'CreateUserImportJob',
      'StartUserImportJob',
      'DescribeUserImportJob',
      'ListUserImportJobs',
      'StopUserImportJob',
    ])
      expect(actions).toContain(`cognito-idp:${op}`);
    expect(statement(p, 'PassRolesToCognito')?.Condition).toEqual({
      StringEquals: { 'iam:PassedToService': 'cognito-idp.amazonaws.com' },
    });
    expect(statement(p, 'ImportJobResults')).toMatchObject({
      Action: ['logs:GetLogEvents', 'logs:FilterLogEvents'],
      Resource: 'arn:aws:logs:eu-west-1:123456789012:log-group:/aws/cognito/*',
    });
    expect(actionsOf(iamPolicy('backup')).some((a) => /ImportJob|PassRole|logs:/.test(a))).toBe(
      false,
    );
  });

  it('import-role: Cognito may assume it and write only the /aws/cognito/ log groups', () => {
    expect(policyKinds()).toContain('import-role');
    const r = importLogsRole({ region: 'eu-west-1', accountId: '123456789012' });
    expect(r.trustPolicy.Statement[0]).toMatchObject({
      Principal: { Service: 'cognito-idp.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
    });
    expect(r.permissionsPolicy.Statement[0]).toEqual({
      Sid: 'ImportJobLogs',
      Effect: 'Allow',
      Action: [
        'logs:CreateLogGroup',
        'logs:CreateLogStream',
        'logs:DescribeLogStreams',
        'logs:PutLogEvents',
      ],
      Resource: 'arn:aws:logs:eu-west-1:123456789012:log-group:/aws/cognito/*',
    });
    expect(importLogsRole().trustPolicy.Statement[0]).not.toHaveProperty('Condition');
    expect(iamPolicy('import-role')).toEqual(importLogsRole().permissionsPolicy);
  });
});
