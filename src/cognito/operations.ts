import type { CognitoOperation } from './quotas.js';

/**
 * Which Cognito operations each command sends, by feature: the one source of truth for
 * permissions. `cognito-vault policy` derives its IAM actions from this table
 * (src/policy/iam.ts), and test/integration/policy-operations.test.ts records every operation
 * each command actually sends on moto and asserts recorded ⊆ table and table ⊆ recorded
 * (nothing missing, nothing unused).
 *
 * To register an operation a command starts sending:
 *   1. give it a quota category in OPERATION_CATEGORY (quotas.ts) — the gateway needs it anyway;
 *   2. add it to the feature of the command that sends it below (a new feature if the operation
 *      only happens with some flag, e.g. `signIn: ['AdminSetUserPassword']`);
 *   3. make the recording test exercise that feature (it fails until you do: "unused").
 * The generated policies pick the operation up with no other change.
 *
 * Account-level operations (no user pool ARN to scope to) are listed in ACCOUNT_LEVEL.
 */
export const COMMAND_OPERATIONS = {
  backup: {
    pool: [
      'DescribeUserPool',
      'GetUserPoolMfaConfig',
      'DescribeUserPoolDomain',
      'ListTagsForResource',
      'GetUICustomization',
      'GetLogDeliveryConfiguration',
      'DescribeRiskConfiguration',
      'ListUserPoolClients',
      'DescribeUserPoolClient',
      /** Per client: no operation lists a pool's managed login styles. */
      'DescribeManagedLoginBrandingByClient',
      'ListIdentityProviders',
      'DescribeIdentityProvider',
      'ListResourceServers',
      'ListGroups',
      'ListUsers',
      'ListUsersInGroup',
    ],
    /** `backup --all` and the Lambda without pool ids: every pool in the Region. */
    allPools: ['ListUserPools'],
    /** --include-secrets: which secrets each app client holds (ids and dates only). */
    secrets: ['ListUserPoolClientSecrets'],
    /** `backup --user-mfa`: each user's MFA settings (each read is a billed MAU). */
    userMfa: ['AdminGetUser'],
  },
  restore: {
    /** Every restore: resources and users into the target pool. */
    any: [
      'DescribeUserPool',
      'ListGroups',
      'CreateGroup',
      'ListResourceServers',
      'CreateResourceServer',
      'ListIdentityProviders',
      'CreateIdentityProvider',
      'ListUserPoolClients',
      'CreateUserPoolClient',
      'AdminCreateUser',
      /** --password-state sign-in-ready (the default): a random permanent password. */
      'AdminSetUserPassword',
      'AdminGetUser',
      'AdminAddUserToGroup',
      'AdminDisableUser',
      'AdminLinkProviderForUser',
    ],
    /** --create-pool: the new pool (tagged with the run's restore token) and its MFA settings. */
    createPool: ['ListUserPools', 'CreateUserPool', 'SetUserPoolMfaConfig'],
    /** --create-pool from a snapshot with hosted UI customization, risk or log delivery settings. */
    poolSettings: ['SetUICustomization', 'SetRiskConfiguration', 'SetLogDeliveryConfiguration'],
    /**
     * A snapshot with app clients' own UI customization or risk configuration: set on the
     * clients the restore creates (new pool or existing).
     */
    clientSettings: ['SetUICustomization', 'SetRiskConfiguration'],
    /** A snapshot with managed login branding: one style per restored app client. */
    managedLoginBranding: ['CreateManagedLoginBranding'],
    /** --to-user-pool-id: is the target empty (--merge skips the check). */
    existingPool: ['ListUsers'],
    /** --domain. */
    domain: ['CreateUserPoolDomain'],
    /**
     * --users auto|import-job with --import-logs-role-arn: CSV import jobs, then one listing of
     * the target for the new subs (the job logs are read with logs:GetLogEvents).
     */
    importJobs: [
      'GetCSVHeader',
      'CreateUserImportJob',
      'StartUserImportJob',
      'DescribeUserImportJob',
      'ListUserImportJobs',
      'StopUserImportJob',
      'ListUsers',
    ],
    /** --without-triggers: the triggers go back with one whole-settings UpdateUserPool. */
    withoutTriggers: ['UpdateUserPool'],
    /** A snapshot taken with `backup --user-mfa`: SMS/email MFA preferences. */
    userMfa: ['AdminSetUserMFAPreference'],
    /**
     * A selection (--user, --group, --client, …): the selected users looked up (ListUsers
     * filters, or one listing), the selected resources described, and with --existing revert
     * put back in place (attributes, enabled state, memberships, group/IdP/resource server/app
     * client settings).
     */
    selective: [
      'ListUsers',
      'ListUsersInGroup',
      'AdminListGroupsForUser',
      'DescribeIdentityProvider',
      'DescribeUserPoolClient',
      'AdminUpdateUserAttributes',
      'AdminDeleteUserAttributes',
      'AdminEnableUser',
      'AdminDisableUser',
      'AdminAddUserToGroup',
      'AdminRemoveUserFromGroup',
      'UpdateGroup',
      'UpdateResourceServer',
      'UpdateIdentityProvider',
      'UpdateUserPoolClient',
    ],
  },
  /** `export-csv --header-from POOL`: the live pool's CSV header and import rules. */
  'export-csv': {
    headerFrom: ['GetCSVHeader', 'DescribeUserPool', 'GetUserPoolMfaConfig'],
  },
  /**
   * `drill`: a scratch pool created with the drill tag, restored into (the restore's
   * operations), compared and deleted. Its policy (src/policy/iam.ts) allows every pool-scoped
   * operation only on pools carrying DRILL_TAGS.drill, CreateUserPool only with that tag on the
   * request, and TagResource only for the heartbeat key.
   */
  drill: {
    /** Finding drill pools (names, then the tag), the heartbeat, deleting. */
    lifecycle: ['ListUserPools', 'DescribeUserPool', 'TagResource', 'DeleteUserPool'],
    /** The restore into the scratch pool. */
    restore: [
      'CreateUserPool',
      'SetUserPoolMfaConfig',
      'ListGroups',
      'CreateGroup',
      'ListResourceServers',
      'CreateResourceServer',
      'ListIdentityProviders',
      'CreateIdentityProvider',
      'ListUserPoolClients',
      'CreateUserPoolClient',
      'AdminCreateUser',
      'AdminSetUserPassword',
      'AdminAddUserToGroup',
      'AdminDisableUser',
    ],
    /** The comparison of the scratch pool with the snapshot, and the recovery check. */
    compare: [
      'GetUserPoolMfaConfig',
      'DescribeUserPoolClient',
      'DescribeIdentityProvider',
      'ListUsers',
      'ListUsersInGroup',
      'GetUICustomization',
      'DescribeRiskConfiguration',
      'GetLogDeliveryConfiguration',
      'DescribeManagedLoginBrandingByClient',
    ],
    /** A snapshot with hosted UI customization, risk or log delivery settings (as restore). */
    poolSettings: ['SetUICustomization', 'SetRiskConfiguration', 'SetLogDeliveryConfiguration'],
    /** App clients' own UI customization or risk configuration (as restore). */
    clientSettings: ['SetUICustomization', 'SetRiskConfiguration'],
    /** Managed login branding (as restore). */
    managedLoginBranding: ['CreateManagedLoginBranding'],
    /** --users auto|import-job with --import-logs-role-arn. */
    importJobs: [
      'GetCSVHeader',
      'CreateUserImportJob',
      'StartUserImportJob',
      'DescribeUserImportJob',
      'ListUserImportJobs',
    ],
  },
  /** Storage-only commands: no Cognito call. */
  prune: {},
  verify: {},
  /** `forget`: rewrites snapshots and the erasure ledger; no Cognito call. */
  forget: {},
} as const satisfies Record<string, Record<string, readonly CognitoOperation[]>>;

export type CommandName = keyof typeof COMMAND_OPERATIONS;

/**
 * The tags of a drill's scratch pool: `drill` (the drill id) marks it — the drill policy's
 * conditions key on it — and `heartbeat` (an ISO time) dates its drill's last sign of life.
 */
export const DRILL_TAGS = {
  drill: 'cognito-vault:drill',
  heartbeat: 'cognito-vault:drill-heartbeat',
} as const;

/**
 * Operations IAM cannot scope to a user pool ARN (Resource must be "*"): they name no pool
 * (ListUserPools, CreateUserPool, and DescribeUserPoolDomain, which takes only a domain).
 */
export const ACCOUNT_LEVEL: ReadonlySet<CognitoOperation> = new Set<CognitoOperation>([
  'ListUserPools',
  'CreateUserPool',
  'DescribeUserPoolDomain',
]);

/** Every operation of a command (all features), sorted, without duplicates. */
export function operationsOf(command: CommandName): CognitoOperation[] {
  const features = COMMAND_OPERATIONS[command] as Record<string, readonly CognitoOperation[]>;
  return [...new Set(Object.values(features).flat())].sort();
}

/** Operations of some features of a command. */
export function operationsOfFeatures(
  command: CommandName,
  features: readonly string[],
): CognitoOperation[] {
  const table = COMMAND_OPERATIONS[command] as Record<string, readonly CognitoOperation[]>;
  return [...new Set(features.flatMap((f) => table[f] ?? []))].sort();
}

/**
 * Storage operations (the Storage interface's methods) each command uses; the policy maps them
 * to S3 actions. Register a new use the same way as a Cognito operation (e.g. lease/lock
 * objects written and deleted by a backup: add 'delete' to backup).
 */
/**
 * Storage operations a command performs on the snapshot location. `lease` = writing and removing
 * its own lease objects under `<snapshot>/locks/` (docs/format.md#leases) and reading others'.
 * `progress` = removing completion records under `<snapshot>/progress/` (backup: once the
 * manifest is written, and stale ones on a resume; docs/format.md, "Snapshots in progress").
 */
export type StorageOperation = 'put' | 'get' | 'exists' | 'list' | 'delete' | 'lease' | 'progress';

export const COMMAND_STORAGE = {
  // backup stats every file before it commits the manifest (HeadObject: s3:GetObject); it
  // lists and reads a snapshot's completion records (and manifests, to find one to resume) and
  // removes the records. It deletes nothing else it needs: parts a killed run left unrecorded
  // are removed on a resume if the credentials allow, else left (unlisted, ignored by readers).
  backup: ['put', 'exists', 'lease', 'get', 'list', 'progress'],
  // Every command that opens a snapshot reads its manifest (and leases, progress records)
  // bounded: stat first (HeadObject: s3:GetObject), then get; and lists `locks/` and
  // `progress/` to refuse a planted link there (SnapshotReader.open: list, s3:ListBucket).
  // restore and verify also list the root with `--from latest` / `verify latest` (the catalog).
  restore: ['get', 'exists', 'lease', 'list'],
  prune: ['get', 'exists', 'list', 'delete', 'lease'],
  verify: ['get', 'exists', 'lease', 'list'],
  // forget: the erasure ledger (get, put), the catalog (list), each snapshot's manifest and
  // parts (get), new parts and manifest (put, then exists: the writer stats them), old parts
  // deleted, a lease while rewriting.
  forget: ['get', 'put', 'list', 'exists', 'delete', 'lease'],
  'export-csv': ['get', 'exists', 'list', 'put', 'lease'],
  drill: ['get', 'exists', 'list', 'lease'],
} as const satisfies Record<CommandName, readonly StorageOperation[]>;
