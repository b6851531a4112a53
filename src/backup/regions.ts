import { ExitCode, InterruptedError, isVaultError, VaultError } from '../core/errors.js';
import type { ProgressEvent } from '../core/progress.js';
import { rootAwsName } from '../cognito/errors.js';
import { paginateListUserPools } from '@aws-sdk/client-cognito-identity-provider';
import { type CognitoGateway, items } from '../cognito/gateway.js';
import type { CategoryReport } from '../cognito/rate.js';
import type { Storage } from '../storage/storage.js';
import { type BackupOptions, type BackupResult, backupPool } from './engine.js';

/**
 * Backups of several Regions at once. Cognito's quotas are per account and Region, so Regions
 * are independent capacity: each Region gets its own gateway (its own quota buckets, its own
 * `rateShare`) and runs in parallel with the others; the pools of one Region run one after
 * another, sharing that Region's buckets. A failure — a pool, or a whole Region (unreachable,
 * access denied) — is recorded and the rest go on.
 */

/** One Region's work: every pool in it (ListUserPools), or the pools named. */
export interface RegionPlan {
  region: string;
  /** The pools to back up (ids of this Region); default: every pool ListUserPools returns. */
  userPoolIds?: readonly string[];
  /**
   * An opt-in Region taken from `--regions all`: if it refuses the credentials as unknown
   * (UnrecognizedClientException, InvalidClientTokenId — the answer of a Region the account has
   * not enabled), it is skipped instead of failed.
   */
  optional?: boolean;
}

/** A failure as reported: stable code, exception name, exit code, the tool's one-line message. */
export interface FailureInfo {
  code: string;
  /** The AWS exception (or error class) behind it. */
  name: string;
  exitCode: number;
  message: string;
  /** An interrupted backup: the snapshot `resume` finishes (its finished units are recorded). */
  snapshotId?: string;
}

export type PoolOutcome =
  | { ok: true; region: string; userPoolId: string; snapshotId: string; result: BackupResult }
  | { ok: false; region: string; userPoolId: string; error: FailureInfo };

export interface RegionOutcome {
  region: string;
  status: 'ok' | 'failed' | 'skipped';
  /** Pools found (or named) in the Region. */
  pools: number;
  backedUp: number;
  failed: number;
  /** status "failed": why the Region could not be listed (or its gateway not made). */
  error?: FailureInfo;
  /** status "skipped": why. */
  reason?: string;
  durationMs: number;
  /** The Region's quota categories: calls, throttles, achieved rate and share of quota. */
  rates: CategoryReport[];
}

export interface RegionsResult {
  /** One per pool, grouped by Region in the order the Regions were given. */
  pools: PoolOutcome[];
  regions: RegionOutcome[];
}

/** Progress of a multi-Region run: the engine's events, tagged with their Region and pool. */
export type RegionProgressEvent = { region: string; userPoolId?: string } & (
  | ProgressEvent
  | { type: 'region'; status: 'listed'; pools: number }
  | { type: 'region'; status: 'failed' | 'skipped'; code: string }
  | { type: 'pool'; status: 'started'; index: number; of: number }
  | { type: 'pool'; status: 'done'; users: number; durationMs: number }
  | { type: 'pool'; status: 'failed'; code: string; exitCode: number }
);

export interface BackupRegionsOptions extends Omit<
  BackupOptions,
  'userPoolId' | 'region' | 'onProgress'
> {
  /**
   * Makes the Region's gateway (called once per Region; backupRegions destroys it when the
   * Region is done). Each gateway must have its own RateController: that is the point.
   * Endpoint overrides per Region go here.
   */
  gatewayFor: (region: string) => CognitoGateway | Promise<CognitoGateway>;
  onProgress?: (event: RegionProgressEvent) => void;
  /**
   * Runs after each pool (success or failure), before the Region's next pool, with the
   * Region's gateway: the Lambda prunes there. Its errors are its own to handle; one that
   * escapes counts as that pool's failure.
   */
  afterPool?: (outcome: PoolOutcome, gw: CognitoGateway) => Promise<void>;
  /**
   * Before each pool: the id of an interrupted snapshot of it to finish (`resume`) instead of
   * starting a new one, or undefined (the Lambda asks findResumableBackup). Its errors count as
   * that pool's failure.
   */
  resumeFor?: (userPoolId: string) => Promise<string | undefined>;
}

const NOT_ENABLED = new Set(['UnrecognizedClientException', 'InvalidClientTokenId']);

/** A failure without personal data: the tool's own message, or only the name of anything else. */
export function failureInfo(e: unknown): FailureInfo {
  const err = isVaultError(e)
    ? e
    : new VaultError(
        'UNEXPECTED',
        // The name only: a raw message can quote data (a JSON parser's does).
        `unexpected failure: ${e instanceof Error ? e.name : 'error'}`,
        ExitCode.Unexpected,
      );
  const snapshotId = err instanceof InterruptedError ? err.context.snapshotId : undefined;
  return {
    code: err.code,
    name: rootAwsName(e),
    exitCode: err.exitCode,
    message: err.message,
    ...(typeof snapshotId === 'string' ? { snapshotId } : {}),
  };
}

export async function backupRegions(
  plans: readonly RegionPlan[],
  root: Storage,
  opts: BackupRegionsOptions,
): Promise<RegionsResult> {
  const seen = new Set<string>();
  for (const p of plans) {
    if (seen.has(p.region)) throw new TypeError(`backupRegions: ${p.region} planned twice`);
    seen.add(p.region);
  }
  const done = await Promise.all(plans.map((plan) => backupOneRegion(plan, root, opts)));
  return {
    pools: done.flatMap((d) => d.pools),
    regions: done.map((d) => d.region),
  };
}

async function backupOneRegion(
  plan: RegionPlan,
  root: Storage,
  opts: BackupRegionsOptions,
): Promise<{ region: RegionOutcome; pools: PoolOutcome[] }> {
  const { gatewayFor, onProgress, afterPool, resumeFor, ...backupOpts } = opts;
  const region = plan.region;
  const t0 = performance.now();
  const emit = (e: RegionProgressEvent): void => onProgress?.(e);
  const pools: PoolOutcome[] = [];
  const out: RegionOutcome = {
    region,
    status: 'ok',
    pools: 0,
    backedUp: 0,
    failed: 0,
    durationMs: 0,
    rates: [],
  };
  let gw: CognitoGateway | undefined;
  try {
    if (opts.signal?.aborted) throw new InterruptedError();
    gw = await gatewayFor(region);
    let ids: string[];
    if (plan.userPoolIds) ids = [...plan.userPoolIds];
    else {
      ids = [];
      const pools = gw.withSignal(opts.signal).pages(paginateListUserPools, { MaxResults: 60 });
      for await (const p of items(pools, 'UserPools')) if (p.Id) ids.push(p.Id);
    }
    out.pools = ids.length;
    emit({ region, type: 'region', status: 'listed', pools: ids.length });
    for (const [i, userPoolId] of ids.entries()) {
      let outcome: PoolOutcome;
      if (opts.signal?.aborted) {
        outcome = {
          ok: false,
          region,
          userPoolId,
          error: {
            code: 'INTERRUPTED',
            name: 'InterruptedError',
            exitCode: ExitCode.Interrupted,
            message: 'not started: the run was stopped',
          },
        };
      } else {
        emit({ region, userPoolId, type: 'pool', status: 'started', index: i + 1, of: ids.length });
        try {
          const resume = await resumeFor?.(userPoolId);
          const result = await backupPool(gw, root, {
            ...backupOpts,
            ...(resume !== undefined ? { resume } : {}),
            userPoolId,
            region,
            onProgress: (e) => emit({ ...e, region, userPoolId }),
          });
          outcome = {
            ok: true,
            region,
            userPoolId,
            snapshotId: result.manifest.snapshotId,
            result,
          };
          emit({
            region,
            userPoolId,
            type: 'pool',
            status: 'done',
            users: result.users,
            durationMs: result.durationMs,
          });
        } catch (e) {
          outcome = { ok: false, region, userPoolId, error: failureInfo(e) };
        }
      }
      if (afterPool) {
        try {
          await afterPool(outcome, gw);
        } catch (e) {
          outcome = { ok: false, region, userPoolId, error: failureInfo(e) };
        }
      }
      if (!outcome.ok) {
        emit({
          region,
          userPoolId,
          type: 'pool',
          status: 'failed',
          code: outcome.error.code,
          exitCode: outcome.error.exitCode,
        });
      }
      pools.push(outcome);
      if (outcome.ok) out.backedUp++;
      else out.failed++;
    }
  } catch (e) {
    const error = failureInfo(e);
    if (plan.optional && NOT_ENABLED.has(error.name)) {
      out.status = 'skipped';
      out.reason = `the credentials are not recognised in ${region} (${error.name}): an opt-in Region this account has not enabled`;
      emit({ region, type: 'region', status: 'skipped', code: error.code });
    } else {
      out.status = 'failed';
      out.error = error;
      emit({ region, type: 'region', status: 'failed', code: error.code });
    }
  } finally {
    out.rates = gw?.rate.report() ?? [];
    gw?.destroy();
    out.durationMs = Math.round(performance.now() - t0);
  }
  return { region: out, pools };
}

/**
 * The exit code of a multi-pool backup: 0 when every pool was backed up (skipped Regions do not
 * count); the failures' own code when nothing was backed up and every failure has that one code
 * (wrong credentials everywhere: 5; the network down: 7); otherwise PartialBackup (10).
 */
export function regionsExitCode(r: RegionsResult): number {
  const codes = [
    ...r.pools.flatMap((p) => (p.ok ? [] : [p.error.exitCode])),
    ...r.regions.flatMap((x) => (x.error ? [x.error.exitCode] : [])),
  ];
  if (codes.length === 0) return ExitCode.Ok;
  const first = codes[0] ?? ExitCode.PartialBackup;
  if (!r.pools.some((p) => p.ok) && codes.every((c) => c === first)) return first;
  return ExitCode.PartialBackup;
}
