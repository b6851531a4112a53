import { z } from 'zod';

/**
 * Every environment variable the cognito-vault Lambda functions read: their names (the CDK
 * construct sets them by these names, src/cdk imports this module) and the shape of their raw
 * values (checked before anything runs; config.ts turns them into a typed configuration).
 * Loads zod only: no AWS SDK, no engine.
 */
export const ENV = {
  /** s3://bucket/prefix where snapshots go (required). */
  to: 'COGNITO_VAULT_TO',
  /** Comma-separated pool ids, or `*` for every pool of each Region (and account). */
  userPoolIds: 'COGNITO_VAULT_USER_POOL_IDS',
  /** With `*`: the Regions to list (us-east-1,eu-west-1) or `all` (default: AWS_REGION). */
  regions: 'COGNITO_VAULT_REGIONS',
  /** Other accounts to back up (Step Functions path; default: the function's own). */
  accounts: 'COGNITO_VAULT_ACCOUNTS',
  /** The role to assume in each of them, `{account}` replaced by the account id. */
  roleArnPattern: 'COGNITO_VAULT_ROLE_ARN_PATTERN',
  /** Share of each Cognito quota to use (default 0.5). */
  rateShare: 'COGNITO_VAULT_RATE_SHARE',
  /** Per-category ceilings like the CLI's --max-rps: `UserList=10,UserCreation=20`. */
  maxRps: 'COGNITO_VAULT_MAX_RPS',
  /** `true` to keep app client and IdP secrets (default false). */
  includeSecrets: 'COGNITO_VAULT_INCLUDE_SECRETS',
  /** age X25519 recipients (age1…, comma- or space-separated): encrypt every data file. */
  encryptTo: 'COGNITO_VAULT_ENCRYPT_TO',
  /** `true` to capture each user's MFA settings (AdminGetUser per user, billed as MAU). */
  userMfa: 'COGNITO_VAULT_USER_MFA',
  /** SSE-KMS key of the snapshot objects (default: the bucket's default encryption). */
  kmsKeyId: 'COGNITO_VAULT_KMS_KEY_ID',
  /** 12-digit account that must own the bucket (every S3 request carries it). */
  expectedBucketOwner: 'COGNITO_VAULT_EXPECTED_BUCKET_OWNER',
  /** Retention after each backup: keep the newest N complete snapshots of each pool. */
  keepLast: 'COGNITO_VAULT_KEEP_LAST',
  /** … plus the newest of each of the last N days. */
  keepDaily: 'COGNITO_VAULT_KEEP_DAILY',
  /** … plus the newest of each of the last N months. */
  keepMonthly: 'COGNITO_VAULT_KEEP_MONTHLY',
  /** Delete incomplete snapshots idle this long (default 7d). */
  incompleteGrace: 'COGNITO_VAULT_INCOMPLETE_GRACE',
  /** Resume a pool's interrupted snapshot younger than this (default 24h or the grace; `off`). */
  resumeMaxAge: 'COGNITO_VAULT_RESUME_MAX_AGE',
  /** Stop a unit this long before the Lambda timeout (Step Functions path; default 30000). */
  deadlineMarginMs: 'COGNITO_VAULT_DEADLINE_MARGIN_MS',
  /** The completion metric's namespace (default CognitoVault). */
  metricNamespace: 'COGNITO_VAULT_METRIC_NAMESPACE',
  /** The vault's name: the `Vault` dimension of its metrics and the logger's service. */
  vaultName: 'COGNITO_VAULT_NAME',
  /** Cognito and S3 endpoint (emulators and tests only). */
  endpointUrl: 'COGNITO_VAULT_ENDPOINT_URL',
  /** Restore drill: users per drill, a deterministic sample (empty: every user). */
  drillSample: 'COGNITO_VAULT_DRILL_SAMPLE',
  /** Restore drill: changes which users the sample draws. */
  drillSeed: 'COGNITO_VAULT_DRILL_SEED',
} as const;

export type EnvKey = keyof typeof ENV;
export type EnvName = (typeof ENV)[EnvKey];

const trimmed = z
  .string()
  .transform((s) => s.trim())
  .optional();
const bool = (name: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const s = v?.trim().toLowerCase();
      if (s === undefined || s === '' || s === 'false') return false;
      if (s === 'true') return true;
      ctx.addIssue({ code: 'custom', message: `${name} must be true or false, got "${v}"` });
      return z.NEVER;
    });
const wholeNumber = (name: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const s = v?.trim();
      if (s === undefined || s === '') return undefined;
      const n = Number(s);
      if (!/^\d+$/.test(s) || !Number.isSafeInteger(n)) {
        ctx.addIssue({ code: 'custom', message: `${name} must be a whole number, got "${s}"` });
        return z.NEVER;
      }
      return n;
    });

/**
 * The raw values, each checked for its shape (booleans, whole numbers, the rate share's range,
 * an account id, an s3:// location). What needs more than its own text — pool ids against their
 * Region, Region names, durations, age recipients, the retention's rules — config.ts checks.
 */
export const envSchema = z.object({
  [ENV.to]: z
    .string({ message: `${ENV.to} must be an s3://bucket/prefix location` })
    .transform((s) => s.trim())
    .refine((s) => s.startsWith('s3://'), `${ENV.to} must be an s3://bucket/prefix location`),
  [ENV.userPoolIds]: trimmed,
  [ENV.regions]: z.string().optional(),
  [ENV.accounts]: trimmed,
  [ENV.roleArnPattern]: trimmed,
  [ENV.rateShare]: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!v) return 0.5;
      const n = Number(v);
      if (!(n > 0 && n <= 1)) {
        ctx.addIssue({ code: 'custom', message: `${ENV.rateShare} must be a number in (0, 1]` });
        return z.NEVER;
      }
      return n;
    }),
  [ENV.maxRps]: trimmed,
  // Only the literal `true` keeps secrets (anything else does not: never keep them by accident).
  [ENV.includeSecrets]: z
    .string()
    .optional()
    .transform((v) => v === 'true'),
  [ENV.encryptTo]: z.string().optional(),
  [ENV.userMfa]: bool(ENV.userMfa),
  [ENV.kmsKeyId]: z.string().optional(),
  [ENV.expectedBucketOwner]: trimmed.refine(
    (v) => !v || /^\d{12}$/.test(v),
    `${ENV.expectedBucketOwner} must be a 12-digit AWS account id`,
  ),
  [ENV.keepLast]: wholeNumber(ENV.keepLast),
  [ENV.keepDaily]: wholeNumber(ENV.keepDaily),
  [ENV.keepMonthly]: wholeNumber(ENV.keepMonthly),
  [ENV.incompleteGrace]: trimmed,
  [ENV.resumeMaxAge]: trimmed,
  [ENV.deadlineMarginMs]: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const s = v?.trim();
      if (!s) return undefined;
      const n = Number(s);
      if (!(Number.isSafeInteger(n) && n >= 0)) {
        ctx.addIssue({ code: 'custom', message: `${ENV.deadlineMarginMs} must be milliseconds` });
        return z.NEVER;
      }
      return n;
    }),
  [ENV.metricNamespace]: z.string().optional(),
  [ENV.vaultName]: z.string().optional(),
  [ENV.endpointUrl]: z.string().optional(),
  [ENV.drillSample]: wholeNumber(ENV.drillSample).refine(
    (n) => n === undefined || n > 0,
    `${ENV.drillSample} must be a positive whole number of users`,
  ),
  [ENV.drillSeed]: trimmed,
  AWS_REGION: z.string().optional(),
});

export type RawEnv = z.output<typeof envSchema>;
