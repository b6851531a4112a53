import {
  backupPool,
  backupSummary,
  type BackupOptions,
  type BackupSummary,
} from '../backup/engine.js';
import {
  CredentialsError,
  ExitCode,
  InterruptedError,
  UsageError,
  VaultError,
} from '../core/errors.js';
import { paginateListUserPools } from '@aws-sdk/client-cognito-identity-provider';
import { items, regionOfPoolId } from '../cognito/gateway.js';
import { isOptInRegion, type RegionSelection } from '../cognito/regions.js';
import { commonConfigFromEnv, regionList, splitList } from './config.js';
import { ENV } from './env.js';
import { completionMetric } from './metrics.js';
import {
  deadline,
  errorSummary,
  gatewayFor,
  type LambdaContextLike,
  Logger,
  pruneSummary,
  resumableSnapshot,
  storageFor,
} from './runtime.js';

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

/**
 * accounts × Regions × pools → one group per account and Region. Explicit pool ids carry their
 * Region; `*` lists the pools of every configured Region in every account (ListUserPools).
 */
export async function plan(
  event: PlanEvent = {},
  context?: LambdaContextLike,
): Promise<PlanResult> {
  const env = process.env;
  const cfg = commonConfigFromEnv(env);
  const log = new Logger({ ...(context ? { context } : {}) });
  const ev = event ?? {};
  const poolsIn =
    ev.userPoolIds === '*'
      ? ['*']
      : (listOf('userPoolIds', ev.userPoolIds) ?? splitList(env[ENV.userPoolIds]));
  const all = poolsIn.length === 1 && poolsIn[0] === '*';
  if (!all && poolsIn.length === 0) {
    throw new UsageError(
      'LAMBDA_CONFIG',
      `no pools: set ${ENV.userPoolIds} (ids, or * for every pool)`,
    );
  }
  // The same list as `backup --all-pools --regions` and the single-function handler: names of
  // Regions with user pools, or `all`.
  const regionText = listOf('regions', ev.regions)?.join(',') ?? env[ENV.regions];
  let selection: RegionSelection | undefined;
  if (regionText !== undefined) {
    if (!all) {
      throw new UsageError(
        'LAMBDA_CONFIG',
        `${ENV.regions} (regions) goes with every pool (*) only: pool ids name their Region`,
      );
    }
    selection = regionList(regionText);
  }
  const regions = selection?.regions ?? (cfg.region ? [cfg.region] : []);
  const accounts = listOf('accounts', ev.accounts) ?? splitList(env[ENV.accounts]);
  for (const a of accounts) {
    if (!ACCOUNT.test(a)) {
      throw new UsageError('LAMBDA_CONFIG', `"${a}" is not a 12-digit AWS account id`);
    }
  }
  const pattern = ev.roleArnPattern ?? env[ENV.roleArnPattern]?.trim();
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
      throw new UsageError('LAMBDA_CONFIG', `every pool (*) needs ${ENV.regions} or AWS_REGION`);
    }
    for (const region of regions) {
      const probe: BackupUnit = { userPoolId: '*', region, ...place };
      const gw = gatewayFor(cfg, region, await credentialsFor(probe, cfg.endpointUrl));
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
        log.info('Region skipped (opt-in, not enabled)', {
          skipped: region,
          account: place.accountId ?? 'self',
        });
      } finally {
        gw.destroy();
      }
    }
  }
  const out = [...groups.values()];
  const result = { groups: out, unitCount: out.reduce((n, g) => n + g.units.length, 0) };
  log.info('planned', { plan: out.map((g) => ({ group: g.group, units: g.units.length })) });
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
  const invocations = (Number.isSafeInteger(event.invocations) ? (event.invocations ?? 0) : 0) + 1;
  const log = new Logger({ ...(context ? { context } : {}), userPoolId: unit.userPoolId });
  const stop = deadline(context, cfg.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS);
  const storage = storageFor(cfg);
  const gw = gatewayFor(cfg, unit.region, await credentialsFor(unit, cfg.endpointUrl));
  // The first invocation of a unit continues a snapshot an earlier run left interrupted (an
  // execution that timed out, a Lambda that was killed) rather than starting anew.
  let resume = given;
  try {
    if (resume === undefined) resume = await resumableSnapshot(storage, cfg, unit.userPoolId, log);
    if (given && (await storage.exists(`${unit.userPoolId}/${given}/manifest.json`))) {
      // Already committed: an invocation that wrote the manifest and then failed to answer
      // (Lambda timeout, crash) is retried with the same input. Done, not backed up again.
      log.info('already complete', { alreadyComplete: given });
      return { unit, done: true, snapshotId: given, invocations };
    }
    // The engine continues the snapshot's unfinished units and writes the manifest last; the
    // same options as the scheduled handler (encryption, user MFA), so a resumed snapshot is
    // the one it would have been.
    const options: BackupOptions = {
      userPoolId: unit.userPoolId,
      region: unit.region,
      includeSecrets: cfg.includeSecrets,
      ...(cfg.encryptTo ? { encryptTo: cfg.encryptTo } : {}),
      ...(cfg.userMfa ? { userMfa: true } : {}),
      signal: stop.signal,
      // An invocation that stored nothing before its deadline fails the unit (NoProgressError,
      // not retried) instead of handing the state machine the same snapshot to continue forever.
      failWithoutProgress: true,
      onProgress: (e) => {
        if (e.type === 'phase' || e.type === 'warning') {
          const { type, ...keys } = e;
          log.log(type === 'warning' ? 'WARN' : 'INFO', type, keys);
        }
      },
      ...(resume ? { resume } : {}),
    };
    const r = await backupPool(gw, storage, options);
    const summary = backupSummary(r);
    const snapshotId = r.snapshot.split('/').filter(Boolean).pop() ?? '';
    log.info('backup complete', { ...summary });
    log.metric(completionMetric(env, unit.userPoolId, summary.users));
    return { unit, done: true, snapshotId, invocations, summary };
  } catch (e) {
    if (stop.reached && e instanceof InterruptedError) {
      const snapshotId = e.context.snapshotId ?? resume;
      if (typeof snapshotId !== 'string') {
        // Stopped before the snapshot had an id: nothing to continue, the state machine
        // retries the unit from the start (InterruptedError is one of its retried errors).
        throw new InterruptedError(
          `${unit.userPoolId}: stopped at the deadline before the snapshot had an id to continue`,
          { userPoolId: unit.userPoolId },
        );
      }
      log.info('stopped at the deadline; to continue', { continue: snapshotId, invocations });
      return { unit, done: false, snapshotId, invocations };
    }
    log.error('backup failed', {
      error: errorSummary(e),
      name: e instanceof Error ? e.name : 'error',
    });
    throw e;
  } finally {
    stop.dispose();
    gw.destroy();
  }
}

/** Retention for one pool (after its snapshot is committed). Failures are reported, not thrown. */
export async function prune(event: PruneEvent, context?: LambdaContextLike): Promise<PruneResult> {
  const cfg = commonConfigFromEnv(process.env);
  const unit = parseUnit(event?.unit);
  const log = new Logger({ ...(context ? { context } : {}), userPoolId: unit.userPoolId });
  if (!cfg.retention) {
    return { userPoolId: unit.userPoolId, configured: false, pruned: [], retained: [], errors: [] };
  }
  const p = await pruneSummary(storageFor(cfg), cfg.retention, unit.userPoolId, log);
  return { userPoolId: unit.userPoolId, configured: true, ...p };
}

/**
 * The end of the run: counts the units' outcomes and throws when any failed, so the execution
 * fails (ExecutionsFailed) although the Map went on with the other units.
 */
export async function report(
  event: ReportEvent,
  context?: LambdaContextLike,
): Promise<ReportResult> {
  const results = event?.results;
  if (!Array.isArray(results) || results.some((g) => !Array.isArray(g))) {
    throw new UsageError('LAMBDA_CONFIG', 'the event needs results: per group, per unit');
  }
  const all = results.flat();
  const failed = all
    .filter((o) => !o.ok)
    .map((o) => ({ userPoolId: o.userPoolId, ...(o.error ? { error: o.error } : {}) }));
  const r: ReportResult = { units: all.length, succeeded: all.length - failed.length, failed };
  new Logger({ ...(context ? { context } : {}) }).log(failed.length ? 'ERROR' : 'INFO', 'report', {
    ...r,
  });
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
