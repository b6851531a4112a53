import { backupSummary, type BackupSummary } from '../backup/engine.js';
import { backupRegions, type RegionOutcome, type RegionPlan } from '../backup/regions.js';
import { ExitCode, UsageError, VaultError } from '../core/errors.js';
import { regionOfPoolId } from '../cognito/gateway.js';
import { isOptInRegion } from '../cognito/regions.js';
import { configFromEnv, type LambdaConfig, type ScheduledBackupEvent } from './config.js';
import {
  deadline,
  gatewayFor,
  type LambdaContextLike,
  Logger,
  pruneSummary,
  resumableSnapshot,
  storageFor,
  TIMEOUT_MARGIN_MS,
} from './runtime.js';

export {
  commonConfigFromEnv,
  configFromEnv,
  DEFAULT_RESUME_MAX_AGE_MS,
  splitList,
  type LambdaConfig,
  type ScheduledBackupEvent,
} from './config.js';
export { type LambdaContextLike, TIMEOUT_MARGIN_MS } from './runtime.js';

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
  const log = new Logger({ ...(context ? { context } : {}) });
  const stop = deadline(context, cfg.deadlineMarginMs ?? TIMEOUT_MARGIN_MS);
  const storage = storageFor(cfg);
  const result: LambdaBackupResult = {
    snapshots: [],
    resumed: [],
    failures: [],
    pruned: [],
    retained: [],
    pruneFailures: [],
    regions: [],
  };
  try {
    // Regions in parallel, each with its own gateway (quota buckets at the configured share);
    // the pools of one Region one after another, each pruned right after its backup.
    const r = await backupRegions(plans, storage, {
      includeSecrets: cfg.includeSecrets,
      ...(cfg.encryptTo ? { encryptTo: cfg.encryptTo } : {}),
      ...(cfg.userMfa ? { userMfa: true } : {}),
      signal: stop.signal,
      // The newest interrupted snapshot of the pool (young enough, same options) is finished
      // instead of starting from zero.
      ...(cfg.resumeMaxAgeMs !== undefined
        ? {
            resumeFor: async (userPoolId: string) => {
              const id = await resumableSnapshot(storage, cfg, userPoolId, log);
              if (id !== undefined) result.resumed.push({ userPoolId, snapshotId: id });
              return id;
            },
          }
        : {}),
      gatewayFor: (region) => gatewayFor(cfg, region),
      onProgress: (e) => {
        if (e.type === 'phase' || e.type === 'warning' || e.type === 'region') {
          const { type, ...keys } = e;
          log.log(type === 'warning' ? 'WARN' : 'INFO', type, keys);
        }
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
          log.error('backup failed', { userPoolId: outcome.userPoolId, error: f });
          return;
        }
        const summary = { ...backupSummary(outcome.result), region: outcome.region };
        result.snapshots.push(summary);
        log.info('backup complete', { ...summary });
        // Retention, only after a successful backup and only for this pool's snapshots.
        if (!cfg.retention) return;
        const userPoolId = outcome.userPoolId;
        const p = await pruneSummary(storage, cfg.retention, userPoolId, log, stop.signal);
        result.pruned.push(...p.pruned.map((snapshotId) => ({ userPoolId, snapshotId })));
        result.retained.push(...p.retained.map((d) => ({ userPoolId, ...d })));
        result.pruneFailures.push(...p.errors.map((x) => ({ userPoolId, ...x })));
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
      log.error('region failed', { region: x.region, error: f });
    }
  } finally {
    stop.dispose();
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
