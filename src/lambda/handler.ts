import { setMaxListeners } from 'node:events';
import { backupPool, backupSummary, type BackupSummary } from '../backup/engine.js';
import {
  InterruptedError,
  isVaultError,
  UsageError,
  VaultError,
  ExitCode,
} from '../core/errors.js';
import type { ProgressEvent } from '../core/progress.js';
import { CognitoGateway, regionOfPoolId } from '../cognito/gateway.js';
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
 *   COGNITO_VAULT_RATE_SHARE       share of each Cognito quota to use (default 0.5: a scheduled
 *                                  job leaves half to the production traffic it shares it with)
 *   COGNITO_VAULT_INCLUDE_SECRETS  `true` to keep client/IdP secrets (default false)
 *   COGNITO_VAULT_KMS_KEY_ID       SSE-KMS key for the snapshot objects (default: bucket default)
 *   COGNITO_VAULT_EXPECTED_BUCKET_OWNER  12-digit account that must own the bucket (every S3
 *                                  request carries ExpectedBucketOwner)
 *   COGNITO_VAULT_KEEP_LAST        after the backups, prune each pool to this many snapshots
 *   COGNITO_VAULT_KEEP_DAILY       … plus one per day for this many days
 *   COGNITO_VAULT_KEEP_MONTHLY     … plus one per month for this many months
 *   COGNITO_VAULT_INCOMPLETE_GRACE delete incomplete snapshots idle this long (default 7d)
 *   COGNITO_VAULT_ENDPOINT_URL     Cognito and S3 endpoint (emulators and tests only)
 *   AWS_REGION                     set by Lambda
 * The event may name pools too: `{ "userPoolIds": ["eu-west-1_AbC"] }` overrides the variable.
 */
export interface LambdaConfig {
  to: string;
  userPoolIds: string[] | '*';
  region: string | undefined;
  rateShare: number;
  includeSecrets: boolean;
  kmsKeyId?: string;
  expectedBucketOwner?: string;
  endpointUrl?: string;
  retention?: RetentionPolicy;
}

export interface ScheduledBackupEvent {
  userPoolIds?: string[];
}

/** The part of the Lambda context the handler uses. */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

export interface LambdaFailure {
  userPoolId: string;
  code: string;
  message: string;
  exitCode: number;
}

export interface LambdaBackupResult {
  snapshots: BackupSummary[];
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
}

/** Stop this long before Lambda's own timeout, so the failure is ours and reported. */
export const TIMEOUT_MARGIN_MS = 10_000;

export function configFromEnv(
  env: NodeJS.ProcessEnv,
  event: ScheduledBackupEvent = {},
): LambdaConfig {
  const to = env.COGNITO_VAULT_TO?.trim();
  if (!to?.startsWith('s3://')) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      'COGNITO_VAULT_TO must be an s3://bucket/prefix location',
    );
  }
  if (
    event.userPoolIds !== undefined &&
    (!Array.isArray(event.userPoolIds) || event.userPoolIds.some((p) => typeof p !== 'string'))
  ) {
    throw new UsageError('LAMBDA_CONFIG', "the event's userPoolIds must be an array of pool ids");
  }
  const listed =
    event.userPoolIds ??
    (env.COGNITO_VAULT_USER_POOL_IDS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const userPoolIds = listed.length === 1 && listed[0] === '*' ? '*' : listed;
  if (userPoolIds !== '*' && userPoolIds.length === 0) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      'no pools: set COGNITO_VAULT_USER_POOL_IDS (ids, or * for every pool)',
    );
  }
  if (userPoolIds !== '*') for (const id of userPoolIds) regionOfPoolId(id);
  const owner = env.COGNITO_VAULT_EXPECTED_BUCKET_OWNER?.trim();
  if (owner && !ACCOUNT_ID.test(owner)) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      'COGNITO_VAULT_EXPECTED_BUCKET_OWNER must be a 12-digit AWS account id',
    );
  }
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
  return {
    ...(retention ? { retention } : {}),
    to,
    userPoolIds,
    region: env.AWS_REGION,
    rateShare,
    includeSecrets: env.COGNITO_VAULT_INCLUDE_SECRETS === 'true',
    ...(env.COGNITO_VAULT_KMS_KEY_ID ? { kmsKeyId: env.COGNITO_VAULT_KMS_KEY_ID } : {}),
    ...(owner ? { expectedBucketOwner: owner } : {}),
    ...(env.COGNITO_VAULT_ENDPOINT_URL ? { endpointUrl: env.COGNITO_VAULT_ENDPOINT_URL } : {}),
  };
}

function failure(userPoolId: string, e: unknown): LambdaFailure {
  const err = isVaultError(e)
    ? e
    : new VaultError(
        'UNEXPECTED',
        // The name only: a raw message can quote data (a JSON parser's does).
        `unexpected failure: ${e instanceof Error ? e.name : 'error'}`,
        ExitCode.Unexpected,
      );
  return { userPoolId, code: err.code, message: err.message, exitCode: err.exitCode };
}

/** One JSON log line per phase and warning: never attribute values. */
function log(userPoolId: string, e: ProgressEvent): void {
  if (e.type === 'phase' || e.type === 'warning') console.log(JSON.stringify({ userPoolId, ...e }));
}

/**
 * Backs up every configured pool, one after another, into the S3 location. A pool that fails
 * does not stop the others; the handler throws at the end if any backup failed, so Lambda's
 * Errors metric (and any alarm on it) sees the failure. Retention failures are reported in
 * `pruneFailures` and logged, never thrown: a throw makes Lambda retry the invocation, which
 * would back every pool up again for a problem a backup cannot fix. Near the Lambda timeout the running backup is
 * aborted: its snapshot stays without a manifest, recognisably incomplete.
 */
export async function handler(
  event: ScheduledBackupEvent = {},
  context?: LambdaContextLike,
): Promise<LambdaBackupResult> {
  const cfg = configFromEnv(process.env, event ?? {});
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
  const gw = CognitoGateway.create(
    {
      ...(cfg.region ? { region: cfg.region } : {}),
      ...(cfg.endpointUrl ? { endpointUrl: cfg.endpointUrl } : {}),
    },
    { rate: { rateShare: cfg.rateShare } },
  );
  const storage = openStorage(cfg.to, {
    ...(cfg.region ? { region: cfg.region } : {}),
    ...(cfg.endpointUrl ? { s3EndpointUrl: cfg.endpointUrl } : {}),
    ...(cfg.kmsKeyId ? { kmsKeyId: cfg.kmsKeyId } : {}),
    ...(cfg.expectedBucketOwner ? { expectedBucketOwner: cfg.expectedBucketOwner } : {}),
  });
  const result: LambdaBackupResult = {
    snapshots: [],
    failures: [],
    pruned: [],
    retained: [],
    pruneFailures: [],
  };
  try {
    const ids: string[] = [];
    if (cfg.userPoolIds === '*') {
      for await (const p of gw.listUserPools()) if (p.Id) ids.push(p.Id);
    } else ids.push(...cfg.userPoolIds);
    for (const userPoolId of ids) {
      if (controller.signal.aborted) {
        result.failures.push({
          userPoolId,
          code: 'INTERRUPTED',
          message: 'not started: the Lambda ran out of time',
          exitCode: ExitCode.Interrupted,
        });
        continue;
      }
      let backedUp = false;
      try {
        const r = await backupPool(gw, storage, {
          userPoolId,
          includeSecrets: cfg.includeSecrets,
          signal: controller.signal,
          onProgress: (e) => log(userPoolId, e),
        });
        const summary = backupSummary(r);
        result.snapshots.push(summary);
        console.log(JSON.stringify(summary));
        backedUp = true;
      } catch (e) {
        const f = failure(userPoolId, e);
        result.failures.push(f);
        console.error(JSON.stringify({ userPoolId, error: f }));
      }
      if (!backedUp || !cfg.retention) continue;
      // Only after a successful backup, and only this pool's snapshots. A retention failure is
      // reported on its own: the backup it follows succeeded.
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
    }
  } finally {
    if (timer) clearTimeout(timer);
    gw.destroy();
  }
  if (result.failures.length > 0) {
    throw new VaultError(
      'LAMBDA_BACKUP_FAILED',
      `${result.failures.length} of ${result.failures.length + result.snapshots.length} pool backups failed: ${result.failures.map((f) => `${f.userPoolId} (${f.code})`).join(', ')}`,
      ExitCode.Unexpected,
      { failed: result.failures.map((f) => f.userPoolId) },
    );
  }
  return result;
}
