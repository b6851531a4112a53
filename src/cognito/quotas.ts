/**
 * Amazon Cognito user pool API request-rate quotas: the one table in the code base.
 * Defaults are per account and Region, shared with every other caller (your production apps).
 * Source: "Quotas in Amazon Cognito" (see docs/performance.md and DEVELOPERS.md).
 */
export const QUOTA_CATEGORIES = {
  UserCreation: { rps: 50, perPoolOperationRps: undefined },
  UserRead: { rps: 120, perPoolOperationRps: undefined },
  UserUpdate: { rps: 25, perPoolOperationRps: undefined },
  UserResourceRead: { rps: 50, perPoolOperationRps: undefined },
  UserResourceUpdate: { rps: 25, perPoolOperationRps: undefined },
  UserList: { rps: 30, perPoolOperationRps: undefined },
  UserAccountRecovery: { rps: 30, perPoolOperationRps: undefined },
  UserPoolRead: { rps: 15, perPoolOperationRps: undefined },
  UserPoolUpdate: { rps: 15, perPoolOperationRps: undefined },
  UserPoolResourceRead: { rps: 20, perPoolOperationRps: 5 },
  UserPoolResourceUpdate: { rps: 15, perPoolOperationRps: 5 },
  UserPoolClientRead: { rps: 15, perPoolOperationRps: 5 },
  UserPoolClientUpdate: { rps: 15, perPoolOperationRps: 5 },
  /** Operations whose category AWS does not document; paced conservatively. */
  Unlisted: { rps: 5, perPoolOperationRps: undefined },
} as const satisfies Record<string, { rps: number; perPoolOperationRps: number | undefined }>;

export type QuotaCategory = keyof typeof QUOTA_CATEGORIES;

export const OPERATION_CATEGORY = {
  ListUsers: 'UserList',
  ListUsersInGroup: 'UserList',
  AdminCreateUser: 'UserCreation',
  SignUp: 'UserCreation',
  AdminConfirmSignUp: 'UserCreation',
  AdminResetUserPassword: 'UserAccountRecovery',
  AdminGetUser: 'UserRead',
  AdminAddUserToGroup: 'UserUpdate',
  AdminDisableUser: 'UserUpdate',
  AdminEnableUser: 'UserUpdate',
  AdminUpdateUserAttributes: 'UserUpdate',
  AdminLinkProviderForUser: 'UserUpdate',
  AdminDeleteUser: 'UserUpdate',
  AdminDeleteUserAttributes: 'UserUpdate',
  AdminRemoveUserFromGroup: 'UserUpdate',
  AdminListGroupsForUser: 'UserResourceRead',
  AdminSetUserMFAPreference: 'UserResourceUpdate',
  AdminSetUserPassword: 'UserAccountRecovery',
  DescribeUserPool: 'UserPoolRead',
  ListUserPools: 'UserPoolRead',
  CreateUserPool: 'UserPoolUpdate',
  UpdateUserPool: 'UserPoolUpdate',
  DeleteUserPool: 'UserPoolUpdate',
  ListGroups: 'UserPoolResourceRead',
  GetGroup: 'UserPoolResourceRead',
  GetCSVHeader: 'UserPoolResourceRead',
  GetUserPoolMfaConfig: 'UserPoolResourceRead',
  DescribeIdentityProvider: 'UserPoolResourceRead',
  ListIdentityProviders: 'UserPoolResourceRead',
  DescribeResourceServer: 'UserPoolResourceRead',
  ListResourceServers: 'UserPoolResourceRead',
  DescribeUserPoolDomain: 'UserPoolResourceRead',
  ListTagsForResource: 'UserPoolResourceRead',
  GetUICustomization: 'UserPoolResourceRead',
  DescribeManagedLoginBrandingByClient: 'UserPoolResourceRead',
  DescribeRiskConfiguration: 'UserPoolResourceRead',
  DescribeUserImportJob: 'UserPoolResourceRead',
  ListUserImportJobs: 'UserPoolResourceRead',
  AddCustomAttributes: 'UserPoolResourceUpdate',
  CreateGroup: 'UserPoolResourceUpdate',
  UpdateGroup: 'UserPoolResourceUpdate',
  UpdateIdentityProvider: 'UserPoolResourceUpdate',
  UpdateResourceServer: 'UserPoolResourceUpdate',
  CreateIdentityProvider: 'UserPoolResourceUpdate',
  CreateResourceServer: 'UserPoolResourceUpdate',
  CreateUserImportJob: 'UserPoolResourceUpdate',
  StartUserImportJob: 'UserPoolResourceUpdate',
  StopUserImportJob: 'UserPoolResourceUpdate',
  CreateUserPoolDomain: 'UserPoolResourceUpdate',
  SetUserPoolMfaConfig: 'UserPoolResourceUpdate',
  SetUICustomization: 'UserPoolResourceUpdate',
  CreateManagedLoginBranding: 'UserPoolResourceUpdate',
  SetRiskConfiguration: 'UserPoolResourceUpdate',
  TagResource: 'UserPoolResourceUpdate',
  DescribeUserPoolClient: 'UserPoolClientRead',
  ListUserPoolClients: 'UserPoolClientRead',
  CreateUserPoolClient: 'UserPoolClientUpdate',
  UpdateUserPoolClient: 'UserPoolClientUpdate',
  DeleteUserPoolClient: 'UserPoolClientUpdate',
  GetLogDeliveryConfiguration: 'Unlisted',
  SetLogDeliveryConfiguration: 'Unlisted',
  ListUserPoolClientSecrets: 'Unlisted',
} as const satisfies Record<string, QuotaCategory>;

export type CognitoOperation = keyof typeof OPERATION_CATEGORY;

export function categoryOf(op: CognitoOperation): QuotaCategory {
  return OPERATION_CATEGORY[op];
}

export function isQuotaCategory(name: string): name is QuotaCategory {
  return Object.hasOwn(QUOTA_CATEGORIES, name);
}
