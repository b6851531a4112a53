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
 * Where each value comes from (re-checked 2026-12-07 against stored copies; no live fetch):
 * - Category rates (RPS): CONFIRMED twice. (1) The archived page's table (limits.md above), whose
 *   "Default quota (RPS)" column reads UserAuthentication 120, UserCreation 50, UserFederation 25,
 *   UserAccountRecovery 30, UserRead 120, UserUpdate 25, UserToken 120, UserResourceRead 50,
 *   UserResourceUpdate 25, UserList 30, UserPoolRead 15, UserPoolUpdate 15, UserPoolResourceRead
 *   20, UserPoolResourceUpdate 15, UserPoolClientRead 15, UserPoolClientUpdate 15 (and
 *   ClientAuthentication 150: the token endpoint's client_credentials grant, no API operation,
 *   not modelled). (2) The Service Quotas defaults for cognito-idp ("Rate of <Category> requests"
 *   quotas, e.g. L-6621E65D UserUpdate 25, L-259E3368 UserList 30), which agree value for value.
 * - perPoolOperationRps 5: CONFIRMED. Footnote 1 of the page's table ("Any individual operation
 *   in this category has a constraint that prevents the operation from being called at a rate
 *   higher than 5 RPS for a single user pool") marks exactly UserPoolResourceRead,
 *   UserPoolResourceUpdate, UserPoolClientRead and UserPoolClientUpdate; Service Quotas has a
 *   "... requests per user pool" quota of 5 for exactly those four.
 * - UserCreation's and UserAuthentication's members: CONFIRMED, quoted in the page's prose ("the
 *   category UserCreation includes four operations: SignUp, ConfirmSignUp, AdminCreateUser, and
 *   AdminConfirmSignUp"; "The UserAuthentication category includes four operations:
 *   AdminInitiateAuth, InitiateAuth, AdminRespondToAuthChallenge, and RespondToAuthChallenge").
 * - Every other category's operation list: NOT CONFIRMED. Every stored copy reachable here (the
 *   archived markdown, the live page's search excerpts) elides the operations column ("See the AWS
 *   documentation website for more details"). What the copies do say is each category's
 *   description, and the lists below fit them, with one open question: the page describes
 *   UserResourceUpdate as "Operations that update resource information for a user, such as a
 *   remembered device or a group membership" (UserResourceRead likewise: "...such as a remembered
 *   device or a group membership", which fits AdminListGroupsForUser there), while this table,
 *   like src, puts AdminAddUserToGroup and AdminRemoveUserFromGroup in UserUpdate ("Operations
 *   that you use to manage users and user attributes"). Both categories are 25 RPS, so a wrong
 *   guess changes which budget a restore's membership writes share, not their rate. A third-party
 *   emulator's map of the adjustable categories' members (not AWS; it says nothing of the
 *   non-adjustable ones) agrees with the lists below for each operation both name (AdminGetUser,
 *   AdminListGroupsForUser, the devices, auth and creation calls), and puts
 *   GetTokensFromRefreshToken (not sent by us) under UserAuthentication, not UserToken.
 *   Re-check these lists against the live page, and whenever AWS adds operations.
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
