/**
 * Least-privilege IAM policies for the two jobs. Backup only reads Cognito (and writes the
 * snapshot bucket); restore writes a pool and reads the snapshot.
 */
export const BACKUP_ACTIONS = [
  'cognito-idp:DescribeUserPool',
  'cognito-idp:ListUserPools',
  'cognito-idp:GetUserPoolMfaConfig',
  'cognito-idp:DescribeUserPoolDomain',
  'cognito-idp:ListTagsForResource',
  'cognito-idp:GetUICustomization',
  'cognito-idp:GetLogDeliveryConfiguration',
  'cognito-idp:DescribeRiskConfiguration',
  'cognito-idp:ListUserPoolClients',
  'cognito-idp:DescribeUserPoolClient',
  'cognito-idp:ListIdentityProviders',
  'cognito-idp:DescribeIdentityProvider',
  'cognito-idp:ListResourceServers',
  'cognito-idp:ListGroups',
  'cognito-idp:ListUsers',
  'cognito-idp:ListUsersInGroup',
] as const;

export const RESTORE_ACTIONS = [
  'cognito-idp:DescribeUserPool',
  'cognito-idp:CreateUserPool',
  'cognito-idp:SetUserPoolMfaConfig',
  'cognito-idp:CreateUserPoolDomain',
  'cognito-idp:TagResource',
  'cognito-idp:ListUsers',
  'cognito-idp:ListGroups',
  'cognito-idp:CreateGroup',
  'cognito-idp:ListResourceServers',
  'cognito-idp:CreateResourceServer',
  'cognito-idp:ListIdentityProviders',
  'cognito-idp:DescribeIdentityProvider',
  'cognito-idp:CreateIdentityProvider',
  'cognito-idp:ListUserPoolClients',
  'cognito-idp:DescribeUserPoolClient',
  'cognito-idp:CreateUserPoolClient',
  'cognito-idp:AdminCreateUser',
  'cognito-idp:AdminSetUserPassword',
  'cognito-idp:AdminGetUser',
  'cognito-idp:AdminDisableUser',
  'cognito-idp:AdminAddUserToGroup',
  'cognito-idp:AdminLinkProviderForUser',
] as const;

export interface PolicyOptions {
  /** Restrict Cognito actions to these pool ARNs (default: every pool in the account). */
  userPoolArns?: string[];
  /** S3 location of snapshots, s3://bucket/prefix, to add object permissions for. */
  s3Location?: string;
  /** KMS key ARN used for the snapshot bucket's SSE-KMS. */
  kmsKeyArn?: string;
  /** The job also prunes old snapshots (prune command, Lambda retention): s3:DeleteObject. */
  prune?: boolean;
}

type Statement = { Sid: string; Effect: 'Allow'; Action: string[]; Resource: string | string[] };

export function iamPolicy(
  kind: 'backup' | 'restore',
  opts: PolicyOptions = {},
): { Version: string; Statement: Statement[] } {
  const actions: string[] = [...(kind === 'backup' ? BACKUP_ACTIONS : RESTORE_ACTIONS)];
  const poolResource = opts.userPoolArns?.length
    ? opts.userPoolArns
    : 'arn:aws:cognito-idp:*:*:userpool/*';
  // ListUserPools and CreateUserPool are not resource-scoped.
  const unscoped: string[] = actions.filter(
    (a) => a === 'cognito-idp:ListUserPools' || a === 'cognito-idp:CreateUserPool',
  );
  const scoped = actions.filter((a) => !unscoped.includes(a));
  const statements: Statement[] = [
    { Sid: 'CognitoUserPool', Effect: 'Allow', Action: scoped, Resource: poolResource },
  ];
  if (unscoped.length)
    statements.push({ Sid: 'CognitoAccount', Effect: 'Allow', Action: unscoped, Resource: '*' });
  const s3 = opts.s3Location ? /^s3:\/\/([^/]+)\/?(.*)$/.exec(opts.s3Location) : null;
  if (s3?.[1]) {
    const bucket = s3[1];
    const prefix = (s3[2] ?? '').replace(/\/+$/, '');
    const objects = `arn:aws:s3:::${bucket}/${prefix ? `${prefix}/` : ''}*`;
    statements.push({
      Sid: 'SnapshotObjects',
      Effect: 'Allow',
      Action:
        kind === 'backup'
          ? [
              's3:PutObject',
              's3:GetObject',
              's3:AbortMultipartUpload',
              ...(opts.prune ? ['s3:DeleteObject'] : []),
            ]
          : ['s3:GetObject'],
      Resource: objects,
    });
    // Leases (docs/format.md#leases): every job writes and removes its own lock objects, so a
    // read-only restore still keeps prune off the snapshot it reads.
    statements.push({
      Sid: 'SnapshotLeases',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:DeleteObject'],
      Resource: `arn:aws:s3:::${bucket}/${prefix ? `${prefix}/` : ''}*/locks/*`,
    });
    statements.push({
      Sid: 'SnapshotBucket',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: `arn:aws:s3:::${bucket}`,
    });
  }
  if (opts.kmsKeyArn) {
    statements.push({
      Sid: 'SnapshotKey',
      Effect: 'Allow',
      // Restore writes lease objects too, which SSE-KMS encrypts with a new data key.
      Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
      Resource: opts.kmsKeyArn,
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}
