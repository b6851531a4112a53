import { describe, expect, it } from 'vitest';
import { BACKUP_ACTIONS, iamPolicy } from '../../src/policy/iam.js';
import { OPERATION_CATEGORY } from '../../src/cognito/quotas.js';

const actionsOf = (p: ReturnType<typeof iamPolicy>): string[] =>
  p.Statement.flatMap((s) => s.Action);

describe('least-privilege IAM policies', () => {
  it('lets a backup read Cognito and nothing else', () => {
    const actions = actionsOf(iamPolicy('backup'));
    expect(actions.every((a) => /^cognito-idp:(Describe|List|Get)/.test(a))).toBe(true);
    expect(actions).toContain('cognito-idp:ListUsers');
    expect(actions).toContain('cognito-idp:ListUsersInGroup');
  });

  it('names only operations the gateway knows', () => {
    for (const a of BACKUP_ACTIONS) {
      expect(Object.hasOwn(OPERATION_CATEGORY, a.replace('cognito-idp:', '')), a).toBe(true);
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
    expect(actions.some((a) => /Delete|UpdateUserPool$/.test(a))).toBe(false);
  });

  it('scopes Cognito actions to the named pools and adds the snapshot bucket', () => {
    const arn = 'arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC';
    const p = iamPolicy('backup', { userPoolArns: [arn], s3Location: 's3://vault/cognito/' });
    expect(p.Statement.find((s) => s.Sid === 'CognitoUserPool')?.Resource).toEqual([arn]);
    expect(p.Statement.find((s) => s.Sid === 'SnapshotObjects')).toMatchObject({
      Resource: 'arn:aws:s3:::vault/cognito/*',
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
});
