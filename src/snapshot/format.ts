import { z } from 'zod';

/**
 * Snapshot format, version 1. The normative description is docs/format.md; this module is its
 * executable form. Readers check `formatVersion` before anything else and refuse versions they
 * do not know.
 */
export const FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

export const FILES = {
  pool: 'pool.json',
  clients: 'clients.json',
  identityProviders: 'identity-providers.json',
  resourceServers: 'resource-servers.json',
  groups: 'groups.json',
  /** Added later in format version 1: absent from older snapshots (then: not captured). */
  managedLoginBranding: 'managed-login-branding.json',
} as const;

export const PART_DIRS = { users: 'users', memberships: 'memberships' } as const;

export function partPath(dir: string, index: number, suffix = ''): string {
  return `${dir}/part-${String(index).padStart(5, '0')}${suffix}.jsonl.gz`;
}

/** Stands in for secrets (client secrets, IdP client_secret/private_key) unless --include-secrets. */
export const REDACTED = '__cognito_vault_redacted__';

export const FileKind = z.enum([
  'pool',
  'clients',
  'identityProviders',
  'resourceServers',
  'groups',
  'users',
  'memberships',
  'managedLoginBranding',
]);
export type FileKind = z.infer<typeof FileKind>;

export const FileEntry = z.object({
  path: z.string().min(1),
  kind: FileKind,
  encoding: z.enum(['json', 'jsonl+gzip']),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  records: z.number().int().nonnegative(),
});
export type FileEntry = z.infer<typeof FileEntry>;

export const Counts = z.object({
  users: z.number().int().nonnegative(),
  groups: z.number().int().nonnegative(),
  memberships: z.number().int().nonnegative(),
  clients: z.number().int().nonnegative(),
  identityProviders: z.number().int().nonnegative(),
  resourceServers: z.number().int().nonnegative(),
});
export type Counts = z.infer<typeof Counts>;

export const Warning = z.object({
  code: z.string(),
  message: z.string(),
  operation: z.string().optional(),
});
export type Warning = z.infer<typeof Warning>;

export const Manifest = z.object({
  formatVersion: z.literal(FORMAT_VERSION),
  tool: z.object({ name: z.string(), version: z.string() }),
  snapshotId: z.string().min(1),
  userPool: z.object({
    id: z.string().min(1),
    name: z.string(),
    region: z.string().min(1),
    arn: z.string().optional(),
    estimatedNumberOfUsers: z.number().int().nonnegative().optional(),
  }),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  counts: Counts,
  options: z.object({
    includeSecrets: z.boolean(),
    /** backup --user-mfa: user records carry UserMFASettingList / PreferredMfaSetting. */
    userMfa: z.boolean().optional(),
    sharding: z.object({
      mode: z.enum(['sub-prefix', 'single']),
      shards: z.number().int().positive(),
    }),
  }),
  warnings: z.array(Warning),
  files: z.array(FileEntry),
});
export type Manifest = z.infer<typeof Manifest>;

// ---- record schemas (validated when read back) -------------------------------------------------

export const AttributeRecord = z.object({ Name: z.string(), Value: z.string().optional() });

export const UserRecord = z.object({
  Username: z.string().min(1),
  Attributes: z.array(AttributeRecord).default([]),
  UserCreateDate: z.string().optional(),
  UserLastModifiedDate: z.string().optional(),
  Enabled: z.boolean().optional(),
  UserStatus: z.string().optional(),
  MFAOptions: z
    .array(
      z.object({ DeliveryMedium: z.string().optional(), AttributeName: z.string().optional() }),
    )
    .optional(),
  /**
   * Only in snapshots taken with `backup --user-mfa` (AdminGetUser per user): the MFA factors
   * the user has activated (SMS_MFA, SOFTWARE_TOKEN_MFA, EMAIL_OTP) and the preferred one.
   * Absent: not captured (not "no MFA").
   */
  UserMFASettingList: z.array(z.string()).optional(),
  PreferredMfaSetting: z.string().optional(),
});
export type UserRecord = z.infer<typeof UserRecord>;

export const MembershipRecord = z.object({ group: z.string().min(1), username: z.string().min(1) });
export type MembershipRecord = z.infer<typeof MembershipRecord>;

export const GroupRecord = z.looseObject({
  GroupName: z.string().min(1),
  Description: z.string().optional(),
  Precedence: z.number().int().optional(),
  RoleArn: z.string().optional(),
});
export type GroupRecord = z.infer<typeof GroupRecord>;

const Loose = z.looseObject({});

export const PoolDocument = z.object({
  userPool: z.looseObject({ Id: z.string(), Name: z.string().optional() }),
  mfaConfig: Loose.optional(),
  domain: Loose.optional(),
  tags: z.record(z.string(), z.string()).optional(),
  uiCustomization: Loose.optional(),
  logDeliveryConfiguration: Loose.optional(),
  riskConfiguration: Loose.optional(),
});
export type PoolDocument = z.infer<typeof PoolDocument>;

export const ClientRecord = z.looseObject({
  ClientId: z.string(),
  ClientName: z.string().optional(),
});
export type ClientRecord = z.infer<typeof ClientRecord>;

export const IdentityProviderRecord = z.looseObject({
  ProviderName: z.string(),
  ProviderType: z.string(),
  ProviderDetails: z.record(z.string(), z.string()).optional(),
  AttributeMapping: z.record(z.string(), z.string()).optional(),
  IdpIdentifiers: z.array(z.string()).optional(),
});
export type IdentityProviderRecord = z.infer<typeof IdentityProviderRecord>;

export const ResourceServerRecord = z.looseObject({
  Identifier: z.string(),
  Name: z.string(),
  Scopes: z.array(z.object({ ScopeName: z.string(), ScopeDescription: z.string() })).optional(),
});
export type ResourceServerRecord = z.infer<typeof ResourceServerRecord>;

/**
 * One app client's managed login style (DescribeManagedLoginBrandingByClient, customized values
 * only), keyed by the source client id; asset bytes in base64.
 */
export const ManagedLoginBrandingRecord = z.looseObject({
  ClientId: z.string().min(1),
  ManagedLoginBrandingId: z.string().optional(),
  UseCognitoProvidedValues: z.boolean().optional(),
  Settings: z.unknown().optional(),
  Assets: z
    .array(
      z.looseObject({
        Category: z.string(),
        ColorMode: z.string(),
        Extension: z.string(),
        Bytes: z.base64().optional(),
        ResourceId: z.string().optional(),
      }),
    )
    .max(40)
    .optional(),
});
export type ManagedLoginBrandingRecord = z.infer<typeof ManagedLoginBrandingRecord>;

/** UTC snapshot id, sortable and safe in paths and S3 keys: 2026-11-27T17-22-00-123Z. */
export function newSnapshotId(date = new Date()): string {
  return date.toISOString().replace(/:/g, '-').replace('.', '-');
}
