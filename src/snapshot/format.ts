import type {
  AdminCreateUserConfigType,
  AliasAttributeType,
  AnalyticsConfigurationType,
  AssetCategoryType,
  AssetExtensionType,
  AssetType,
  AttributeType,
  ClientSecretDescriptorType,
  ColorSchemeModeType,
  DeliveryMediumType,
  DomainDescriptionType,
  EmailMfaConfigType,
  GetUserPoolMfaConfigResponse,
  GroupType,
  IdentityProviderType,
  IdentityProviderTypeType,
  LambdaConfigType,
  LogConfigurationType,
  LogDeliveryConfigurationType,
  ManagedLoginBrandingType,
  MFAOptionType,
  ResourceServerScopeType,
  ResourceServerType,
  RiskConfigurationType,
  SchemaAttributeType,
  SmsConfigurationType,
  SmsMfaConfigType,
  SoftwareTokenMfaConfigType,
  UICustomizationType,
  UsernameAttributeType,
  UsernameConfigurationType,
  UserPoolClientType,
  UserPoolMfaType,
  UserPoolPolicyType,
  UserPoolType,
  UserStatusType,
  UserType,
  VerificationMessageTemplateType,
  VerifiedAttributeType,
  WebAuthnConfigurationType,
} from '@aws-sdk/client-cognito-identity-provider';
import { z } from 'zod';

/**
 * Snapshot format, version 1. The normative description is docs/format.md; this module is its
 * executable form. Readers check `formatVersion` before anything else and refuse versions they
 * do not know.
 */
export const FORMAT_VERSION = 2;
/**
 * Version 2 is version 1 plus client-side encryption (`encryption`, files with
 * `encryption: "age"`). Writers write 2 only for an encrypted snapshot, so readers that know
 * only version 1 refuse an encrypted snapshot by its version, and still read unencrypted ones.
 */
export const FORMAT_VERSION_PLAIN = 1;
export const FORMAT_VERSIONS: readonly number[] = [1, 2];
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
  /**
   * JSON Lines parts: the size of the decompressed JSON Lines (recorded since this field was
   * added; older parts lack it). Readers stop, exit 3, as soon as a part inflates beyond it, and
   * verify checks it exactly. Without it a part may inflate to LEGACY_INFLATE_RATIO times its
   * stored size (codec.ts).
   */
  inflatedBytes: z.number().int().nonnegative().optional(),
  /**
   * Format version 2: the stored bytes are the age encryption of what `encoding` describes;
   * `bytes` and `sha256` are of the stored (encrypted) bytes, so verify checks them without the
   * key, and `plaintext` those of the decrypted content (checked with the key).
   */
  encryption: z.literal('age').optional(),
  plaintext: z
    .object({
      bytes: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    })
    .optional(),
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

/** One `backup --resume` of a snapshot (see docs/format.md, "Snapshots in progress"). */
export const ResumeEntry = z.object({
  /** When this resume started. */
  at: z.iso.datetime(),
  /** Units kept from earlier runs (recorded, files present with their recorded sizes). */
  unitsKept: z.number().int().nonnegative(),
  /** Recorded units run again (a file missing or of another size than recorded, a bad record). */
  unitsRedone: z.number().int().nonnegative(),
});
export type ResumeEntry = z.infer<typeof ResumeEntry>;

/** How an encrypted snapshot's files were encrypted: age, to these X25519 recipients. */
export const Encryption = z.object({
  scheme: z.literal('age-encryption.org/v1'),
  recipients: z.array(z.string().regex(/^age1[02-9ac-hj-np-z]{58}$/)).min(1),
});
export type Encryption = z.infer<typeof Encryption>;

const ManifestBase = z.object({
  formatVersion: z.union([z.literal(1), z.literal(2)]),
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
  /** Format version 2 only (and required there): see `Encryption`. */
  encryption: Encryption.optional(),
  /**
   * Present when the snapshot was completed by `backup --resume` after an interruption: one
   * entry per resume, oldest first. Its users were then listed at different times.
   */
  resumes: z.array(ResumeEntry).optional(),
  files: z.array(FileEntry),
});

/** The one encoding each kind of file has: documents are JSON, users and memberships parts gzip'd JSON Lines. */
export const ENCODING_OF: Record<FileKind, FileEntry['encoding']> = {
  pool: 'json',
  clients: 'json',
  identityProviders: 'json',
  resourceServers: 'json',
  groups: 'json',
  managedLoginBranding: 'json',
  users: 'jsonl+gzip',
  memberships: 'jsonl+gzip',
};

/** Document kinds every snapshot has (managedLoginBranding came later: optional). */
export const REQUIRED_DOCUMENTS: readonly FileKind[] = [
  'pool',
  'clients',
  'identityProviders',
  'resourceServers',
  'groups',
];

/** Directories of a snapshot that hold no snapshot file (leases, backup progress). */
export const RESERVED_DIRS = ['locks', 'progress'] as const;

/** How far in the future a manifest's dates may lie (clocks of different machines). */
export const CLOCK_SKEW_MS = 60 * 60_000;

/**
 * What is wrong with a manifest's structure, from the manifest alone: (with `requireDocuments`,
 * as list and prune check it) a required document missing, a document listed twice, a path listed twice or in a reserved directory, counts that
 * do not match the files' records, a finish before the start, and (given `now`) dates in the
 * future beyond CLOCK_SKEW_MS. Empty when none. Verify reports these; list and prune count a
 * snapshot for retention only when there are none (and every file is stored at its size).
 */
export function structuralProblems(
  m: Manifest,
  now?: Date,
  opts: { requireDocuments?: boolean } = {},
): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const f of m.files) {
    if (seen.has(f.path)) problems.push(`${f.path}: listed twice`);
    seen.add(f.path);
    if (f.path === MANIFEST_FILE || RESERVED_DIRS.some((d) => f.path.startsWith(`${d}/`)))
      problems.push(`${f.path}: not a place for a snapshot file`);
  }
  for (const kind of FileKind.options) {
    const n = m.files.filter((f) => f.kind === kind).length;
    if (ENCODING_OF[kind] === 'json' && n > 1) problems.push(`${kind}: ${n} documents listed`);
    if (opts.requireDocuments && REQUIRED_DOCUMENTS.includes(kind) && n === 0)
      problems.push(`${kind}: document missing`);
  }
  const records = (kind: FileKind): number =>
    m.files.filter((f) => f.kind === kind).reduce((n, f) => n + f.records, 0);
  for (const kind of [
    'users',
    'memberships',
    'groups',
    'clients',
    'identityProviders',
    'resourceServers',
  ] as const) {
    if (kind !== 'users' && kind !== 'memberships' && !m.files.some((f) => f.kind === kind))
      continue;
    if (records(kind) !== m.counts[kind])
      problems.push(`${kind}: files hold ${records(kind)}, counts say ${m.counts[kind]}`);
  }
  const pool = m.files.find((f) => f.kind === 'pool');
  if (pool && pool.records !== 1) problems.push(`pool: ${pool.records} records, expected 1`);
  if (Date.parse(m.finishedAt) < Date.parse(m.startedAt))
    problems.push(`finishedAt ${m.finishedAt} is before startedAt ${m.startedAt}`);
  if (now) {
    const limit = now.getTime() + CLOCK_SKEW_MS;
    for (const [name, at] of [
      ['startedAt', m.startedAt],
      ['finishedAt', m.finishedAt],
    ] as const)
      if (Date.parse(at) > limit) problems.push(`${name} ${at} is in the future`);
  }
  return problems;
}

export const Manifest = ManifestBase.superRefine((m, ctx) => {
  if (m.formatVersion === 2 && !m.encryption) {
    ctx.addIssue({
      code: 'custom',
      path: ['encryption'],
      message: 'formatVersion 2 needs an encryption block',
    });
  }
  if (m.formatVersion === 1 && m.encryption) {
    ctx.addIssue({
      code: 'custom',
      path: ['formatVersion'],
      message: 'an encrypted snapshot is formatVersion 2',
    });
  }
  m.files.forEach((f, i) => {
    // One encoding per kind: a users part declared "json" must not skip gzip and record checks.
    if (f.encoding !== ENCODING_OF[f.kind]) {
      ctx.addIssue({
        code: 'custom',
        path: ['files', i, 'encoding'],
        message: `a ${f.kind} file is ${ENCODING_OF[f.kind]}, not ${f.encoding}`,
      });
    }
    if (f.encryption && !m.encryption) {
      ctx.addIssue({
        code: 'custom',
        path: ['files', i, 'encryption'],
        message: 'an encrypted file in a snapshot without an encryption block',
      });
    }
    if (f.encryption && !f.plaintext) {
      ctx.addIssue({
        code: 'custom',
        path: ['files', i, 'plaintext'],
        message: 'an encrypted file needs its plaintext size and sha256',
      });
    }
  });
});
export type Manifest = z.infer<typeof Manifest>;

// ---- record schemas (validated when read back) -------------------------------------------------
//
// A document holds what Cognito's Describe/Get/List calls returned, typed as the AWS SDK's own
// types (UserPoolType, UserPoolClientType, ...): the compiler follows a field from the backup's
// Describe call, through the snapshot, into restore's Create/Set requests and into compare.
//
// On disk a document is its JSON form (`Json<T>`): a Date is an ISO 8601 string, bytes are
// base64. Reading a document (the boundary) validates it with zod: the envelope and every member
// this tool relies on are checked, a member whose JSON form differs from its SDK form is
// converted back (a string to a Date, base64 to bytes), and every other member passes through as
// backup wrote it. `sdkDocument` checks at compile time that the members it leaves unconverted
// need no conversion and that every checked member's parsed type is the SDK member's type.

/** What JSON.stringify makes of an SDK value: Date → ISO string, bytes → base64 (see backup). */
export type Json<T> = T extends Date
  ? string
  : T extends Uint8Array
    ? string
    : T extends readonly (infer E)[]
      ? Json<E>[]
      : T extends object
        ? { [K in keyof T]: Json<T[K]> }
        : T;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** Members of T whose JSON form is not their SDK form: a document schema must convert them. */
export type NeedsConversion<T> = {
  [K in keyof T]-?: Same<Json<T[K]>, T[K]> extends true ? never : K;
}[keyof T];

/** A zod shape for some members of T, each parsing to that member's SDK type. */
type ShapeOf<T> = { [K in keyof T]?: z.ZodType<T[K]> };

/**
 * The schema of a document typed as the SDK type `T`: `shape` checks (and converts) the members
 * this tool relies on and every member that needs a conversion; unknown members pass through
 * (a snapshot from a newer SDK may carry fields this version does not know).
 */
export function sdkDocument<T extends object>() {
  return <S extends ShapeOf<T> & { [K in NeedsConversion<T>]-?: unknown }>(
    shape: S & { [K in Exclude<keyof S, keyof T>]: never },
  ): z.ZodType<T> =>
    // The one assertion of the document path: after `shape` has checked and converted its
    // members, the object is taken as T. zod's pipe types its target's input as the source's
    // output, which is the checked shape, not T; `trusted<T>()` accepts any input.
    z.looseObject(shape).pipe(trusted<T>());
}

/** Types what an earlier step validated (see sdkDocument); checks nothing itself. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- zod's pipe input, see above
function trusted<T>(): z.ZodType<T, any> {
  return z.custom<T>();
}

/** An SDK timestamp: an ISO 8601 string on disk, a Date in the document. */
export const IsoDate = z.string().transform((s, ctx) => {
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) {
    ctx.addIssue({ code: 'custom', message: 'not a date' });
    return z.NEVER;
  }
  return d;
});

/** SDK bytes (blob): base64 on disk, bytes in the document. */
export const Base64Bytes = z.base64().transform((s) => new Uint8Array(Buffer.from(s, 'base64')));

/**
 * An SDK enum member: any string (a newer SDK may know more values than this one), typed as the
 * SDK's union.
 */
export function sdkEnum<E extends string>(): z.ZodType<E> {
  return z.custom<E>((v) => typeof v === 'string');
}

/** An object (members unchecked here), typed as the SDK type `T`. */
function sdkObject<T extends object>(): z.ZodType<T> {
  return z.custom<T>((v) => v !== null && typeof v === 'object' && !Array.isArray(v));
}

const StringList = z.array(z.string());
const StringMap = z.record(z.string(), z.string());

/** A user attribute: the name is always there. */
export type AttributeRecord = AttributeType & { Name: string };
export const AttributeRecord = sdkDocument<AttributeRecord>()({
  Name: z.string(),
  Value: z.string().optional(),
});

/**
 * One user (ListUsers' UserType), plus, only in snapshots taken with `backup --user-mfa`
 * (AdminGetUser per user), the MFA factors the user has activated (SMS_MFA, SOFTWARE_TOKEN_MFA,
 * EMAIL_OTP) and the preferred one. Absent: not captured (not "no MFA").
 */
export type UserRecord = UserType & {
  Username: string;
  Attributes: AttributeRecord[];
  UserMFASettingList?: string[];
  PreferredMfaSetting?: string;
};
export const UserRecord = sdkDocument<UserRecord>()({
  Username: z.string().min(1),
  Attributes: z.array(AttributeRecord).default([]),
  UserCreateDate: IsoDate.optional(),
  UserLastModifiedDate: IsoDate.optional(),
  Enabled: z.boolean().optional(),
  UserStatus: sdkEnum<UserStatusType>().optional(),
  MFAOptions: z
    .array(
      sdkDocument<MFAOptionType>()({
        DeliveryMedium: sdkEnum<DeliveryMediumType>().optional(),
        AttributeName: z.string().optional(),
      }),
    )
    .optional(),
  UserMFASettingList: StringList.optional(),
  PreferredMfaSetting: z.string().optional(),
});

export const MembershipRecord = z.object({ group: z.string().min(1), username: z.string().min(1) });
export type MembershipRecord = z.infer<typeof MembershipRecord>;

export type GroupRecord = GroupType & { GroupName: string };
export const GroupRecord = sdkDocument<GroupRecord>()({
  GroupName: z.string().min(1),
  Description: z.string().optional(),
  Precedence: z.number().int().optional(),
  RoleArn: z.string().optional(),
  CreationDate: IsoDate.optional(),
  LastModifiedDate: IsoDate.optional(),
});

/** DescribeUserPool's pool; `Id` is always there. */
export type UserPoolRecord = UserPoolType & { Id: string };
export const UserPoolRecord = sdkDocument<UserPoolRecord>()({
  Id: z.string(),
  Name: z.string().optional(),
  CreationDate: IsoDate.optional(),
  LastModifiedDate: IsoDate.optional(),
  Policies: sdkObject<UserPoolPolicyType>().optional(),
  LambdaConfig: sdkObject<LambdaConfigType>().optional(),
  SchemaAttributes: z
    .array(sdkDocument<SchemaAttributeType>()({ Name: z.string().optional() }))
    .optional(),
  UsernameAttributes: z.array(sdkEnum<UsernameAttributeType>()).optional(),
  AliasAttributes: z.array(sdkEnum<AliasAttributeType>()).optional(),
  AutoVerifiedAttributes: z.array(sdkEnum<VerifiedAttributeType>()).optional(),
  UserPoolTags: StringMap.optional(),
  MfaConfiguration: sdkEnum<UserPoolMfaType>().optional(),
  SmsConfiguration: sdkObject<SmsConfigurationType>().optional(),
  VerificationMessageTemplate: sdkObject<VerificationMessageTemplateType>().optional(),
  AdminCreateUserConfig: sdkObject<AdminCreateUserConfigType>().optional(),
  UsernameConfiguration: sdkObject<UsernameConfigurationType>().optional(),
});

/** GetUserPoolMfaConfig's answer without the response metadata. */
export type MfaConfigRecord = Omit<GetUserPoolMfaConfigResponse, '$metadata'>;
export const MfaConfigRecord = sdkDocument<MfaConfigRecord>()({
  MfaConfiguration: sdkEnum<UserPoolMfaType>().optional(),
  SmsMfaConfiguration: sdkObject<SmsMfaConfigType>().optional(),
  SoftwareTokenMfaConfiguration: sdkObject<SoftwareTokenMfaConfigType>().optional(),
  EmailMfaConfiguration: sdkObject<EmailMfaConfigType>().optional(),
  WebAuthnConfiguration: sdkObject<WebAuthnConfigurationType>().optional(),
});

/** GetUICustomization's answer, plus the logo's bytes (base64) downloaded from ImageUrl. */
export type UICustomizationRecord = UICustomizationType & { ImageFile?: string };
export const UICustomizationRecord = sdkDocument<UICustomizationRecord>()({
  CSS: z.string().optional(),
  ImageUrl: z.string().optional(),
  ImageFile: z.string().optional(),
  CreationDate: IsoDate.optional(),
  LastModifiedDate: IsoDate.optional(),
});

export const RiskConfigurationRecord = sdkDocument<RiskConfigurationType>()({
  LastModifiedDate: IsoDate.optional(),
});

export const LogDeliveryConfigurationRecord = sdkDocument<LogDeliveryConfigurationType>()({
  LogConfigurations: z.array(sdkObject<LogConfigurationType>()).optional(),
});

/** An app client's own UI customization (GetUICustomization with its ClientId), keyed by it. */
export type ClientUICustomizationRecord = UICustomizationRecord & { ClientId: string };
export const ClientUICustomizationRecord = sdkDocument<ClientUICustomizationRecord>()({
  ClientId: z.string().min(1),
  CSS: z.string().optional(),
  ImageUrl: z.string().optional(),
  ImageFile: z.string().optional(),
  CreationDate: IsoDate.optional(),
  LastModifiedDate: IsoDate.optional(),
});

/** An app client's own risk configuration (DescribeRiskConfiguration with its ClientId). */
export type ClientRiskConfigurationRecord = RiskConfigurationType & { ClientId: string };
export const ClientRiskConfigurationRecord = sdkDocument<ClientRiskConfigurationRecord>()({
  ClientId: z.string().min(1),
  LastModifiedDate: IsoDate.optional(),
});

export const DomainRecord = sdkDocument<DomainDescriptionType>()({
  Domain: z.string().optional(),
});

export const PoolDocument = z.object({
  userPool: UserPoolRecord,
  mfaConfig: MfaConfigRecord.optional(),
  domain: DomainRecord.optional(),
  tags: StringMap.optional(),
  uiCustomization: UICustomizationRecord.optional(),
  logDeliveryConfiguration: LogDeliveryConfigurationRecord.optional(),
  riskConfiguration: RiskConfigurationRecord.optional(),
  /**
   * App clients with a UI customization of their own (GetUICustomization with their ClientId;
   * `ImageFile`: the logo, base64). Absent: not captured (older snapshots, or refused).
   */
  clientUICustomizations: z.array(ClientUICustomizationRecord).optional(),
  /** App clients with a risk configuration of their own (DescribeRiskConfiguration, ClientId). */
  clientRiskConfigurations: z.array(ClientRiskConfigurationRecord).optional(),
});
export type PoolDocument = z.infer<typeof PoolDocument>;

/**
 * DescribeUserPoolClient's client; with secrets kept, the ids (and creation dates) of the
 * secrets the client holds (ListUserPoolClientSecrets: a client may hold two during a rotation).
 */
export type ClientRecord = UserPoolClientType & {
  ClientId: string;
  ClientSecrets?: Pick<ClientSecretDescriptorType, 'ClientSecretId' | 'ClientSecretCreateDate'>[];
};
export const ClientRecord = sdkDocument<ClientRecord>()({
  ClientId: z.string(),
  ClientName: z.string().optional(),
  CreationDate: IsoDate.optional(),
  LastModifiedDate: IsoDate.optional(),
  ClientSecrets: z
    .array(
      sdkDocument<Pick<ClientSecretDescriptorType, 'ClientSecretId' | 'ClientSecretCreateDate'>>()({
        ClientSecretId: z.string().optional(),
        ClientSecretCreateDate: IsoDate.optional(),
      }),
    )
    .optional(),
  SupportedIdentityProviders: StringList.optional(),
  AllowedOAuthScopes: StringList.optional(),
  AnalyticsConfiguration: sdkObject<AnalyticsConfigurationType>().optional(),
});

export type IdentityProviderRecord = IdentityProviderType & {
  ProviderName: string;
  ProviderType: IdentityProviderTypeType;
};
export const IdentityProviderRecord = sdkDocument<IdentityProviderRecord>()({
  ProviderName: z.string(),
  ProviderType: sdkEnum<IdentityProviderTypeType>(),
  ProviderDetails: StringMap.optional(),
  AttributeMapping: StringMap.optional(),
  IdpIdentifiers: StringList.optional(),
  AcrMapping: StringMap.optional(),
  CreationDate: IsoDate.optional(),
  LastModifiedDate: IsoDate.optional(),
});

export type ResourceServerRecord = ResourceServerType & { Identifier: string; Name: string };
export const ResourceServerRecord = sdkDocument<ResourceServerRecord>()({
  Identifier: z.string(),
  Name: z.string(),
  Scopes: z
    .array(
      sdkDocument<ResourceServerScopeType>()({
        ScopeName: z.string(),
        ScopeDescription: z.string(),
      }),
    )
    .optional(),
});

/**
 * One app client's managed login style (DescribeManagedLoginBrandingByClient, customized values
 * only), keyed by the source client id; asset bytes in base64 on disk.
 */
export type ManagedLoginBrandingRecord = Omit<ManagedLoginBrandingType, 'UserPoolId'> & {
  ClientId: string;
};
export const ManagedLoginBrandingRecord = sdkDocument<ManagedLoginBrandingRecord>()({
  ClientId: z.string().min(1),
  ManagedLoginBrandingId: z.string().optional(),
  UseCognitoProvidedValues: z.boolean().optional(),
  Settings: z.custom<ManagedLoginBrandingType['Settings']>().optional(),
  Assets: z
    .array(
      sdkDocument<AssetType>()({
        Category: sdkEnum<AssetCategoryType>(),
        ColorMode: sdkEnum<ColorSchemeModeType>(),
        Extension: sdkEnum<AssetExtensionType>(),
        Bytes: Base64Bytes.optional(),
        ResourceId: z.string().optional(),
      }),
    )
    .max(40)
    .optional(),
  CreationDate: IsoDate.optional(),
  LastModifiedDate: IsoDate.optional(),
});

/** The JSON form backup writes of a branding record: asset bytes in base64. */
export function brandingJson(b: ManagedLoginBrandingRecord): Json<ManagedLoginBrandingRecord> {
  const { CreationDate, LastModifiedDate, Assets, ...rest } = b;
  return {
    ...rest,
    ...(CreationDate ? { CreationDate: CreationDate.toISOString() } : {}),
    ...(LastModifiedDate ? { LastModifiedDate: LastModifiedDate.toISOString() } : {}),
    ...(Assets
      ? {
          Assets: Assets.map(({ Bytes, ...a }) => ({
            ...a,
            ...(Bytes ? { Bytes: Buffer.from(Bytes).toString('base64') } : {}),
          })),
        }
      : {}),
  };
}

/** UTC snapshot id, sortable and safe in paths and S3 keys: 2026-11-27T17-22-00-123Z. */
export function newSnapshotId(date = new Date()): string {
  return date.toISOString().replace(/:/g, '-').replace('.', '-');
}
