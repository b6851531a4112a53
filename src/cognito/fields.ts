import type {
  AssetType,
  CreateGroupCommandInput,
  CreateManagedLoginBrandingCommandInput,
  CreateIdentityProviderCommandInput,
  CreateResourceServerCommandInput,
  CreateUserPoolClientCommandInput,
  CreateUserPoolCommandInput,
  GetUserPoolMfaConfigResponse,
  GroupType,
  IdentityProviderType,
  LogDeliveryConfigurationType,
  ManagedLoginBrandingType,
  ResourceServerType,
  RiskConfigurationType,
  SetLogDeliveryConfigurationCommandInput,
  SetRiskConfigurationCommandInput,
  SetUICustomizationCommandInput,
  SetUserPoolMfaConfigCommandInput,
  UICustomizationType,
  UpdateUserPoolCommandInput,
  UserPoolClientType,
  UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { opt } from '../core/options.js';

/**
 * The field lists restore writes and compare checks, in one place, with a compile-time check
 * that every member the SDK's create requests accept — and every member its describe answers
 * return — is either copied or deliberately excluded with a reason. An SDK upgrade that adds a
 * field breaks the build here until someone decides what to do with it (docs/format.md holds the
 * same table for people).
 */

/** A compile-time assertion: `Missing` must be `never`, else the constant's type names it. */
type Complete<Missing> = [Missing] extends [never] ? true : { missing: Missing };

// ---- user pool -----------------------------------------------------------------------------

/** DescribeUserPool fields CreateUserPool accepts under the same name: copied as they are. */
export const CREATE_POOL_KEYS = [
  'Policies',
  'DeletionProtection',
  'LambdaConfig',
  'AutoVerifiedAttributes',
  'AliasAttributes',
  'UsernameAttributes',
  'SmsVerificationMessage',
  'EmailVerificationMessage',
  'EmailVerificationSubject',
  'VerificationMessageTemplate',
  'SmsAuthenticationMessage',
  'MfaConfiguration',
  'UserAttributeUpdateSettings',
  'DeviceConfiguration',
  'EmailConfiguration',
  'SmsConfiguration',
  'UserPoolTags',
  'AdminCreateUserConfig',
  'UserPoolAddOns',
  'UsernameConfiguration',
  'AccountRecoverySetting',
  'UserPoolTier',
  'KeyConfiguration',
  'IssuerConfiguration',
  'DcrConfiguration',
  'AcrConfiguration',
] as const satisfies readonly (keyof CreateUserPoolCommandInput & keyof UserPoolType)[];

/** CreateUserPool members not copied by name, and why. */
export const CREATE_POOL_DERIVED = {
  PoolName: `the new pool name (${opt('target.createPool')} NAME), not the snapshot pool name`,
  Schema:
    'built from DescribeUserPool SchemaAttributes: custom attributes, and standard ones whose settings differ from the defaults',
} as const satisfies Partial<Record<keyof CreateUserPoolCommandInput, string>>;

/** DescribeUserPool fields a restore does not send to CreateUserPool, and why. */
export const POOL_NOT_COPIED = {
  Id: 'output only: the new pool has a new id',
  Arn: 'output only: the new pool has a new ARN',
  Name: 'sent as PoolName',
  SchemaAttributes: 'sent as Schema',
  Status: 'output only (deprecated)',
  CreationDate: 'output only',
  LastModifiedDate: 'output only',
  EstimatedNumberOfUsers: 'output only: the users are restored one by one',
  SmsConfigurationFailure: 'output only: Cognito reports the state of the SMS role',
  EmailConfigurationFailure: 'output only: Cognito reports the state of the SES identity',
  Domain: `created by CreateUserPoolDomain with ${opt('domain')} PREFIX (domain prefixes are global)`,
  CustomDomain: 'not created: a custom domain needs a certificate and DNS owned by the operator',
} as const satisfies Partial<Record<keyof UserPoolType, string>>;

export const POOL_CREATE_COMPLETE: Complete<
  Exclude<
    keyof CreateUserPoolCommandInput,
    (typeof CREATE_POOL_KEYS)[number] | keyof typeof CREATE_POOL_DERIVED
  >
> = true;
export const POOL_READ_COMPLETE: Complete<
  Exclude<keyof UserPoolType, (typeof CREATE_POOL_KEYS)[number] | keyof typeof POOL_NOT_COPIED>
> = true;

/**
 * CreateUserPool settings that cannot change once the pool exists ("After you create a user
 * pool, you can't change this setting"; case sensitivity "is immutable"): UpdateUserPool has no
 * such member.
 */
export const CREATE_ONLY_POOL_KEYS = [
  'AliasAttributes',
  'UsernameAttributes',
  'UsernameConfiguration',
] as const;

type UpdatePoolKey = Exclude<
  (typeof CREATE_POOL_KEYS)[number],
  (typeof CREATE_ONLY_POOL_KEYS)[number]
>;

/**
 * DescribeUserPool fields UpdateUserPool accepts under the same name: the create keys less the
 * create-only ones. UpdateUserPool resets every member it omits, so a whole-settings update
 * (restore --without-triggers) sends all of them.
 */
export const UPDATE_POOL_KEYS: readonly UpdatePoolKey[] = CREATE_POOL_KEYS.filter(
  (k): k is UpdatePoolKey => !(CREATE_ONLY_POOL_KEYS as readonly string[]).includes(k),
);

/** UpdateUserPool members not copied by name, and where they come from. */
export const UPDATE_POOL_DERIVED = {
  UserPoolId: 'the target pool',
  PoolName: "DescribeUserPool's Name (unchanged)",
} as const satisfies Partial<Record<keyof UpdateUserPoolCommandInput, string>>;

export const UPDATE_POOL_VALID: Complete<Exclude<UpdatePoolKey, keyof UpdateUserPoolCommandInput>> =
  true;
export const UPDATE_POOL_COMPLETE: Complete<
  Exclude<keyof UpdateUserPoolCommandInput, UpdatePoolKey | keyof typeof UPDATE_POOL_DERIVED>
> = true;

// ---- MFA -----------------------------------------------------------------------------------

/** GetUserPoolMfaConfig fields SetUserPoolMfaConfig accepts (same names). */
export const MFA_KEYS = [
  'MfaConfiguration',
  'SmsMfaConfiguration',
  'SoftwareTokenMfaConfiguration',
  'EmailMfaConfiguration',
  'WebAuthnConfiguration',
] as const satisfies readonly (keyof GetUserPoolMfaConfigResponse &
  keyof SetUserPoolMfaConfigCommandInput)[];

export const MFA_COMPLETE: Complete<
  Exclude<
    | keyof GetUserPoolMfaConfigResponse
    | Exclude<keyof SetUserPoolMfaConfigCommandInput, 'UserPoolId'>,
    (typeof MFA_KEYS)[number] | '$metadata'
  >
> = true;

// ---- app clients ---------------------------------------------------------------------------

/** DescribeUserPoolClient fields CreateUserPoolClient takes under the same name. */
export const CREATE_CLIENT_KEYS = [
  'ClientName',
  'RefreshTokenValidity',
  'AccessTokenValidity',
  'IdTokenValidity',
  'TokenValidityUnits',
  'ReadAttributes',
  'WriteAttributes',
  'ExplicitAuthFlows',
  'SupportedIdentityProviders',
  'CallbackURLs',
  'LogoutURLs',
  'DefaultRedirectURI',
  'AllowedOAuthFlows',
  'AllowedOAuthScopes',
  'AllowedOAuthFlowsUserPoolClient',
  'AnalyticsConfiguration',
  'PreventUserExistenceErrors',
  'EnableTokenRevocation',
  'EnablePropagateAdditionalUserContextData',
  'AuthSessionValidity',
  'RefreshTokenRotation',
] as const satisfies readonly (keyof CreateUserPoolClientCommandInput & keyof UserPoolClientType)[];

export const CREATE_CLIENT_DERIVED = {
  UserPoolId: 'the target pool',
  ClientSecret: `the captured secret (${opt('includeSecrets')}) when it passes the model check (24–64 of [\\w+]); otherwise a new one is generated and the restore reports it`,
  GenerateSecret: 'true when the client had a secret that cannot be restored as it was',
} as const satisfies Partial<Record<keyof CreateUserPoolClientCommandInput, string>>;

export const CLIENT_NOT_COPIED = {
  UserPoolId: 'the target pool',
  ClientId: 'output only: Cognito assigns a new client id (see the client map)',
  ClientSecret: 'sent as ClientSecret or GenerateSecret (see above)',
  CreationDate: 'output only',
  LastModifiedDate: 'output only',
  ClientType:
    'output only: CreateUserPoolClient has no such member; Cognito sets it (compared, so a difference is reported)',
} as const satisfies Partial<Record<keyof UserPoolClientType, string>>;

export const CLIENT_CREATE_COMPLETE: Complete<
  Exclude<
    keyof CreateUserPoolClientCommandInput,
    (typeof CREATE_CLIENT_KEYS)[number] | keyof typeof CREATE_CLIENT_DERIVED
  >
> = true;
export const CLIENT_READ_COMPLETE: Complete<
  Exclude<
    keyof UserPoolClientType,
    (typeof CREATE_CLIENT_KEYS)[number] | keyof typeof CLIENT_NOT_COPIED
  >
> = true;

/** Client fields compare checks: what restore writes, plus the output-only ClientType. */
export const COMPARED_CLIENT_KEYS = [
  ...CREATE_CLIENT_KEYS.filter((k) => k !== 'ClientName'),
  'ClientType',
] as const;

// ---- identity providers, resource servers, groups ------------------------------------------

/** DescribeIdentityProvider fields CreateIdentityProvider takes (ProviderDetails: see below). */
export const CREATE_IDP_KEYS = [
  'ProviderName',
  'ProviderType',
  'ProviderDetails',
  'AttributeMapping',
  'IdpIdentifiers',
  'AcrMapping',
] as const satisfies readonly (keyof CreateIdentityProviderCommandInput &
  keyof IdentityProviderType)[];

export const IDP_NOT_COPIED = {
  UserPoolId: 'the target pool',
  CreationDate: 'output only',
  LastModifiedDate: 'output only',
} as const satisfies Partial<Record<keyof IdentityProviderType, string>>;

/** ProviderDetails keys DescribeIdentityProvider returns that CreateIdentityProvider refuses. */
export const IDP_DETAILS_OUTPUT_ONLY = ['ActiveEncryptionCertificate'] as const;

export const IDP_CREATE_COMPLETE: Complete<
  Exclude<keyof CreateIdentityProviderCommandInput, (typeof CREATE_IDP_KEYS)[number] | 'UserPoolId'>
> = true;
export const IDP_READ_COMPLETE: Complete<
  Exclude<
    keyof IdentityProviderType,
    (typeof CREATE_IDP_KEYS)[number] | keyof typeof IDP_NOT_COPIED
  >
> = true;

export const CREATE_RESOURCE_SERVER_KEYS = [
  'Identifier',
  'Name',
  'Scopes',
] as const satisfies readonly (keyof CreateResourceServerCommandInput & keyof ResourceServerType)[];

export const RESOURCE_SERVER_NOT_COPIED = {
  UserPoolId: 'the target pool',
  ManagedBy:
    'output only: resource servers Cognito manages itself are created by Cognito, not by CreateResourceServer (restore skips them)',
} as const satisfies Partial<Record<keyof ResourceServerType, string>>;

export const RESOURCE_SERVER_COMPLETE: Complete<
  Exclude<
    keyof CreateResourceServerCommandInput | keyof ResourceServerType,
    (typeof CREATE_RESOURCE_SERVER_KEYS)[number] | keyof typeof RESOURCE_SERVER_NOT_COPIED
  >
> = true;

export const CREATE_GROUP_KEYS = [
  'GroupName',
  'Description',
  'Precedence',
  'RoleArn',
] as const satisfies readonly (keyof CreateGroupCommandInput & keyof GroupType)[];

export const GROUP_NOT_COPIED = {
  UserPoolId: 'the target pool',
  CreationDate: 'output only',
  LastModifiedDate: 'output only',
} as const satisfies Partial<Record<keyof GroupType, string>>;

export const GROUP_COMPLETE: Complete<
  Exclude<
    keyof CreateGroupCommandInput | keyof GroupType,
    (typeof CREATE_GROUP_KEYS)[number] | keyof typeof GROUP_NOT_COPIED
  >
> = true;

// ---- settings set after CreateUserPool (src/restore/pool/settings.ts) ---------------------------

/** DescribeRiskConfiguration fields SetRiskConfiguration takes (ClientId: only the pool's). */
export const RISK_KEYS = [
  'CompromisedCredentialsRiskConfiguration',
  'AccountTakeoverRiskConfiguration',
  'RiskExceptionConfiguration',
] as const satisfies readonly (keyof SetRiskConfigurationCommandInput &
  keyof RiskConfigurationType)[];

export const RISK_COMPLETE: Complete<
  Exclude<
    keyof SetRiskConfigurationCommandInput,
    (typeof RISK_KEYS)[number] | 'UserPoolId' | 'ClientId'
  >
> = true;

/** GetUICustomization → SetUICustomization: `CSS` as is, `ImageUrl` → the logo's bytes. */
export const UI_KEYS = ['CSS'] as const satisfies readonly (keyof SetUICustomizationCommandInput &
  keyof UICustomizationType)[];

export const UI_COMPLETE: Complete<
  Exclude<
    keyof SetUICustomizationCommandInput,
    (typeof UI_KEYS)[number] | 'UserPoolId' | 'ClientId' | 'ImageFile'
  >
> = true;

/** GetLogDeliveryConfiguration → SetLogDeliveryConfiguration (same names). */
export const LOG_DELIVERY_KEYS = [
  'LogConfigurations',
] as const satisfies readonly (keyof SetLogDeliveryConfigurationCommandInput &
  keyof LogDeliveryConfigurationType)[];

export const LOG_DELIVERY_COMPLETE: Complete<
  Exclude<
    keyof SetLogDeliveryConfigurationCommandInput,
    (typeof LOG_DELIVERY_KEYS)[number] | 'UserPoolId'
  >
> = true;

// ---- per app client settings (src/restore/resources/client-settings.ts) ------------------------------

/**
 * DescribeManagedLoginBrandingByClient → CreateManagedLoginBranding: the style's members,
 * under the same names (UseCognitoProvidedValues alone, or Settings and Assets).
 */
export const BRANDING_KEYS = [
  'UseCognitoProvidedValues',
  'Settings',
  'Assets',
] as const satisfies readonly (keyof CreateManagedLoginBrandingCommandInput &
  keyof ManagedLoginBrandingType)[];

export const BRANDING_NOT_COPIED = {
  UserPoolId: 'the target pool',
  ClientId: "the restored client's new id (the client id map)",
  ManagedLoginBrandingId: 'output only: Cognito assigns a new id',
  CreationDate: 'output only',
  LastModifiedDate: 'output only',
} as const satisfies Partial<
  Record<keyof CreateManagedLoginBrandingCommandInput | keyof ManagedLoginBrandingType, string>
>;

export const BRANDING_COMPLETE: Complete<
  Exclude<
    keyof CreateManagedLoginBrandingCommandInput | keyof ManagedLoginBrandingType,
    (typeof BRANDING_KEYS)[number] | keyof typeof BRANDING_NOT_COPIED
  >
> = true;

/** A branding asset's members, all sent back (Bytes decoded from the snapshot's base64). */
export const ASSET_KEYS = [
  'Category',
  'ColorMode',
  'Extension',
  'Bytes',
  'ResourceId',
] as const satisfies readonly (keyof AssetType)[];

export const ASSET_COMPLETE: Complete<Exclude<keyof AssetType, (typeof ASSET_KEYS)[number]>> = true;

// ---- every document restore writes, and how compare checks it ------------------------------

/**
 * What a restore writes, document by document: the operation and the fields it sends (the
 * constants above, which the restore code itself copies from). `compare` must report a change
 * of any of them; test/unit/fields.test.ts derives its cases from this table, so a field or a
 * document added here that compare does not check fails the test. `notCompared` names what
 * compare cannot read back, with the reason.
 */
export const RESTORE_WRITES = {
  pool: { operation: 'CreateUserPool', fields: CREATE_POOL_KEYS },
  mfa: { operation: 'SetUserPoolMfaConfig', fields: MFA_KEYS },
  uiCustomization: { operation: 'SetUICustomization', fields: [...UI_KEYS, 'ImageFile'] },
  riskConfiguration: { operation: 'SetRiskConfiguration', fields: RISK_KEYS },
  logDelivery: { operation: 'SetLogDeliveryConfiguration', fields: LOG_DELIVERY_KEYS },
  domain: { operation: 'CreateUserPoolDomain', fields: ['ManagedLoginVersion'] },
  client: { operation: 'CreateUserPoolClient', fields: [...CREATE_CLIENT_KEYS, 'ClientSecret'] },
  clientUICustomization: {
    operation: 'SetUICustomization (ClientId)',
    fields: [...UI_KEYS, 'ImageFile'],
  },
  clientRiskConfiguration: { operation: 'SetRiskConfiguration (ClientId)', fields: RISK_KEYS },
  managedLoginBranding: { operation: 'CreateManagedLoginBranding', fields: BRANDING_KEYS },
  identityProvider: { operation: 'CreateIdentityProvider', fields: CREATE_IDP_KEYS },
  resourceServer: { operation: 'CreateResourceServer', fields: CREATE_RESOURCE_SERVER_KEYS },
  group: { operation: 'CreateGroup', fields: CREATE_GROUP_KEYS },
  user: {
    operation: 'AdminCreateUser, AdminDisableUser, AdminLinkProviderForUser',
    fields: ['Attributes', 'Enabled', 'identities'],
  },
  membership: { operation: 'AdminAddUserToGroup', fields: ['GroupName'] },
  userMfa: {
    operation: 'AdminSetUserMFAPreference',
    fields: ['SMSMfaSettings', 'EmailMfaSettings'],
  },
} as const satisfies Record<string, { operation: string; fields: readonly string[] }>;

/**
 * Fields restore writes that compare cannot check, and why. Kept short on purpose: each entry
 * is a blind spot shared by restore and compare.
 */
export const WRITTEN_NOT_COMPARED: Partial<
  Record<keyof typeof RESTORE_WRITES, Record<string, string>>
> = {
  client: {
    ClientSecret:
      'compared as "has a secret": a value is never read back into a comparison (it would have to be held in memory next to user data), and a redacted snapshot has none',
  },
  uiCustomization: {
    ImageFile:
      'compared as "has a logo": each pool serves its logo from its own URL, and the bytes are not downloaded again',
  },
  clientUICustomization: {
    ImageFile:
      'compared as "has a logo": each pool serves its logo from its own URL, and the bytes are not downloaded again',
  },
};

/**
 * Documents compare checks only when asked, because checking costs money: per-user MFA
 * preferences are read back with AdminGetUser per user (ListUsers does not return them), each a
 * billed monthly active user — compare's `userMfa` option, `diff --user-mfa`.
 */
export const COMPARED_ON_REQUEST: readonly (keyof typeof RESTORE_WRITES)[] = ['userMfa'];

// ---- what a comparison looks at (src/compare) ----------------------------------------------

/** Pool settings compared: every field restore copies into CreateUserPool. */
export const COMPARED_POOL_KEYS: readonly (typeof CREATE_POOL_KEYS)[number][] = CREATE_POOL_KEYS;

/** GetUserPoolMfaConfig fields compared: every field restore sets with SetUserPoolMfaConfig. */
export const COMPARED_MFA_KEYS: readonly (typeof MFA_KEYS)[number][] = MFA_KEYS;

/** Group fields compared (by group name). */
export const COMPARED_GROUP_KEYS = CREATE_GROUP_KEYS.filter((k) => k !== 'GroupName');

/** IdP fields compared (by provider name); ProviderDetails is compared key by key. */
export const COMPARED_IDP_KEYS = CREATE_IDP_KEYS.filter(
  (k) => k !== 'ProviderName' && k !== 'ProviderDetails',
);

/** Resource server fields compared (by identifier); Scopes are compared sorted by name. */
export const COMPARED_RESOURCE_SERVER_KEYS = CREATE_RESOURCE_SERVER_KEYS.filter(
  (k) => k !== 'Identifier' && k !== 'Scopes',
);

/** Schema attribute fields compared: custom attributes, and standard ones. */
export const COMPARED_CUSTOM_SCHEMA_KEYS = [
  'AttributeDataType',
  'Mutable',
  'DeveloperOnlyAttribute',
  'StringAttributeConstraints',
  'NumberAttributeConstraints',
] as const;
export const COMPARED_STANDARD_SCHEMA_KEYS = ['Required', 'Mutable'] as const;

/** IdP ProviderDetails keys that are not configuration (output only, rotated by Cognito). */
export const IDP_DETAILS_NOT_COMPARED: ReadonlySet<string> = new Set(IDP_DETAILS_OUTPUT_ONLY);

/** Array-valued fields whose order carries no meaning. */
export const SET_FIELDS = new Set([
  'AutoVerifiedAttributes',
  'AliasAttributes',
  'UsernameAttributes',
  'ReadAttributes',
  'WriteAttributes',
  'ExplicitAuthFlows',
  'SupportedIdentityProviders',
  'CallbackURLs',
  'LogoutURLs',
  'AllowedOAuthFlows',
  'AllowedOAuthScopes',
  'IdpIdentifiers',
]);

/**
 * JSON with sorted object keys (and sorted SET_FIELDS arrays): equal values give equal text. The
 * comparison layer's equality and the selective restore's field checks and plan hash.
 */
export function canonical(v: unknown, field?: string): string {
  if (Array.isArray(v)) {
    const items = v.map((x) => canonical(x));
    if (field && SET_FIELDS.has(field)) items.sort();
    return `[${items.join(',')}]`;
  }
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (v && typeof v === 'object') {
    const entries = Object.entries(v)
      .filter(([, x]) => x !== undefined && x !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x, k)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

// ---- users ---------------------------------------------------------------------------------

export interface LinkedIdentity {
  providerName: string;
  userId: string;
  providerType?: string;
}

/** The `identities` attribute: a JSON array of linked identities (Cognito writes it). */
export function parseIdentities(value: string | undefined): LinkedIdentity[] {
  if (!value) return [];
  try {
    const raw = JSON.parse(value) as unknown;
    if (!Array.isArray(raw)) return [];
    const out: LinkedIdentity[] = [];
    for (const i of raw as Record<string, unknown>[]) {
      const providerName = i?.providerName;
      const userId = i?.userId;
      if (
        typeof providerName === 'string' &&
        typeof userId === 'string' &&
        providerName &&
        userId
      ) {
        out.push({
          providerName,
          userId,
          ...(typeof i.providerType === 'string' ? { providerType: i.providerType } : {}),
        });
      }
    }
    return out;
  } catch {
    return [];
  }
}

// ---- copying fields ------------------------------------------------------------------------

/**
 * The members `keys` of `from` that hold a value, deep-copied. Spread into a request, each
 * member's type is checked against the request's: a Describe field a Create request types
 * differently does not compile.
 */
export function pickPresent<T extends object, K extends keyof T>(
  from: T,
  keys: readonly K[],
): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) {
    const v = from[k];
    if (v !== undefined && v !== null) out[k] = structuredClone(v);
  }
  return out;
}

/** Members of `K` whose type in `From` is not assignable to their type in `To`. */
type Mismatched<From, To, K extends keyof From & keyof To> = {
  [P in K]: [From[P]] extends [To[P]] ? never : P;
}[K];

/** DescribeUserPool's members go into CreateUserPool with the types CreateUserPool takes. */
export const POOL_CREATE_TYPES: Complete<
  Mismatched<UserPoolType, CreateUserPoolCommandInput, (typeof CREATE_POOL_KEYS)[number]>
> = true;
export const POOL_UPDATE_TYPES: Complete<
  Mismatched<UserPoolType, UpdateUserPoolCommandInput, UpdatePoolKey>
> = true;
export const MFA_TYPES: Complete<
  Mismatched<
    GetUserPoolMfaConfigResponse,
    SetUserPoolMfaConfigCommandInput,
    (typeof MFA_KEYS)[number]
  >
> = true;
export const CLIENT_CREATE_TYPES: Complete<
  Mismatched<
    UserPoolClientType,
    CreateUserPoolClientCommandInput,
    (typeof CREATE_CLIENT_KEYS)[number]
  >
> = true;
export const IDP_CREATE_TYPES: Complete<
  Mismatched<
    IdentityProviderType,
    CreateIdentityProviderCommandInput,
    (typeof CREATE_IDP_KEYS)[number]
  >
> = true;
export const RESOURCE_SERVER_CREATE_TYPES: Complete<
  Mismatched<
    ResourceServerType,
    CreateResourceServerCommandInput,
    (typeof CREATE_RESOURCE_SERVER_KEYS)[number]
  >
> = true;
export const GROUP_CREATE_TYPES: Complete<
  Mismatched<GroupType, CreateGroupCommandInput, (typeof CREATE_GROUP_KEYS)[number]>
> = true;
export const RISK_TYPES: Complete<
  Mismatched<RiskConfigurationType, SetRiskConfigurationCommandInput, (typeof RISK_KEYS)[number]>
> = true;
