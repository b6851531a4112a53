/**
 * Amazon Cognito's user pool request-rate quotas, pinned here as literals for the test doubles
 * (test/support/quota-proxy.ts). Deliberately NOT imported from src/cognito/quotas.ts: a proxy
 * that took the product's table would never throttle an operation the product miscategorised.
 * test/unit/quota-table.test.ts compares the two, operation by operation.
 *
 * Source: "Quotas in Amazon Cognito", section "Amazon Cognito user pools API operation categories
 * and request rate quotas":
 *   https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html#category_operations
 * (earlier revision: https://docs.aws.amazon.com/cognito/latest/developerguide/limits.html, kept
 * as awsdocs/amazon-cognito-developer-guide doc_source/limits.md).
 *
 * - Rates, "*"-marked categories (5 RPS per operation per user pool) and the UserCreation and
 *   UserAuthentication members are quoted from the page's text.
 * - The other categories' operation lists are written from the page's table as we know it. NOT
 *   verified against a stored copy: the copies reachable here (the archived markdown, search
 *   excerpts) elide that column ("See the AWS documentation website"). Re-check them against the
 *   live page, and whenever AWS adds operations.
 * - Operations the page does not list at all are in NOT_LISTED: the proxy does not throttle them
 *   (what AWS does there is not documented), the product paces them conservatively.
 */
export const DOCUMENTED_QUOTAS = {
  UserAuthentication: { rps: 120, perPoolOperationRps: undefined },
  UserCreation: { rps: 50, perPoolOperationRps: undefined },
  UserFederation: { rps: 25, perPoolOperationRps: undefined },
  UserAccountRecovery: { rps: 30, perPoolOperationRps: undefined },
  UserRead: { rps: 120, perPoolOperationRps: undefined },
  UserUpdate: { rps: 25, perPoolOperationRps: undefined },
  UserResourceRead: { rps: 50, perPoolOperationRps: undefined },
  UserResourceUpdate: { rps: 25, perPoolOperationRps: undefined },
  UserList: { rps: 30, perPoolOperationRps: undefined },
  UserPoolRead: { rps: 15, perPoolOperationRps: undefined },
  UserPoolUpdate: { rps: 15, perPoolOperationRps: undefined },
  UserPoolResourceRead: { rps: 20, perPoolOperationRps: 5 },
  UserPoolResourceUpdate: { rps: 15, perPoolOperationRps: 5 },
  UserPoolClientRead: { rps: 15, perPoolOperationRps: 5 },
  UserPoolClientUpdate: { rps: 15, perPoolOperationRps: 5 },
  UserToken: { rps: 120, perPoolOperationRps: undefined },
} as const;

export type DocumentedCategory = keyof typeof DOCUMENTED_QUOTAS;

const OPERATIONS_BY_CATEGORY: Record<DocumentedCategory, readonly string[]> = {
  UserAuthentication: [
    'AdminInitiateAuth',
    'AdminRespondToAuthChallenge',
    'InitiateAuth',
    'RespondToAuthChallenge',
  ],
  UserCreation: ['AdminConfirmSignUp', 'AdminCreateUser', 'ConfirmSignUp', 'SignUp'],
  UserFederation: [],
  UserAccountRecovery: [
    'AdminResetUserPassword',
    'AdminSetUserPassword',
    'ChangePassword',
    'ConfirmForgotPassword',
    'ForgotPassword',
  ],
  UserRead: ['AdminGetUser', 'GetUser'],
  UserUpdate: [
    'AdminAddUserToGroup',
    'AdminDeleteUser',
    'AdminDeleteUserAttributes',
    'AdminDisableProviderForUser',
    'AdminDisableUser',
    'AdminEnableUser',
    'AdminLinkProviderForUser',
    'AdminRemoveUserFromGroup',
    'AdminUpdateUserAttributes',
    'DeleteUser',
    'DeleteUserAttributes',
    'UpdateUserAttributes',
    'VerifyUserAttribute',
  ],
  UserResourceRead: [
    'AdminGetDevice',
    'AdminListDevices',
    'AdminListGroupsForUser',
    'AdminListUserAuthEvents',
    'GetDevice',
    'ListDevices',
  ],
  UserResourceUpdate: [
    'AdminForgetDevice',
    'AdminSetUserMFAPreference',
    'AdminSetUserSettings',
    'AdminUpdateAuthEventFeedback',
    'AdminUpdateDeviceStatus',
    'ConfirmDevice',
    'ForgetDevice',
    'SetUserMFAPreference',
    'SetUserSettings',
    'UpdateAuthEventFeedback',
    'UpdateDeviceStatus',
  ],
  UserList: ['ListUsers', 'ListUsersInGroup'],
  UserPoolRead: ['DescribeUserPool', 'ListUserPools'],
  UserPoolUpdate: ['CreateUserPool', 'DeleteUserPool', 'UpdateUserPool'],
  UserPoolResourceRead: [
    'DescribeIdentityProvider',
    'DescribeManagedLoginBranding',
    'DescribeManagedLoginBrandingByClient',
    'DescribeResourceServer',
    'DescribeRiskConfiguration',
    'DescribeUserImportJob',
    'DescribeUserPoolDomain',
    'GetCSVHeader',
    'GetGroup',
    'GetIdentityProviderByIdentifier',
    'GetSigningCertificate',
    'GetUICustomization',
    'GetUserPoolMfaConfig',
    'ListGroups',
    'ListIdentityProviders',
    'ListResourceServers',
    'ListTagsForResource',
    'ListUserImportJobs',
  ],
  UserPoolResourceUpdate: [
    'AddCustomAttributes',
    'CreateGroup',
    'CreateIdentityProvider',
    'CreateManagedLoginBranding',
    'CreateResourceServer',
    'CreateUserImportJob',
    'CreateUserPoolDomain',
    'DeleteGroup',
    'DeleteIdentityProvider',
    'DeleteManagedLoginBranding',
    'DeleteResourceServer',
    'DeleteUserPoolDomain',
    'SetRiskConfiguration',
    'SetUICustomization',
    'SetUserPoolMfaConfig',
    'StartUserImportJob',
    'StopUserImportJob',
    'TagResource',
    'UntagResource',
    'UpdateGroup',
    'UpdateIdentityProvider',
    'UpdateManagedLoginBranding',
    'UpdateResourceServer',
    'UpdateUserPoolDomain',
  ],
  UserPoolClientRead: ['DescribeUserPoolClient', 'ListUserPoolClients'],
  UserPoolClientUpdate: ['CreateUserPoolClient', 'DeleteUserPoolClient', 'UpdateUserPoolClient'],
  UserToken: ['GetTokensFromRefreshToken', 'RevokeToken'],
};

/** Operations cognito-vault sends that the page does not place in any category. */
export const NOT_LISTED: readonly string[] = [
  'GetLogDeliveryConfiguration',
  'SetLogDeliveryConfiguration',
  'ListUserPoolClientSecrets',
];

/** Operation → category, as the page documents it. */
export const DOCUMENTED_OPERATION_CATEGORY: Readonly<Record<string, DocumentedCategory>> =
  Object.fromEntries(
    (Object.entries(OPERATIONS_BY_CATEGORY) as [DocumentedCategory, readonly string[]][]).flatMap(
      ([category, ops]) => ops.map((op) => [op, category] as const),
    ),
  );
