import { setMaxListeners } from 'node:events';
import { backupSummary, type BackupSummary } from '../backup/engine.js';
import { backupRegions, type RegionOutcome, type RegionPlan } from '../backup/regions.js';
import { findResumableBackup } from '../backup/resume.js';
import { DEFAULT_INCOMPLETE_GRACE_MS, formatDuration } from '../core/duration.js';
import {
  InterruptedError,
  isVaultError,
  UsageError,
  VaultError,
  ExitCode,
} from '../core/errors.js';
import { CognitoGateway, regionOfPoolId } from '../cognito/gateway.js';
import { isOptInRegion, parseRegionList, type RegionSelection } from '../cognito/regions.js';
import { parseRecipientList } from '../core/age-keys.js';
import {
  parseDuration,
  prune,
  type RetentionPolicy,
  validatePolicy,
} from '../snapshot/retention.js';
import { ACCOUNT_ID, openStorage } from '../storage/index.js';

/**
 * The scheduled backup as an AWS Lambda handler (runtime nodejs22.x), as thin as the CLI:
 * configuration from the environment → backup engine → a JSON result.
 *
 * Environment:
 *   COGNITO_VAULT_TO               s3://bucket/prefix where snapshots go (required)
 *   COGNITO_VAULT_USER_POOL_IDS    comma-separated pool ids, or `*` for every pool in the Region
 *                                  (pools of several Regions: each Region has its own gateway)
 *   COGNITO_VAULT_REGIONS          with `*`: these Regions (us-east-1,eu-west-1) or `all`, backed
 *                                  up in parallel, pools within a Region in sequence (default:
 *                                  AWS_REGION only)
 *   COGNITO_VAULT_RATE_SHARE       share of each Cognito quota to use (default 0.5: a scheduled
 *                                  job leaves half to the production traffic it shares it with)
 *   COGNITO_VAULT_INCLUDE_SECRETS  `true` to keep client/IdP secrets (default false)
 *   COGNITO_VAULT_ENCRYPT_TO       age X25519 recipients (age1…, comma- or space-separated):
 *                                  every data file is encrypted to them before it is uploaded,
 *                                  as with `backup --encrypt-to` (default: not encrypted)
 *   COGNITO_VAULT_USER_MFA         `true` to capture each user's MFA settings (`backup
 *                                  --user-mfa`): one AdminGetUser per user, and each user read
 *                                  that way is billed as a monthly active user (default false;
 *                                  the result's `userMfa.billedAsMau` counts them)
 *   COGNITO_VAULT_KMS_KEY_ID       SSE-KMS key for the snapshot objects (default: bucket default)
 *   COGNITO_VAULT_EXPECTED_BUCKET_OWNER  12-digit account that must own the bucket (every S3
 *                                  request carries ExpectedBucketOwner)
 *   COGNITO_VAULT_KEEP_LAST        after the backups, prune each pool to this many snapshots
 *   COGNITO_VAULT_KEEP_DAILY       … plus one per day for this many days
 *   COGNITO_VAULT_KEEP_MONTHLY     … plus one per month for this many months
 *   COGNITO_VAULT_INCOMPLETE_GRACE delete incomplete snapshots idle this long (default 7d)
 *   COGNITO_VAULT_RESUME_MAX_AGE   resume a pool's newest interrupted snapshot if it started less
 *                                  than this long ago (default 24h, or the incomplete grace if
 *                                  shorter; `off`: always start anew); at most the grace
 *   COGNITO_VAULT_ENDPOINT_URL     Cognito and S3 endpoint (emulators and tests only)
 *   AWS_REGION                     set by Lambda
 * The event may name pools too: `{ "userPoolIds": ["eu-west-1_AbC"] }` overrides the variable.
 */
export interface LambdaConfig {
  to: string;
  userPoolIds: string[] | '*';
  region: string | undefined;
  /** COGNITO_VAULT_REGIONS (with userPoolIds `*` only). */
  regions?: RegionSelection;
  rateShare: number;
  includeSecrets: boolean;
  /** COGNITO_VAULT_ENCRYPT_TO: age recipients (validated). */
  encryptTo?: string[];
  /** COGNITO_VAULT_USER_MFA: per-user MFA settings (AdminGetUser per user, billed as MAU). */
  userMfa: boolean;
  kmsKeyId?: string;
  expectedBucketOwner?: string;
  endpointUrl?: string;
  retention?: RetentionPolicy;
  /** Resume interrupted snapshots started less than this long ago; undefined: never resume. */
  resumeMaxAgeMs?: number;
}

/** Default COGNITO_VAULT_RESUME_MAX_AGE: a resumed snapshot's users span at most a day. */
export const DEFAULT_RESUME_MAX_AGE_MS = 24 * 3_600_000;

export interface ScheduledBackupEvent {
  userPoolIds?: string[];
}

/** The part of the Lambda context the handler uses. */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

export interface LambdaFailure {
  /** The pool, or `*` when a whole Region failed (its pools could not be listed). */
  userPoolId: string;
  region?: string;
  code: string;
  message: string;
  exitCode: number;
  /** An interrupted backup: the snapshot the next invocation resumes. */
  snapshotId?: string;
}

export interface LambdaBackupResult {
  snapshots: (BackupSummary & { region: string })[];
  /**
   * Snapshots this invocation resumed (an earlier invocation was stopped before its timeout
   * or killed) instead of starting anew; they are in `snapshots` (or `failures`) too.
   */
  resumed: { userPoolId: string; snapshotId: string }[];
  /** Backups that failed: the handler throws when there is any. */
  failures: LambdaFailure[];
  /** Snapshots deleted by the retention policy. */
  pruned: { userPoolId: string; snapshotId: string }[];
  /**
   * Snapshots retention did not delete although no keep rule holds them, and why: unreadable
   * or of an unknown format (never deleted), in use (a live lease), or incomplete and still
   * inside the grace period.
   */
  retained: { userPoolId: string; snapshotId: string; reasons: string[]; why?: string }[];
  /**
   * Retention that failed after a successful backup. Reported, logged, and not thrown: a throw
   * makes Lambda retry the whole invocation, backing every pool up again.
   */
  pruneFailures: LambdaFailure[];
  /** Per Region: pools found, backed up, failed; status (ok, failed, skipped); quota report. */
  regions: RegionOutcome[];
}

/** Stop this long before Lambda's own timeout, so the failure is ours and reported. */
export const TIMEOUT_MARGIN_MS = 10_000;

export function configFromEnv(
  env: NodeJS.ProcessEnv,
  event: ScheduledBackupEvent = {},
): LambdaConfig {
  const common = commonConfigFromEnv(env);
  if (
    event.userPoolIds !== undefined &&
    (!Array.isArray(event.userPoolIds) || event.userPoolIds.some((p) => typeof p !== 'string'))
  ) {
    throw new UsageError('LAMBDA_CONFIG', "the event's userPoolIds must be an array of pool ids");
  }
  const listed = event.userPoolIds ?? splitList(env.COGNITO_VAULT_USER_POOL_IDS);
  const userPoolIds = listed.length === 1 && listed[0] === '*' ? '*' : listed;
  if (userPoolIds !== '*' && userPoolIds.length === 0) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      'no pools: set COGNITO_VAULT_USER_POOL_IDS (ids, or * for every pool)',
    );
  }
  if (userPoolIds !== '*') for (const id of userPoolIds) regionOfPoolId(id);
  const regionsText = env.COGNITO_VAULT_REGIONS?.trim();
  let regions: RegionSelection | undefined;
  if (env.COGNITO_VAULT_REGIONS !== undefined) {
    if (userPoolIds !== '*') {
      throw new UsageError(
        'LAMBDA_CONFIG',
        'COGNITO_VAULT_REGIONS goes with COGNITO_VAULT_USER_POOL_IDS=* only (pool ids name their Region)',
      );
    }
    try {
      regions = parseRegionList(regionsText ?? '', 'COGNITO_VAULT_REGIONS');
    } catch (e) {
      throw new UsageError('LAMBDA_CONFIG', (e as Error).message);
    }
  }
  return { ...common, userPoolIds, ...(regions ? { regions } : {}) };
}

/** A comma-separated environment variable as a list (blank entries dropped). */
export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * What every cognito-vault Lambda reads from its environment apart from the pools: the
 * location, rate share, secrets, KMS key, bucket owner, retention and endpoint (the scheduled
 * handler here and the Step Functions handlers in stepfunctions.ts share it).
 */
export function commonConfigFromEnv(
  env: NodeJS.ProcessEnv,
): Omit<LambdaConfig, 'userPoolIds' | 'regions'> {
  const to = env.COGNITO_VAULT_TO?.trim();
  if (!to?.startsWith('s3://')) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      'COGNITO_VAULT_TO must be an s3://bucket/prefix location',
    );
  }
  const owner = env.COGNITO_VAULT_EXPECTED_BUCKET_OWNER?.trim();
  if (owner && !ACCOUNT_ID.test(owner)) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      'COGNITO_VAULT_EXPECTED_BUCKET_OWNER must be a 12-digit AWS account id',
    );
  }
  const bool = (name: string): boolean => {
    const v = env[name]?.trim().toLowerCase();
    if (v === undefined || v === '' || v === 'false') return false;
    if (v === 'true') return true;
    throw new UsageError('LAMBDA_CONFIG', `${name} must be true or false, got "${env[name]}"`);
  };
  const userMfa = bool('COGNITO_VAULT_USER_MFA');
  const rateShare = env.COGNITO_VAULT_RATE_SHARE ? Number(env.COGNITO_VAULT_RATE_SHARE) : 0.5;
  if (!(rateShare > 0 && rateShare <= 1)) {
    throw new UsageError('LAMBDA_CONFIG', 'COGNITO_VAULT_RATE_SHARE must be a number in (0, 1]');
  }
  const int = (name: string): number | undefined => {
    const v = env[name]?.trim();
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n))
      throw new UsageError('LAMBDA_CONFIG', `${name} must be a whole number, got "${v}"`);
    return n;
  };
  const keepLast = int('COGNITO_VAULT_KEEP_LAST');
  const keepDaily = int('COGNITO_VAULT_KEEP_DAILY');
  const keepMonthly = int('COGNITO_VAULT_KEEP_MONTHLY');
  const graceText = env.COGNITO_VAULT_INCOMPLETE_GRACE?.trim();
  const incompleteGraceMs = graceText ? parseDuration(graceText) : undefined;
  if (graceText && incompleteGraceMs === undefined) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      `COGNITO_VAULT_INCOMPLETE_GRACE must be a duration such as 7d or 36h, got "${graceText}"`,
    );
  }
  if (
    (keepDaily !== undefined || keepMonthly !== undefined || incompleteGraceMs !== undefined) &&
    keepLast === undefined
  ) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      'COGNITO_VAULT_KEEP_DAILY/MONTHLY and COGNITO_VAULT_INCOMPLETE_GRACE need COGNITO_VAULT_KEEP_LAST',
    );
  }
  // Age since the start ≥ idle time, so a snapshot young enough to resume is never one
  // retention deletes as abandoned: the default is capped at the grace, a larger value refused.
  const grace = incompleteGraceMs ?? DEFAULT_INCOMPLETE_GRACE_MS;
  const resumeText = env.COGNITO_VAULT_RESUME_MAX_AGE?.trim();
  const resumeMaxAgeMs =
    resumeText === 'off'
      ? undefined
      : resumeText
        ? parseDuration(resumeText)
        : Math.min(DEFAULT_RESUME_MAX_AGE_MS, grace);
  if (resumeText && resumeText !== 'off' && !resumeMaxAgeMs) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      `COGNITO_VAULT_RESUME_MAX_AGE must be a duration such as 24h, or off, got "${resumeText}"`,
    );
  }
  if (resumeMaxAgeMs !== undefined && keepLast !== undefined && resumeMaxAgeMs > grace) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      `COGNITO_VAULT_RESUME_MAX_AGE (${formatDuration(resumeMaxAgeMs)}) must not exceed COGNITO_VAULT_INCOMPLETE_GRACE (${formatDuration(grace)}): retention would delete snapshots still to be resumed`,
    );
  }
  const retention: RetentionPolicy | undefined =
    keepLast !== undefined
      ? {
          keepLast,
          ...(keepDaily !== undefined ? { keepDaily } : {}),
          ...(keepMonthly !== undefined ? { keepMonthly } : {}),
          ...(incompleteGraceMs !== undefined ? { incompleteGraceMs } : {}),
        }
      : undefined;
  if (retention) {
    // The same rules as prune's flags, checked before any backup runs (KEEP_LAST=0 would
    // otherwise fail every pool after its backup).
    try {
      validatePolicy(retention, {
        keepLast: 'COGNITO_VAULT_KEEP_LAST',
        keepDaily: 'COGNITO_VAULT_KEEP_DAILY',
        keepMonthly: 'COGNITO_VAULT_KEEP_MONTHLY',
        incompleteGrace: 'COGNITO_VAULT_INCOMPLETE_GRACE',
      });
    } catch (e) {
      throw new UsageError('LAMBDA_CONFIG', (e as Error).message);
    }
  }
  let encryptTo: string[] | undefined;
  if (env.COGNITO_VAULT_ENCRYPT_TO !== undefined) {
    try {
      encryptTo = parseRecipientList(env.COGNITO_VAULT_ENCRYPT_TO, 'COGNITO_VAULT_ENCRYPT_TO');
    } catch (e) {
      throw new UsageError('LAMBDA_CONFIG', (e as Error).message);
    }
    // Set but empty is a mistake (a template variable that did not expand), not "no encryption".
    if (encryptTo.length === 0) {
      throw new UsageError(
        'LAMBDA_CONFIG',
        'COGNITO_VAULT_ENCRYPT_TO is set but empty: give age1… recipients, or unset it',
      );
    }
  }
  return {
    ...(retention ? { retention } : {}),
    ...(encryptTo ? { encryptTo } : {}),
    ...(resumeMaxAgeMs !== undefined ? { resumeMaxAgeMs } : {}),
    to,
    region: env.AWS_REGION,
    rateShare,
    includeSecrets: env.COGNITO_VAULT_INCLUDE_SECRETS === 'true',
    userMfa,
    ...(env.COGNITO_VAULT_KMS_KEY_ID ? { kmsKeyId: env.COGNITO_VAULT_KMS_KEY_ID } : {}),
    ...(owner ? { expectedBucketOwner: owner } : {}),
    ...(env.COGNITO_VAULT_ENDPOINT_URL ? { endpointUrl: env.COGNITO_VAULT_ENDPOINT_URL } : {}),
  };
}

function failure(userPoolId: string, e: unknown, region?: string): LambdaFailure {
  const err = isVaultError(e)
    ? e
    : new VaultError(
        'UNEXPECTED',
        // The name only: a raw message can quote data (a JSON parser's does).
        `unexpected failure: ${e instanceof Error ? e.name : 'error'}`,
        ExitCode.Unexpected,
      );
  return {
    userPoolId,
    ...(region ? { region } : {}),
    code: err.code,
    message: err.message,
    exitCode: err.exitCode,
    ...(err instanceof InterruptedError && typeof err.context.snapshotId === 'string'
      ? { snapshotId: err.context.snapshotId }
      : {}),
  };
}

/**
 * The Regions to back up: named pools grouped by the Region their ids name, in the order given;
 * `*` → every pool of each configured Region (COGNITO_VAULT_REGIONS, else AWS_REGION).
 */
export function planRegions(cfg: LambdaConfig): RegionPlan[] {
  if (cfg.userPoolIds === '*') {
    if (!cfg.regions && !cfg.region) {
      throw new UsageError(
        'LAMBDA_CONFIG',
        'COGNITO_VAULT_USER_POOL_IDS=* needs AWS_REGION or COGNITO_VAULT_REGIONS',
      );
    }
    const all = cfg.regions?.all ?? false;
    return (cfg.regions?.regions ?? (cfg.region ? [cfg.region] : [])).map((region) => ({
      region,
      ...(all && isOptInRegion(region) ? { optional: true } : {}),
    }));
  }
  const byRegion = new Map<string, string[]>();
  for (const id of cfg.userPoolIds) {
    const region = regionOfPoolId(id);
    const ids = byRegion.get(region) ?? [];
    if (!ids.includes(id)) ids.push(id);
    byRegion.set(region, ids);
  }
  return [...byRegion].map(([region, userPoolIds]) => ({ region, userPoolIds }));
}

/**
 * Backs up every configured pool, one after another, into the S3 location. A pool that fails
 * does not stop the others; the handler throws at the end if any backup failed, so Lambda's
 * Errors metric (and any alarm on it) sees the failure. Retention failures are reported in
 * `pruneFailures` and logged, never thrown: a throw makes Lambda retry the invocation, which
 * would back every pool up again for a problem a backup cannot fix. Near the Lambda timeout the running backup is
 * aborted: its snapshot stays without a manifest, recognisably incomplete, with its finished
 * units recorded; the next invocation resumes the newest such snapshot of each pool (started
 * less than COGNITO_VAULT_RESUME_MAX_AGE ago, same secrets option) instead of starting anew.
 */
export async function handler(
  event: ScheduledBackupEvent = {},
  context?: LambdaContextLike,
): Promise<LambdaBackupResult> {
  const cfg = configFromEnv(process.env, event ?? {});
  const plans = planRegions(cfg);
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const remaining = context?.getRemainingTimeInMillis();
  const timer =
    remaining !== undefined
      ? setTimeout(
          () => controller.abort(new InterruptedError('stopped before the Lambda timeout')),
          Math.max(0, remaining - TIMEOUT_MARGIN_MS),
        )
      : undefined;
  const storage = openStorage(cfg.to, {
    ...(cfg.region ? { region: cfg.region } : {}),
    ...(cfg.endpointUrl ? { s3EndpointUrl: cfg.endpointUrl } : {}),
    ...(cfg.kmsKeyId ? { kmsKeyId: cfg.kmsKeyId } : {}),
    ...(cfg.expectedBucketOwner ? { expectedBucketOwner: cfg.expectedBucketOwner } : {}),
  });
  const result: LambdaBackupResult = {
    snapshots: [],
    resumed: [],
    failures: [],
    pruned: [],
    retained: [],
    pruneFailures: [],
    regions: [],
  };
  /** Retention, only after a successful backup and only for this pool's snapshots. */
  const retain = async (userPoolId: string): Promise<void> => {
    if (!cfg.retention) return;
    // A retention failure is reported on its own: the backup it follows succeeded.
    try {
      const pruned = await prune(storage, cfg.retention, {
        userPoolId,
        signal: controller.signal,
      });
      const deleted = pruned.decisions
        .filter((d) => !d.keep && !pruned.errors.some((x) => x.path === d.path))
        .map((d) => d.snapshotId);
      result.pruned.push(...deleted.map((snapshotId) => ({ userPoolId, snapshotId })));
      const held = pruned.decisions.filter(
        (d) => d.keep && !d.reasons.some((x) => x === 'last' || x === 'daily' || x === 'monthly'),
      );
      result.retained.push(
        ...held.map((d) => ({
          userPoolId,
          snapshotId: d.snapshotId,
          reasons: d.reasons,
          ...(d.why ? { why: d.why } : {}),
        })),
      );
      for (const x of pruned.errors) {
        result.pruneFailures.push({
          userPoolId,
          code: x.code,
          message: x.message,
          exitCode: x.exitCode,
        });
      }
      if (deleted.length) console.log(JSON.stringify({ userPoolId, pruned: deleted }));
      for (const d of held)
        console.log(
          JSON.stringify({ userPoolId, retained: d.snapshotId, reasons: d.reasons, why: d.why }),
        );
      if (pruned.errors.length)
        console.error(JSON.stringify({ userPoolId, pruneErrors: pruned.errors }));
    } catch (e) {
      const f = failure(userPoolId, e);
      result.pruneFailures.push(f);
      console.error(JSON.stringify({ userPoolId, pruneError: f }));
    }
  };
  try {
    // Regions in parallel, each with its own gateway (quota buckets at the configured share);
    // the pools of one Region one after another, each pruned right after its backup.
    const r = await backupRegions(plans, storage, {
      includeSecrets: cfg.includeSecrets,
      ...(cfg.encryptTo ? { encryptTo: cfg.encryptTo } : {}),
      ...(cfg.userMfa ? { userMfa: true } : {}),
      signal: controller.signal,
      // The newest interrupted snapshot of the pool (young enough, same options) is finished
      // instead of starting from zero; not knowing whether there is one is no reason not to back up.
      ...(cfg.resumeMaxAgeMs !== undefined
        ? {
            resumeFor: async (userPoolId: string) => {
              const id = await findResumableBackup(storage, userPoolId, {
                ...(cfg.resumeMaxAgeMs !== undefined ? { maxAgeMs: cfg.resumeMaxAgeMs } : {}),
                includeSecrets: cfg.includeSecrets,
                userMfa: cfg.userMfa,
                encryptTo: cfg.encryptTo ?? [],
              }).catch((e: unknown) => {
                console.error(
                  JSON.stringify({ userPoolId, resumeLookupError: failure(userPoolId, e) }),
                );
                return undefined;
              });
              if (id !== undefined) {
                result.resumed.push({ userPoolId, snapshotId: id });
                console.log(JSON.stringify({ userPoolId, resuming: id }));
              }
              return id;
            },
          }
        : {}),
      gatewayFor: (region) =>
        CognitoGateway.create(
          { region, ...(cfg.endpointUrl ? { endpointUrl: cfg.endpointUrl } : {}) },
          { rate: { rateShare: cfg.rateShare } },
        ),
      onProgress: (e) => {
        if (e.type === 'phase' || e.type === 'warning' || e.type === 'region')
          console.log(JSON.stringify(e));
      },
      afterPool: async (outcome) => {
        if (!outcome.ok) {
          const { name: _name, ...error } = outcome.error;
          const f: LambdaFailure = {
            userPoolId: outcome.userPoolId,
            region: outcome.region,
            ...error,
          };
          result.failures.push(f);
          console.error(JSON.stringify({ userPoolId: outcome.userPoolId, error: f }));
          return;
        }
        const summary = { ...backupSummary(outcome.result), region: outcome.region };
        result.snapshots.push(summary);
        console.log(JSON.stringify(summary));
        await retain(outcome.userPoolId);
      },
    });
    result.regions = r.regions;
    // In the order of the plan (Regions finish in any order).
    const order = new Map(r.pools.map((p, i) => [p.userPoolId, i]));
    const rank = (id: string): number => order.get(id) ?? -1;
    result.snapshots.sort((a, b) => rank(a.userPoolId) - rank(b.userPoolId));
    result.failures.sort((a, b) => rank(a.userPoolId) - rank(b.userPoolId));
    for (const x of r.regions) {
      if (x.status !== 'failed' || !x.error) continue;
      const { name: _name, ...error } = x.error;
      const f: LambdaFailure = { userPoolId: '*', region: x.region, ...error };
      result.failures.push(f);
      console.error(JSON.stringify({ region: x.region, error: f }));
    }
  } finally {
    if (timer) clearTimeout(timer);
  }
  if (result.failures.length > 0) {
    throw new VaultError(
      'LAMBDA_BACKUP_FAILED',
      `${result.failures.length} of ${result.failures.length + result.snapshots.length} pool backups failed: ${result.failures.map((f) => `${f.userPoolId === '*' ? `every pool of ${f.region ?? '?'}` : f.userPoolId} (${f.code})`).join(', ')}`,
      ExitCode.Unexpected,
      { failed: result.failures.map((f) => f.userPoolId) },
    );
  }
  return result;
}
