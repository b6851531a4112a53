import { setMaxListeners } from 'node:events';
import { findResumableBackup } from '../backup/resume.js';
import { ExitCode, InterruptedError, isVaultError, VaultError } from '../core/errors.js';
import { CognitoGateway } from '../cognito/gateway.js';
import { prune, type RetentionPolicy } from '../snapshot/retention.js';
import type { Storage } from '../storage/storage.js';
import { openStorage } from '../storage/index.js';
import type { CommonConfig } from './config.js';
import { ENV } from './env.js';

/**
 * What every cognito-vault Lambda handler shares (handler.ts, stepfunctions.ts): the deadline
 * signal, the structured logger, the storage and gateway from the configuration, the resume
 * lookup and the retention summary. The handlers are thin layers over this and the engines.
 */

/** The part of the Lambda context the handlers use. */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
  functionName?: string;
}

// ── Logger ───────────────────────────────────────────────────────────────────────────────────

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/**
 * One JSON object per line, the shape AWS Lambda Powertools' Logger writes (level, message,
 * timestamp, service, function name and request id, then the keys given), so CloudWatch Logs
 * Insights and metric filters read every function alike. Never attribute values or usernames:
 * callers pass ids, counts, codes and phase names only. INFO/DEBUG go to stdout, WARN/ERROR to
 * stderr (console.log / console.error: the Lambda runtime adds nothing a JSON line needs).
 */
export class Logger {
  private readonly base: Record<string, unknown>;
  constructor(
    base: { service?: string; context?: LambdaContextLike } & Record<string, unknown> = {},
  ) {
    const { service, context, ...keys } = base;
    this.base = {
      service: service ?? process.env[ENV.vaultName] ?? 'cognito-vault',
      ...(context?.functionName ? { function_name: context.functionName } : {}),
      ...(context?.awsRequestId ? { function_request_id: context.awsRequestId } : {}),
      ...keys,
    };
  }

  /** A logger that adds `keys` to every line (e.g. the unit's pool id). */
  child(keys: Record<string, unknown>): Logger {
    const l = new Logger();
    Object.assign(l.base, this.base, keys);
    return l;
  }

  log(level: LogLevel, message: string, keys: Record<string, unknown> = {}): void {
    const line = JSON.stringify({
      level,
      message,
      timestamp: new Date().toISOString(),
      ...this.base,
      ...keys,
    });
    if (level === 'WARN' || level === 'ERROR') console.error(line);
    else console.log(line);
  }
  info(message: string, keys?: Record<string, unknown>): void {
    this.log('INFO', message, keys);
  }
  warn(message: string, keys?: Record<string, unknown>): void {
    this.log('WARN', message, keys);
  }
  error(message: string, keys?: Record<string, unknown>): void {
    this.log('ERROR', message, keys);
  }

  /**
   * A CloudWatch embedded-metric-format record (metrics.ts): printed as it is, one line, so
   * CloudWatch extracts its metrics (EMF needs `_aws` at the top level of the line).
   */
  metric(record: Record<string, unknown>): void {
    console.log(JSON.stringify(record));
  }
}

// ── Errors ───────────────────────────────────────────────────────────────────────────────────

/** Any thrown value as a VaultError (an unknown one by its name only: a message may quote data). */
export function asVaultError(e: unknown): VaultError {
  return isVaultError(e)
    ? e
    : new VaultError(
        'UNEXPECTED',
        `unexpected failure: ${e instanceof Error ? e.name : 'error'}`,
        ExitCode.Unexpected,
      );
}

/** The loggable, reportable part of an error: code, message, exit code. */
export function errorSummary(e: unknown): { code: string; message: string; exitCode: number } {
  const err = asVaultError(e);
  return { code: err.code, message: err.message, exitCode: err.exitCode };
}

// ── Deadline ─────────────────────────────────────────────────────────────────────────────────

/** Stop this long before Lambda's own timeout by default (the scheduled handler). */
export const TIMEOUT_MARGIN_MS = 10_000;

export interface Deadline {
  /** Aborted `margin` ms before the Lambda timeout, with an InterruptedError as its reason. */
  signal: AbortSignal;
  /** True once the deadline stopped the work (not some other abort). */
  readonly reached: boolean;
  dispose(): void;
}

/**
 * An abort signal for the invocation's work: fires `marginMs` before the Lambda timeout (from
 * the context's remaining time), so the handler — not Lambda's kill — ends the invocation and
 * reports where it stopped. Without a context (a call from code), it never fires.
 */
export function deadline(context: LambdaContextLike | undefined, marginMs: number): Deadline {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  let reached = false;
  const remaining = context?.getRemainingTimeInMillis();
  const timer =
    remaining !== undefined
      ? setTimeout(
          () => {
            reached = true;
            controller.abort(new InterruptedError('stopped before the Lambda timeout'));
          },
          Math.max(0, remaining - marginMs),
        )
      : undefined;
  return {
    signal: controller.signal,
    get reached() {
      return reached;
    },
    dispose: () => {
      if (timer) clearTimeout(timer);
    },
  };
}

// ── Storage, gateway ─────────────────────────────────────────────────────────────────────────

export function storageFor(cfg: CommonConfig): Storage {
  return openStorage(cfg.to, {
    ...(cfg.region ? { region: cfg.region } : {}),
    ...(cfg.endpointUrl ? { s3EndpointUrl: cfg.endpointUrl } : {}),
    ...(cfg.kmsKeyId ? { kmsKeyId: cfg.kmsKeyId } : {}),
    ...(cfg.expectedBucketOwner ? { expectedBucketOwner: cfg.expectedBucketOwner } : {}),
  });
}

export function gatewayFor(
  cfg: CommonConfig,
  region: string,
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
): CognitoGateway {
  return CognitoGateway.create(
    {
      region,
      ...(cfg.endpointUrl ? { endpointUrl: cfg.endpointUrl } : {}),
      ...(credentials ? { credentials } : {}),
    },
    { rate: { rateShare: cfg.rateShare, ...(cfg.maxRps ? { maxRps: cfg.maxRps } : {}) } },
  );
}

// ── Resume ───────────────────────────────────────────────────────────────────────────────────

/**
 * The snapshot to continue for a pool: its newest interrupted snapshot started less than
 * COGNITO_VAULT_RESUME_MAX_AGE ago with the same options, or undefined (also when resuming is
 * off, or the lookup failed: not knowing whether there is one is no reason not to back up).
 */
export async function resumableSnapshot(
  storage: Storage,
  cfg: CommonConfig,
  userPoolId: string,
  log: Logger,
): Promise<string | undefined> {
  if (cfg.resumeMaxAgeMs === undefined) return undefined;
  const id = await findResumableBackup(storage, userPoolId, {
    maxAgeMs: cfg.resumeMaxAgeMs,
    includeSecrets: cfg.includeSecrets,
    userMfa: cfg.userMfa,
    encryptTo: cfg.encryptTo ?? [],
  }).catch((e: unknown) => {
    log.warn('resume lookup failed; starting a new snapshot', {
      userPoolId,
      resumeLookupError: errorSummary(e),
    });
    return undefined;
  });
  if (id !== undefined) log.info('resuming an interrupted snapshot', { userPoolId, resuming: id });
  return id;
}

// ── Retention ────────────────────────────────────────────────────────────────────────────────

export interface PruneSummary {
  /** Snapshots deleted. */
  pruned: string[];
  /**
   * Snapshots retention did not delete although no keep rule holds them, and why: unreadable or
   * of an unknown format (never deleted), in use (a live lease), or incomplete and still inside
   * the grace period.
   */
  retained: { snapshotId: string; reasons: string[]; why?: string }[];
  errors: { code: string; message: string; exitCode: number }[];
}

/**
 * Retention for one pool after its backup, summarised and logged. Never throws: a failure is
 * in `errors` (a backup that succeeded is not failed by its retention).
 */
export async function pruneSummary(
  storage: Storage,
  policy: RetentionPolicy,
  userPoolId: string,
  log: Logger,
  signal?: AbortSignal,
): Promise<PruneSummary> {
  const out: PruneSummary = { pruned: [], retained: [], errors: [] };
  try {
    const r = await prune(storage, policy, { userPoolId, ...(signal ? { signal } : {}) });
    out.pruned = r.decisions
      .filter((d) => !d.keep && !r.errors.some((x) => x.path === d.path))
      .map((d) => d.snapshotId);
    out.retained = r.decisions
      .filter(
        (d) => d.keep && !d.reasons.some((x) => x === 'last' || x === 'daily' || x === 'monthly'),
      )
      .map((d) => ({
        snapshotId: d.snapshotId,
        reasons: d.reasons,
        ...(d.why ? { why: d.why } : {}),
      }));
    out.errors = r.errors.map((x) => ({ code: x.code, message: x.message, exitCode: x.exitCode }));
  } catch (e) {
    out.errors.push(errorSummary(e));
  }
  if (out.pruned.length) log.info('pruned', { userPoolId, pruned: out.pruned });
  for (const d of out.retained) log.info('retained', { userPoolId, retained: d.snapshotId, ...d });
  if (out.errors.length) log.error('prune errors', { userPoolId, pruneErrors: out.errors });
  return out;
}
