import { setMaxListeners } from 'node:events';
import {
  backupPool,
  backupSummary,
  type BackupOptions,
  type BackupSummary,
} from '../backup/engine.js';
import { findResumableBackup } from '../backup/resume.js';
import {
  CredentialsError,
  ExitCode,
  InterruptedError,
  isVaultError,
  UsageError,
  VaultError,
} from '../core/errors.js';
import type { ProgressEvent } from '../core/progress.js';
import { paginateListUserPools } from '@aws-sdk/client-cognito-identity-provider';
import { CognitoGateway, items, regionOfPoolId } from '../cognito/gateway.js';
import { isOptInRegion, parseRegionList, type RegionSelection } from '../cognito/regions.js';
import { prune as pruneSnapshots } from '../snapshot/retention.js';
import type { Storage } from '../storage/storage.js';
import { openStorage } from '../storage/index.js';
import { commonConfigFromEnv, type LambdaContextLike, splitList } from './handler.js';
import { completionMetric } from './metrics.js';

/**
 * The Step Functions scale-out (docs/architecture.md, "Distributed path"): the state machine
 * the CDK construct (src/cdk) builds calls these handlers, each a thin layer over the engines
 * the CLI runs.
 *
 *   plan        accounts × Regions × pools → groups of units, one group per account/Region
 *               (the Map runs groups in parallel and the units of one group one at a time:
 *               Cognito's quotas are per account and Region, and one backup already uses the
 *               whole UserList quota it is given)
 *   backupUnit  one pool: starts a backup, or continues the snapshot a previous invocation of
 *               the same unit was stopped in (`resume`), until its deadline; returns
 *               `{ done, snapshotId }` and the state machine invokes it again while not done.
 *               The manifest, written last by the engine, is the commit; the invocation that
 *               writes it emits the SnapshotsCompleted metric.
 *   prune       retention for one pool after its backup (COGNITO_VAULT_KEEP_*)
 *   report      the results of every unit: throws when any unit failed, so the execution
 *               fails (and the failure alarm sees it)
 *
 * Environment: the scheduled handler's (handler.ts: COGNITO_VAULT_TO, _RATE_SHARE,
 * _INCLUDE_SECRETS, _KMS_KEY_ID, _EXPECTED_BUCKET_OWNER, _KEEP_*, _ENDPOINT_URL), plus
 *   COGNITO_VAULT_USER_POOL_IDS    pool ids, or `*` for every pool of each account and Region
 *   COGNITO_VAULT_REGIONS          with `*`: Regions to list (us-east-1,eu-west-1) or `all`
 *                                  (default: the function's Region)
 *   COGNITO_VAULT_ACCOUNTS         other accounts to back up (default: none, the function's own)
 *   COGNITO_VAULT_ROLE_ARN_PATTERN role to assume in each of them, `{account}` replaced by the
 *                                  account id, e.g. arn:aws:iam::{account}:role/CognitoVaultBackup
 *   COGNITO_VAULT_DEADLINE_MARGIN_MS  stop a unit this long before the Lambda timeout (30000)
 *   COGNITO_VAULT_METRIC_NAMESPACE / COGNITO_VAULT_NAME  the completion metric's namespace
 *                                  (CognitoVault) and its `Vault` dimension (default)
 * The plan's event may carry the same settings (`userPoolIds`, `regions`, `accounts`,
 * `roleArnPattern`), which override the variables.
 */

/** One pool to back up, and how to reach it. */
export interface BackupUnit {
  userPoolId: string;
  region: string;
  /** The account the pool is in, when it is not the function's own. */
  accountId?: string;
  /** The role assumed to reach it (cross-account). */
  roleArn?: string;
}

/** The units of one account and Region: the state machine runs them one at a time. */
export interface UnitGroup {
  /** `<account or "self">/<region>`. */
  group: string;
  units: BackupUnit[];
}

export interface PlanEvent {
  userPoolIds?: string[] | '*';
  regions?: string[];
  accounts?: string[];
  roleArnPattern?: string;
}

export interface PlanResult {
  groups: UnitGroup[];
  unitCount: number;
}

export interface BackupUnitEvent {
  unit: BackupUnit;
  /** The snapshot a previous invocation of this unit was stopped in. */
  snapshotId?: string;
  /** Invocations of this unit so far (the state machine passes the last output back). */
  invocations?: number;
}

export interface BackupUnitResult {
  unit: BackupUnit;
  done: boolean;
  /** The snapshot written (done) or to continue (not done). */
  snapshotId: string;
  invocations: number;
  summary?: BackupSummary;
}

export interface PruneEvent {
  unit: BackupUnit;
}

export interface PruneResult {
  userPoolId: string;
  /** False when no retention is configured (COGNITO_VAULT_KEEP_LAST unset). */
  configured: boolean;
  pruned: string[];
  retained: { snapshotId: string; reasons: string[]; why?: string }[];
  errors: { code: string; message: string; exitCode: number }[];
}

/** One unit's outcome as the state machine records it (the Map's result per unit). */
export interface UnitOutcome {
  userPoolId: string;
  ok: boolean;
  snapshotId?: string;
  /** Step Functions' error name and cause, when the unit failed. */
  error?: string;
  cause?: string;
  pruneErrors?: number;
}

export interface ReportEvent {
  /** The Map's output: per group, per unit. */
  results: UnitOutcome[][];
}

export interface ReportResult {
  units: number;
  succeeded: number;
  failed: { userPoolId: string; error?: string }[];
}

export const DEFAULT_DEADLINE_MARGIN_MS = 30_000;
const ACCOUNT = /^\d{12}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

function listOf(what: string, v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new UsageError('LAMBDA_CONFIG', `the event's ${what} must be an array of strings`);
  }
  return v as string[];
}

function roleFor(pattern: string | undefined, accountId: string): string {
  if (!pattern?.includes('{account}')) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      'other accounts need COGNITO_VAULT_ROLE_ARN_PATTERN (or roleArnPattern) with {account}, e.g. arn:aws:iam::{account}:role/CognitoVaultBackup',
    );
  }
  const arn = pattern.replaceAll('{account}', accountId);
  if (!ROLE_ARN.test(arn)) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      `the role ARN pattern gives "${arn}", not an IAM role ARN`,
    );
  }
  return arn;
}

/** Credentials for a unit: the function's own, or the unit's role assumed through STS. */
async function credentialsFor(
  unit: BackupUnit,
  endpointUrl: string | undefined,
): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined> {
  if (!unit.roleArn) return undefined;
  const { STSClient, AssumeRoleCommand } = await import('@aws-sdk/client-sts');
  const sts = new STSClient({
    region: unit.region,
    ...(endpointUrl ? { endpoint: endpointUrl } : {}),
  });
  try {
    const r = await sts.send(
      new AssumeRoleCommand({
        RoleArn: unit.roleArn,
        RoleSessionName: 'cognito-vault',
        // A unit stops before Lambda's 15 minutes; role chaining allows at most one hour.
        DurationSeconds: 1800,
      }),
    );
    const c = r.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('no credentials in the answer');
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
    };
  } catch (e) {
    throw new CredentialsError(
      'ASSUME_ROLE_FAILED',
      `could not assume ${unit.roleArn} (${e instanceof Error ? e.name : 'error'})`,
      { roleArn: unit.roleArn, userPoolId: unit.userPoolId },
      { cause: e },
    );
  } finally {
    sts.destroy();
  }
}

function gatewayFor(
  unit: BackupUnit,
  cfg: ReturnType<typeof commonConfigFromEnv>,
  credentials: Awaited<ReturnType<typeof credentialsFor>>,
): CognitoGateway {
  return CognitoGateway.create(
    {
      region: unit.region,
      ...(cfg.endpointUrl ? { endpointUrl: cfg.endpointUrl } : {}),
      ...(credentials ? { credentials } : {}),
    },
    { rate: { rateShare: cfg.rateShare } },
  );
}

function storageFor(cfg: ReturnType<typeof commonConfigFromEnv>): Storage {
  return openStorage(cfg.to, {
    ...(cfg.region ? { region: cfg.region } : {}),
    ...(cfg.endpointUrl ? { s3EndpointUrl: cfg.endpointUrl } : {}),
    ...(cfg.kmsKeyId ? { kmsKeyId: cfg.kmsKeyId } : {}),
    ...(cfg.expectedBucketOwner ? { expectedBucketOwner: cfg.expectedBucketOwner } : {}),
  });
}

/**
 * accounts × Regions × pools → one group per account and Region. Explicit pool ids carry their
 * Region; `*` lists the pools of every configured Region in every account (ListUserPools).
 */
export async function plan(event: PlanEvent = {}): Promise<PlanResult> {
  const env = process.env;
  const cfg = commonConfigFromEnv(env);
  const ev = event ?? {};
  const poolsIn =
    ev.userPoolIds === '*'
      ? ['*']
      : (listOf('userPoolIds', ev.userPoolIds) ?? splitList(env.COGNITO_VAULT_USER_POOL_IDS));
  const all = poolsIn.length === 1 && poolsIn[0] === '*';
  if (!all && poolsIn.length === 0) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      'no pools: set COGNITO_VAULT_USER_POOL_IDS (ids, or * for every pool)',
    );
  }
  // The same list as `backup --all-pools --regions` and the single-function handler: names of
  // Regions with user pools, or `all`.
  const regionList = listOf('regions', ev.regions)?.join(',') ?? env.COGNITO_VAULT_REGIONS;
  let selection: RegionSelection | undefined;
  if (regionList !== undefined) {
    if (!all) {
      throw new UsageError(
        'LAMBDA_CONFIG',
        'COGNITO_VAULT_REGIONS (regions) goes with every pool (*) only: pool ids name their Region',
      );
    }
    try {
      selection = parseRegionList(regionList, 'COGNITO_VAULT_REGIONS');
    } catch (e) {
      throw new UsageError('LAMBDA_CONFIG', (e as Error).message);
    }
  }
  const regions = selection?.regions ?? (cfg.region ? [cfg.region] : []);
  const accounts = listOf('accounts', ev.accounts) ?? splitList(env.COGNITO_VAULT_ACCOUNTS);
  for (const a of accounts) {
    if (!ACCOUNT.test(a)) {
      throw new UsageError('LAMBDA_CONFIG', `"${a}" is not a 12-digit AWS account id`);
    }
  }
  const pattern = ev.roleArnPattern ?? env.COGNITO_VAULT_ROLE_ARN_PATTERN?.trim();
  // Each place: the function's own account (no role) or another account through its role.
  const places: { accountId?: string; roleArn?: string }[] = accounts.length
    ? accounts.map((accountId) => ({ accountId, roleArn: roleFor(pattern, accountId) }))
    : [{}];

  const groups = new Map<string, UnitGroup>();
  const add = (unit: BackupUnit): void => {
    const key = `${unit.accountId ?? 'self'}/${unit.region}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { group: key, units: [] }));
    if (!g.units.some((u) => u.userPoolId === unit.userPoolId)) g.units.push(unit);
  };
  for (const place of places) {
    if (!all) {
      for (const userPoolId of poolsIn)
        add({ userPoolId, region: regionOfPoolId(userPoolId), ...place });
      continue;
    }
    if (regions.length === 0) {
      throw new UsageError(
        'LAMBDA_CONFIG',
        'every pool (*) needs COGNITO_VAULT_REGIONS or AWS_REGION',
      );
    }
    for (const region of regions) {
      const probe: BackupUnit = { userPoolId: '*', region, ...place };
      const gw = gatewayFor(probe, cfg, await credentialsFor(probe, cfg.endpointUrl));
      try {
        for await (const p of items(
          gw.pages(paginateListUserPools, { MaxResults: 60 }),
          'UserPools',
        )) {
          if (p.Id) add({ userPoolId: p.Id, region, ...place });
        }
      } catch (e) {
        // `all`: an opt-in Region the account has not enabled is skipped, as with --regions all.
        if (!(selection?.all && isOptInRegion(region))) throw e;
        console.log(JSON.stringify({ skipped: region, account: place.accountId ?? 'self' }));
      } finally {
        gw.destroy();
      }
    }
  }
  const out = [...groups.values()];
  const result = { groups: out, unitCount: out.reduce((n, g) => n + g.units.length, 0) };
  console.log(
    JSON.stringify({ plan: out.map((g) => ({ group: g.group, units: g.units.length })) }),
  );
  return result;
}

function parseUnit(v: unknown): BackupUnit {
  const u = v as Partial<BackupUnit> | undefined;
  if (!u || typeof u.userPoolId !== 'string' || typeof u.region !== 'string') {
    throw new UsageError('LAMBDA_CONFIG', 'the event needs unit: { userPoolId, region }');
  }
  if (regionOfPoolId(u.userPoolId) !== u.region) {
    throw new UsageError('LAMBDA_CONFIG', `unit ${u.userPoolId} is not in ${u.region}`);
  }
  if (u.roleArn !== undefined && !ROLE_ARN.test(u.roleArn)) {
    throw new UsageError('LAMBDA_CONFIG', `unit role "${u.roleArn}" is not an IAM role ARN`);
  }
  return {
    userPoolId: u.userPoolId,
    region: u.region,
    ...(u.accountId ? { accountId: u.accountId } : {}),
    ...(u.roleArn ? { roleArn: u.roleArn } : {}),
  };
}

/** One JSON log line per phase and warning: never attribute values. */
function log(userPoolId: string, e: ProgressEvent): void {
  if (e.type === 'phase' || e.type === 'warning') console.log(JSON.stringify({ userPoolId, ...e }));
}

/**
 * One pool, one invocation: a new backup, or the continuation of `snapshotId`. Stops
 * COGNITO_VAULT_DEADLINE_MARGIN_MS before the Lambda timeout and returns `done: false` with the
 * snapshot to continue; any other failure throws (the state machine retries what may pass on a
 * second try and records the rest as the unit's failure).
 */
export async function backupUnit(
  event: BackupUnitEvent,
  context?: LambdaContextLike,
): Promise<BackupUnitResult> {
  const env = process.env;
  const cfg = commonConfigFromEnv(env);
  const unit = parseUnit(event?.unit);
  const given = event.snapshotId;
  if (given !== undefined && (typeof given !== 'string' || !/^[\w.-]+$/.test(given))) {
    throw new UsageError('LAMBDA_CONFIG', 'the event snapshotId must be a snapshot id');
  }
  let resume = given;
  const invocations = (Number.isSafeInteger(event.invocations) ? (event.invocations ?? 0) : 0) + 1;
  const marginText = env.COGNITO_VAULT_DEADLINE_MARGIN_MS?.trim();
  const margin = marginText ? Number(marginText) : DEFAULT_DEADLINE_MARGIN_MS;
  if (!(Number.isSafeInteger(margin) && margin >= 0)) {
    throw new UsageError('LAMBDA_CONFIG', 'COGNITO_VAULT_DEADLINE_MARGIN_MS must be milliseconds');
  }
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const deadline = new InterruptedError('stopped before the Lambda timeout');
  const remaining = context?.getRemainingTimeInMillis();
  const timer =
    remaining !== undefined
      ? setTimeout(() => controller.abort(deadline), Math.max(0, remaining - margin))
      : undefined;
  const storage = storageFor(cfg);
  const gw = gatewayFor(unit, cfg, await credentialsFor(unit, cfg.endpointUrl));
  try {
    if (resume === undefined && cfg.resumeMaxAgeMs !== undefined) {
      // The first invocation of a unit: a snapshot an earlier run left interrupted (an
      // execution that timed out, a Lambda that was killed) is continued rather than started
      // anew, as the single-function handler does (COGNITO_VAULT_RESUME_MAX_AGE).
      resume = await findResumableBackup(storage, unit.userPoolId, {
        maxAgeMs: cfg.resumeMaxAgeMs,
        includeSecrets: cfg.includeSecrets,
        userMfa: false,
      }).catch((e: unknown) => {
        // Not knowing whether there is one to resume is no reason not to back up.
        console.error(
          JSON.stringify({
            userPoolId: unit.userPoolId,
            resumeLookupError: isVaultError(e) ? e.code : 'UNEXPECTED',
          }),
        );
        return undefined;
      });
      if (resume !== undefined) {
        console.log(JSON.stringify({ userPoolId: unit.userPoolId, resuming: resume }));
      }
    }
    if (given && (await storage.exists(`${unit.userPoolId}/${given}/manifest.json`))) {
      // Already committed: an invocation that wrote the manifest and then failed to answer
      // (Lambda timeout, crash) is retried with the same input. Done, not backed up again.
      console.log(JSON.stringify({ userPoolId: unit.userPoolId, alreadyComplete: given }));
      return { unit, done: true, snapshotId: given, invocations };
    }
    // `resume` (issue 10.1): the engine continues the snapshot's unfinished units and writes
    // the manifest last.
    const options: BackupOptions = {
      userPoolId: unit.userPoolId,
      region: unit.region,
      includeSecrets: cfg.includeSecrets,
      signal: controller.signal,
      onProgress: (e) => log(unit.userPoolId, e),
      ...(resume ? { resume } : {}),
    };
    const r = await backupPool(gw, storage, options);
    const summary = backupSummary(r);
    const snapshotId = r.snapshot.split('/').filter(Boolean).pop() ?? '';
    console.log(JSON.stringify(summary));
    console.log(JSON.stringify(completionMetric(env, unit.userPoolId, summary.users)));
    return { unit, done: true, snapshotId, invocations, summary };
  } catch (e) {
    if (controller.signal.aborted && e instanceof InterruptedError) {
      const snapshotId = e.context.snapshotId ?? resume;
      if (typeof snapshotId !== 'string') {
        // Stopped before the snapshot had an id: nothing to continue, the state machine
        // retries the unit from the start (InterruptedError is one of its retried errors).
        throw new InterruptedError(
          `${unit.userPoolId}: stopped at the deadline before the snapshot had an id to continue`,
          { userPoolId: unit.userPoolId },
        );
      }
      console.log(
        JSON.stringify({ userPoolId: unit.userPoolId, continue: snapshotId, invocations }),
      );
      return { unit, done: false, snapshotId, invocations };
    }
    const err = isVaultError(e) ? e : undefined;
    console.error(
      JSON.stringify({
        userPoolId: unit.userPoolId,
        error: err ? err.toJSON() : { name: e instanceof Error ? e.name : 'error' },
      }),
    );
    throw e;
  } finally {
    if (timer) clearTimeout(timer);
    gw.destroy();
  }
}

/** Retention for one pool (after its snapshot is committed). Failures are reported, not thrown. */
export async function prune(event: PruneEvent): Promise<PruneResult> {
  const cfg = commonConfigFromEnv(process.env);
  const unit = parseUnit(event?.unit);
  const out: PruneResult = {
    userPoolId: unit.userPoolId,
    configured: Boolean(cfg.retention),
    pruned: [],
    retained: [],
    errors: [],
  };
  if (!cfg.retention) return out;
  try {
    const r = await pruneSnapshots(storageFor(cfg), cfg.retention, { userPoolId: unit.userPoolId });
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
    const err = isVaultError(e)
      ? e
      : new VaultError(
          'UNEXPECTED',
          `unexpected failure: ${e instanceof Error ? e.name : 'error'}`,
          ExitCode.Unexpected,
        );
    out.errors.push({ code: err.code, message: err.message, exitCode: err.exitCode });
  }
  console.log(JSON.stringify(out));
  return out;
}

/**
 * The end of the run: counts the units' outcomes and throws when any failed, so the execution
 * fails (ExecutionsFailed) although the Map went on with the other units.
 */
export async function report(event: ReportEvent): Promise<ReportResult> {
  const results = event?.results;
  if (!Array.isArray(results) || results.some((g) => !Array.isArray(g))) {
    throw new UsageError('LAMBDA_CONFIG', 'the event needs results: per group, per unit');
  }
  const all = results.flat();
  const failed = all
    .filter((o) => !o.ok)
    .map((o) => ({ userPoolId: o.userPoolId, ...(o.error ? { error: o.error } : {}) }));
  const r: ReportResult = { units: all.length, succeeded: all.length - failed.length, failed };
  console.log(JSON.stringify(r));
  if (failed.length) {
    throw new VaultError(
      'UNITS_FAILED',
      `${failed.length} of ${all.length} pool backups failed: ${failed.map((f) => `${f.userPoolId} (${f.error ?? 'error'})`).join(', ')}`,
      ExitCode.Unexpected,
      { failed: failed.map((f) => f.userPoolId) },
    );
  }
  return r;
}
