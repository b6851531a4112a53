import { parseRecipientList } from '../core/age-keys.js';
import { DEFAULT_INCOMPLETE_GRACE_MS, formatDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';
import { regionOfPoolId } from '../cognito/gateway.js';
import { isQuotaCategory, type QuotaCategory } from '../cognito/quotas.js';
import { parseRegionList, type RegionSelection } from '../cognito/regions.js';
import { parseDuration, type RetentionPolicy, validatePolicy } from '../snapshot/retention.js';
import { ENV, envSchema, type RawEnv } from './env.js';

/**
 * The Lambda functions' configuration, from their environment (names and raw shapes in env.ts):
 * one reading for the scheduled handler (handler.ts) and the Step Functions handlers
 * (stepfunctions.ts). Every mistake is one UsageError (exit 2) naming the variable.
 */
export interface LambdaConfig {
  to: string;
  userPoolIds: string[] | '*';
  region: string | undefined;
  /** COGNITO_VAULT_REGIONS (with userPoolIds `*` only). */
  regions?: RegionSelection;
  rateShare: number;
  /** COGNITO_VAULT_MAX_RPS: per-category ceilings (requests/s), over the rate share. */
  maxRps?: Partial<Record<QuotaCategory, number>>;
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
  /** COGNITO_VAULT_DEADLINE_MARGIN_MS, when set. */
  deadlineMarginMs?: number;
}

/** What every function reads apart from the pools and Regions. */
export type CommonConfig = Omit<LambdaConfig, 'userPoolIds' | 'regions'>;

/** The drill Lambda's configuration (drill.ts): the common one plus the sample and its seed. */
export interface DrillConfig extends CommonConfig {
  /** COGNITO_VAULT_DRILL_SAMPLE: users per drill; undefined: every user. */
  sample?: number;
  /** COGNITO_VAULT_DRILL_SEED. */
  seed?: string;
}

/** Default COGNITO_VAULT_RESUME_MAX_AGE: a resumed snapshot's users span at most a day. */
export const DEFAULT_RESUME_MAX_AGE_MS = 24 * 3_600_000;

export interface ScheduledBackupEvent {
  userPoolIds?: string[];
}

const usage = (message: string): UsageError => new UsageError('LAMBDA_CONFIG', message);

/** The same bounds as the CLI's --max-rps (src/cli/validate.ts). */
const MAX_RPS = { min: 0.1, max: 100_000 } as const;

/** COGNITO_VAULT_MAX_RPS: `CATEGORY=N` pairs separated by commas or spaces. */
function parseMaxRpsList(
  text: string | undefined,
): Partial<Record<QuotaCategory, number>> | undefined {
  if (text === undefined || text === '') return undefined;
  const out: Partial<Record<QuotaCategory, number>> = {};
  for (const spec of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^([A-Za-z]+)=(\d+(?:\.\d+)?)$/.exec(spec);
    const n = Number(m?.[2]);
    if (!m?.[1] || !isQuotaCategory(m[1]) || !(n >= MAX_RPS.min && n <= MAX_RPS.max)) {
      throw usage(
        `${ENV.maxRps} expects CATEGORY=N pairs with a Cognito quota category and N from ${MAX_RPS.min} to ${MAX_RPS.max} (e.g. UserList=10), got "${spec}"`,
      );
    }
    out[m[1]] = n;
  }
  return out;
}

/** The raw variables, each checked for its shape (env.ts). */
export function readEnv(env: NodeJS.ProcessEnv): RawEnv {
  const r = envSchema.safeParse(env);
  if (!r.success) throw usage(r.error.issues[0]?.message ?? 'bad environment');
  return r.data;
}

/** A comma-separated environment variable as a list (blank entries dropped). */
export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The scheduled handler's configuration: the common one plus pools and Regions. */
export function configFromEnv(
  env: NodeJS.ProcessEnv,
  event: ScheduledBackupEvent = {},
): LambdaConfig {
  const common = commonConfigFromEnv(env);
  if (
    event.userPoolIds !== undefined &&
    (!Array.isArray(event.userPoolIds) || event.userPoolIds.some((p) => typeof p !== 'string'))
  ) {
    throw usage("the event's userPoolIds must be an array of pool ids");
  }
  const listed = event.userPoolIds ?? splitList(env[ENV.userPoolIds]);
  const userPoolIds = listed.length === 1 && listed[0] === '*' ? '*' : listed;
  if (userPoolIds !== '*' && userPoolIds.length === 0) {
    throw usage(`no pools: set ${ENV.userPoolIds} (ids, or * for every pool)`);
  }
  if (userPoolIds !== '*') for (const id of userPoolIds) regionOfPoolId(id);
  let regions: RegionSelection | undefined;
  if (env[ENV.regions] !== undefined) {
    if (userPoolIds !== '*') {
      throw usage(
        `${ENV.regions} goes with ${ENV.userPoolIds}=* only (pool ids name their Region)`,
      );
    }
    regions = regionList(env[ENV.regions]);
  }
  return { ...common, userPoolIds, ...(regions ? { regions } : {}) };
}

/** COGNITO_VAULT_REGIONS (or the event's list): names of Regions with user pools, or `all`. */
export function regionList(text: string | undefined): RegionSelection {
  try {
    return parseRegionList(text?.trim() ?? '', ENV.regions);
  } catch (e) {
    throw usage((e as Error).message);
  }
}

/**
 * What every cognito-vault Lambda reads from its environment apart from the pools: the
 * location, rate share, secrets, KMS key, bucket owner, retention, resume, deadline and endpoint.
 */
export function commonConfigFromEnv(env: NodeJS.ProcessEnv): CommonConfig {
  const raw = readEnv(env);
  const keepLast = raw[ENV.keepLast];
  const keepDaily = raw[ENV.keepDaily];
  const keepMonthly = raw[ENV.keepMonthly];
  const graceText = raw[ENV.incompleteGrace];
  const incompleteGraceMs = graceText ? parseDuration(graceText) : undefined;
  if (graceText && incompleteGraceMs === undefined) {
    throw usage(`${ENV.incompleteGrace} must be a duration such as 7d or 36h, got "${graceText}"`);
  }
  if (
    (keepDaily !== undefined || keepMonthly !== undefined || incompleteGraceMs !== undefined) &&
    keepLast === undefined
  ) {
    throw usage(`${ENV.keepDaily}/MONTHLY and ${ENV.incompleteGrace} need ${ENV.keepLast}`);
  }
  // Age since the start ≥ idle time, so a snapshot young enough to resume is never one
  // retention deletes as abandoned: the default is capped at the grace, a larger value refused.
  const grace = incompleteGraceMs ?? DEFAULT_INCOMPLETE_GRACE_MS;
  const resumeText = raw[ENV.resumeMaxAge];
  const resumeMaxAgeMs =
    resumeText === 'off'
      ? undefined
      : resumeText
        ? parseDuration(resumeText)
        : Math.min(DEFAULT_RESUME_MAX_AGE_MS, grace);
  if (resumeText && resumeText !== 'off' && !resumeMaxAgeMs) {
    throw usage(`${ENV.resumeMaxAge} must be a duration such as 24h, or off, got "${resumeText}"`);
  }
  if (resumeMaxAgeMs !== undefined && keepLast !== undefined && resumeMaxAgeMs > grace) {
    throw usage(
      `${ENV.resumeMaxAge} (${formatDuration(resumeMaxAgeMs)}) must not exceed ${ENV.incompleteGrace} (${formatDuration(grace)}): retention would delete snapshots still to be resumed`,
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
        keepLast: ENV.keepLast,
        keepDaily: ENV.keepDaily,
        keepMonthly: ENV.keepMonthly,
        incompleteGrace: ENV.incompleteGrace,
      });
    } catch (e) {
      throw usage((e as Error).message);
    }
  }
  let encryptTo: string[] | undefined;
  const recipients = raw[ENV.encryptTo];
  if (recipients !== undefined) {
    try {
      encryptTo = parseRecipientList(recipients, ENV.encryptTo);
    } catch (e) {
      throw usage((e as Error).message);
    }
    // Set but empty is a mistake (a template variable that did not expand), not "no encryption".
    if (encryptTo.length === 0) {
      throw usage(`${ENV.encryptTo} is set but empty: give age1… recipients, or unset it`);
    }
  }
  const owner = raw[ENV.expectedBucketOwner];
  const maxRps = parseMaxRpsList(raw[ENV.maxRps]);
  return {
    ...(maxRps ? { maxRps } : {}),
    ...(retention ? { retention } : {}),
    ...(encryptTo ? { encryptTo } : {}),
    ...(resumeMaxAgeMs !== undefined ? { resumeMaxAgeMs } : {}),
    to: raw[ENV.to],
    region: raw.AWS_REGION,
    rateShare: raw[ENV.rateShare],
    includeSecrets: raw[ENV.includeSecrets],
    userMfa: raw[ENV.userMfa],
    ...(raw[ENV.kmsKeyId] ? { kmsKeyId: raw[ENV.kmsKeyId] } : {}),
    ...(owner ? { expectedBucketOwner: owner } : {}),
    ...(raw[ENV.endpointUrl] ? { endpointUrl: raw[ENV.endpointUrl] } : {}),
    ...(raw[ENV.deadlineMarginMs] !== undefined
      ? { deadlineMarginMs: raw[ENV.deadlineMarginMs] }
      : {}),
  };
}

/**
 * The drill handler's configuration: what every function reads (location, rate share, KMS
 * key, bucket owner, endpoint, deadline margin — the construct gives the drill function the
 * same environment) plus COGNITO_VAULT_DRILL_SAMPLE and COGNITO_VAULT_DRILL_SEED.
 */
export function drillConfigFromEnv(env: NodeJS.ProcessEnv): DrillConfig {
  const common = commonConfigFromEnv(env);
  const raw = readEnv(env);
  const sample = raw[ENV.drillSample];
  const seed = raw[ENV.drillSeed];
  return {
    ...common,
    ...(sample !== undefined ? { sample } : {}),
    ...(seed ? { seed } : {}),
  };
}
