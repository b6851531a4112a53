import type { ProgressListener } from '../core/progress.js';
import type { CategoryReport } from '../cognito/rate.js';

/*
 * The restore layer's public types (re-exported by index.ts). This module imports no phase
 * module: phases import their shared types from here, so no cycle can run through it.
 */

/** Where a restore goes: a pool that exists, or a new pool created from the snapshot. */
export type RestoreTarget = { userPoolId: string } | { createPool: string };

/**
 * How AdminCreateUser'd users land: `sign-in-ready` (CONFIRMED with a random password nobody
 * knows, or passwordless) or `force-change` (FORCE_CHANGE_PASSWORD). See users/sign-in.ts.
 */
export type PasswordState = 'sign-in-ready' | 'force-change';

/** How users are written: CSV import jobs, AdminCreateUser, or each user by what it allows. */
export type UsersPath = 'import-job' | 'admin-create' | 'auto';

export interface UsersPathPlan {
  requested: UsersPath;
  /** What actually happens: every user by import job, every user by AdminCreateUser, or both. */
  effective: 'import-job' | 'admin-create' | 'mixed';
  /** Native users the import job can take / cannot take (by reason). */
  eligible: number;
  ineligible: number;
  ineligibleByReason: Record<string, number>;
  /** 0600 JSON Lines file naming each user the job cannot take and why (when there are any). */
  ineligibleFile?: string;
}

/** What one import job did, for the report and the console (counts only on the console). */
export interface ImportJobReport {
  file: string;
  rows: number;
  jobId: string;
  jobName: string;
  status: string;
  imported: number;
  skipped: number;
  failed: number;
  completionMessage?: string;
  /** Jobs created for this file (more than one when an unused job's upload URL expired). */
  attempts: number;
  /** Whether the per-line results were read from CloudWatch Logs. */
  lineResults: 'not-needed' | 'read' | 'unreadable';
  /** Why the log stream could not be read (unreadable only). */
  lineResultsError?: string;
}

/** Puts one file to a pre-signed URL (Cognito's import bucket). */
export type Uploader = (url: string, file: string, signal: AbortSignal) => Promise<void>;

/** Reads the messages of one CloudWatch Logs stream, oldest first. */
export interface ImportLogReader {
  messages(group: string, stream: string, signal: AbortSignal): AsyncIterable<string>;
}

/**
 * What must be changed outside Cognito after a restore, because the restored pool has a new
 * id, new app client ids and maybe another domain: every SAML IdP needs the new SP entity id
 * and ACS URL, every OIDC/social IdP the new redirect URL, every app the new client ids and
 * token issuer, every Lambda trigger a permission for the new pool. All of it is configuration
 * (no user data), printed and in the JSON result.
 */
export interface ReconfigureItem {
  /** What it is about: an IdP, the app clients, the token issuer, the domain, triggers. */
  kind: 'saml-idp' | 'oidc-idp' | 'app-clients' | 'token-issuer' | 'domain' | 'lambda-triggers';
  /** Where to change it (the IdP's name, "your apps", …). */
  subject: string;
  /** One sentence: what to set to what. */
  action: string;
  /** The values to set (URLs, ids), for scripts. */
  values: Record<string, string>;
}

export interface RestoreOptions {
  target: RestoreTarget;
  /** Preflight and plan only: nothing is written (no pool, no journal, no files). */
  dryRun?: boolean;
  /** Allow a target that already has users; users that exist count as "existing". */
  merge?: boolean;
  /** Journal, report, sub map and client id map (default ./cognito-vault-restore/<snapshot>--<target>). */
  stateDir?: string;
  /** Old→new sub map, JSON Lines (default <stateDir>/sub-map.jsonl). */
  subMapFile?: string;
  /**
   * Federated (EXTERNAL_PROVIDER) users: `skip` (default) lists them in the report — they come
   * back at their next IdP sign-in as new profiles, without their groups or disabled flag;
   * `precreate` creates a local profile with their attributes (SUPPRESS, no password), links
   * each identity in their `identities` attribute to it (AdminLinkProviderForUser), and restores
   * their groups and disabled flag, so their next IdP sign-in lands in that profile.
   */
  federatedUsers?: 'skip' | 'precreate';
  /** Store each user's old sub in custom:<NAME>. */
  legacySubAttribute?: string;
  /** Identity provider secrets by provider name, e.g. { Google: { client_secret: '…' } }. */
  idpSecrets?: Record<string, Record<string, string>>;
  /**
   * How AdminCreateUser'd users land (default `sign-in-ready`: CONFIRMED with a random password
   * nobody knows, or passwordless; `force-change`: FORCE_CHANGE_PASSWORD as before).
   */
  passwordState?: PasswordState;
  /** Create a Cognito-hosted domain with this prefix (prefixes are global). */
  domain?: string;
  /**
   * The WebAuthn (passkey) relying party id for a new pool, when its domain differs from the
   * snapshot's (default: the snapshot's, moved to --domain's prefix domain when it was a prefix
   * domain).
   */
  webauthnRpId?: string;
  /**
   * Rewrites account- and Region-bound ARNs before anything is sent: `{ "<old ARN>": "<new>" }`
   * and prefix rules `{ "arn:aws:lambda:us-east-1:111111111111:*": "arn:aws:lambda:…:" }`.
   */
  mapArns?: Record<string, string>;
  /** Where mapArns came from (named in errors), e.g. the --map-arns file. */
  mapArnsSource?: string;
  /** Restore ARNs of another account or Region as they are (a warning lists them). */
  allowForeignArns?: boolean;
  /** The target account, for the foreign-ARN check before a new pool exists. */
  targetAccount?: string;
  /**
   * Create the new pool without its Lambda triggers and attach them at the end (one
   * whole-settings UpdateUserPool). Only with a created pool (createPool).
   */
  withoutTriggers?: boolean;
  /** Expected round trip per call, for sizing the worker pools (default 100 ms). */
  rttMs?: number;
  /** Override the AdminCreateUser worker count (default ≈ 2 × rate × RTT). */
  createConcurrency?: number;
  /** Override the UserUpdate worker count (default ≈ 2 × rate × RTT). */
  updateConcurrency?: number;
  /** Users whose follow-ups may wait for the UserUpdate workers before creation pauses. */
  followUpQueueLimit?: number;
  /** Stop after this many user failures in a row (a systematic cause); default 100. */
  consecutiveFailureLimit?: number;
  /**
   * How users are written (default `auto`): `import-job` (CSV import jobs: no MAU, users in
   * RESET_REQUIRED), `admin-create` (AdminCreateUser), `auto` (import jobs for every user they
   * can take, AdminCreateUser for the rest; AdminCreateUser for all without a logs role).
   */
  usersPath?: UsersPath;
  /** CloudWatchLogsRoleArn for CreateUserImportJob (required by the import-job path). */
  importLogsRoleArn?: string;
  /**
   * Go ahead although more than `mauCostThreshold` users would be written with admin
   * operations (each billed as a monthly active user). Without it, `usersPath` `auto` and no
   * `importLogsRoleArn`, such a restore stops in preflight (exit 4, nothing written).
   */
  acceptMauCost?: boolean;
  /** The MAU gate's threshold (default 10,000 users written with admin operations). */
  mauCostThreshold?: number;
  /** Reads the import jobs' CloudWatch Logs streams (per-row results). */
  importLogs?: ImportLogReader;
  /** Override the pre-signed URL upload (tests). */
  importUpload?: Uploader;
  /** DescribeUserImportJob polling interval, first/maximum (default 1 s / 15 s). */
  importPollMs?: { min: number; max: number };
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  /** Override the clock (tests). */
  now?: () => Date;
  /** Delays (ms) before each look for what an ambiguous create made (tests; see create-once). */
  settleDelaysMs?: readonly number[];
}

export interface RestoreWarning {
  code: string;
  message: string;
}

export interface FailedUser {
  username: string;
  /** Cognito exception name and message, e.g. "InvalidParameterException: …". */
  error: string;
  /** The operation that failed (AdminCreateUser, AdminAddUserToGroup, …). */
  operation: string;
}

/**
 * A pool resource that could not be restored (the restore went on without it and exits 6).
 * Names are configuration, not personal data: printed on the console.
 */
export interface ResourceFailure {
  kind:
    | 'group'
    | 'resourceServer'
    | 'identityProvider'
    | 'client'
    | 'domain'
    | 'mfaConfig'
    | 'managedLoginBranding';
  name: string;
  /** The operation that failed (CreateIdentityProvider, …). */
  operation: string;
  /** Cognito's exception name and message, or why it was not attempted (SecretMissing: …). */
  error: string;
}

export interface ExternalProviderUser {
  username: string;
  oldSub?: string;
  groups: string[];
}

export interface RestoreResult {
  dryRun: false;
  snapshot: string;
  snapshotId: string;
  sourceUserPoolId: string;
  userPoolId: string;
  createdPool: boolean;
  resumed: boolean;
  users: {
    created: number;
    imported: number;
    existing: number;
    failed: number;
    /** Federated users not created (--federated-users skip, the default). */
    externalProvider: number;
    /** --federated-users precreate: federated users created as linked local profiles. */
    federatedPrecreated?: number;
    /** Users erased with `cognito-vault forget` (the erasure ledger): never re-created. */
    erased?: number;
  };
  /** Which path users took, with the import-job eligibility counts. */
  usersPath: UsersPathPlan;
  /** One entry per CSV import job (counts; per-row results are in the report file only). */
  importJobs: ImportJobReport[];
  groups: number;
  resourceServers: number;
  identityProviders: number;
  clients: number;
  memberships: number;
  disabled: number;
  links: number;
  /**
   * How the users created by this restore (all runs) can sign in: counts only; the users who
   * need an administrator are listed in `needsAdminFile` (0600).
   */
  signIn: {
    passwordState: PasswordState;
    /** CONFIRMED with a random permanent password nobody knows: "forgot password" works. */
    confirmed: number;
    /** Passwordless: signs in with an email/SMS one-time password. */
    passwordless: number;
    /** FORCE_CHANGE_PASSWORD: locked out until an administrator acts. */
    forceChangePassword: number;
    /** Users who cannot get back in by themselves (no verified email/phone, unconfirmed…). */
    needsAdmin: number;
    needsAdminFile: string;
  };
  /**
   * Snapshots taken with --user-mfa: SMS/email MFA preferences set, and users with TOTP, which
   * cannot be restored (listed in totpFile, 0600).
   */
  mfa?: { preferencesSet: number; totpNotRestorable: number; totpFile?: string };
  /** --without-triggers: the Lambda triggers were attached at the end. */
  triggersAttached?: boolean;
  subMap: string;
  clientMap: string;
  report: string;
  stateDir: string;
  durationMs: number;
  /** What to change outside Cognito: IdP SP/redirect URLs, client ids, issuer, domain. */
  reconfigure: ReconfigureItem[];
  failedUsers: FailedUser[];
  /** Pool resources not restored (all runs); their dependants were adjusted (see warnings). */
  resourceFailures: ResourceFailure[];
  externalProviderUsers: ExternalProviderUser[];
  warnings: RestoreWarning[];
  rates: CategoryReport[];
}

export interface PlanPhase {
  phase: string;
  create: number;
  existing?: number;
  skipped?: number;
  detail?: string;
}

export interface RestorePlan {
  dryRun: true;
  snapshot: string;
  snapshotId: string;
  sourceUserPoolId: string;
  target: RestoreTarget;
  /** The pool written to: the target id, the pool a previous run created, or undefined (new). */
  userPoolId?: string;
  resumed: boolean;
  phases: PlanPhase[];
  users: { total: number; toCreate: number; alreadyDone: number; externalProvider: number };
  /** How the snapshot's native users would land (counts over all of them). */
  signIn: {
    passwordState: PasswordState;
    confirmed: number;
    passwordless: number;
    forceChangePassword: number;
    needsAdmin: number;
  };
  usersPath: UsersPathPlan;
  memberships: number;
  disabled: number;
  links: number;
  stateDir: string;
  /** Resources the restore already knows it will skip (secrets missing) — exit 6 when run. */
  resourceFailures: ResourceFailure[];
  warnings: RestoreWarning[];
}

export type RestoreOutcome = RestoreResult | RestorePlan;
