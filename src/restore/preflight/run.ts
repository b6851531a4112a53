import { existsSync } from 'node:fs';
import path from 'node:path';
import type { UserPoolType } from '@aws-sdk/client-cognito-identity-provider';
import { TargetIncompatibleError, UsageError } from '../../core/errors.js';
import { assertWritableDir, assertWritableFile } from '../../storage/local.js';
import { arnPreflight } from './arns.js';
import { adoptInterruptedPool } from '../pool/ensure.js';
import { DEFAULT_USERS_PATH, planUsersPath, poolLike } from '../users/import/phase.js';
import { mauCostGate } from './mau-cost.js';
import {
  assertJournalMatches,
  JOURNAL_FILE,
  type JournalState,
  readJournal,
  RestoreJournal,
} from '../state/journal.js';
import {
  CLIENT_MAP_FILE,
  defaultStateDir,
  NEEDS_ADMIN_FILE,
  REPORT_FILE,
  SUB_MAP_FILE,
} from '../state/outputs.js';
import {
  compatibilityDifferences,
  describeTargetPool,
  legacyAttributeName,
  notRestoredWarnings,
  planPoolCreation,
  poolHasUsers,
  type UserScan,
} from '../pool/target.js';
import { buildMembershipIndex, loadSnapshot, scanUsers } from './snapshot.js';
import type { LockSlot, Preflight, RestoreRun } from '../run-state.js';
import { PASSWORD_STATES, type PasswordState, signInContext } from '../users/sign-in.js';
import type { RestoreOptions } from '../types.js';
import { opt } from '../../core/options.js';
import { requiredAttributes } from '../../snapshot/user-record.js';

/** Cognito-hosted domain prefixes: lowercase letters, digits and hyphens, 1–63 characters. */
export const DOMAIN_PREFIX = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The options that need no I/O to check; returns the password state to use. */
function validateOptions(options: RestoreOptions): PasswordState {
  const target = options.target;
  if ('createPool' in target && !target.createPool.trim())
    throw new UsageError('BAD_FLAG', `${opt('target.createPool')} needs a pool name`, {
      option: 'target.createPool',
    });
  if (options.domain !== undefined && !DOMAIN_PREFIX.test(options.domain)) {
    throw new UsageError(
      'BAD_FLAG',
      `${opt('domain')} expects a domain prefix (lowercase letters, digits, hyphens), got "${options.domain}"`,
      { option: 'domain' },
    );
  }
  const passwordState = options.passwordState ?? 'sign-in-ready';
  if (!PASSWORD_STATES.includes(passwordState)) {
    throw new UsageError(
      'BAD_FLAG',
      `${opt('passwordState')} expects ${PASSWORD_STATES.join(' or ')}, got "${String(passwordState)}"`,
      { option: 'passwordState' },
    );
  }
  if (
    options.federatedUsers !== undefined &&
    options.federatedUsers !== 'skip' &&
    options.federatedUsers !== 'precreate'
  ) {
    throw new UsageError(
      'BAD_FLAG',
      `${opt('federatedUsers')} expects skip or precreate, got "${String(options.federatedUsers)}"`,
      { option: 'federatedUsers' },
    );
  }
  if (options.withoutTriggers && !('createPool' in target)) {
    throw new UsageError(
      'BAD_FLAG',
      `${opt('withoutTriggers')} works with ${opt('target.createPool')} only: an existing pool's triggers are its owner's (detach them yourself, or restore into a new pool)`,
      { option: 'withoutTriggers' },
    );
  }
  return passwordState;
}

/** exit 8 unless the state directory, its files and the sub map can be written. */
async function assertOutputsWritable(stateDir: string, subMapFile: string): Promise<void> {
  await assertWritableDir(stateDir, 'the state directory');
  for (const f of [JOURNAL_FILE, REPORT_FILE, CLIENT_MAP_FILE, NEEDS_ADMIN_FILE]) {
    await assertWritableFile(path.join(stateDir, f), f);
  }
  await assertWritableFile(subMapFile, 'the sub map');
}

/**
 * The target pool known before any write: the existing pool restored into, the pool an earlier
 * run created, or the one an interrupted CreateUserPool left behind.
 */
async function resolveTarget(
  run: RestoreRun,
  prior: JournalState | undefined,
  stateDir: string,
): Promise<{ poolId: string | undefined; targetPool: UserPoolType | undefined }> {
  const { gw, target } = run;
  if ('userPoolId' in target) {
    return {
      poolId: target.userPoolId,
      targetPool: await describeTargetPool(gw, target.userPoolId),
    };
  }
  if (prior?.poolId) {
    const poolId = prior.poolId;
    try {
      return { poolId, targetPool: await describeTargetPool(gw, poolId) };
    } catch (e) {
      if (e instanceof UsageError && e.code === 'POOL_NOT_FOUND') {
        throw new UsageError(
          'POOL_GONE',
          `the pool an earlier run of this restore created (${poolId}) no longer exists; move ${stateDir} away to start over`,
          { userPoolId: poolId, stateDir },
        );
      }
      throw e;
    }
  }
  if (prior?.poolIntent) {
    const poolId = await adoptInterruptedPool(gw, prior, target.createPool, run.warn);
    return { poolId, targetPool: poolId ? await describeTargetPool(gw, poolId) : undefined };
  }
  return { poolId: undefined, targetPool: undefined };
}

/** exit 4 when an existing target pool cannot take the snapshot (or has users, without merge). */
async function assertCompatible(
  run: RestoreRun,
  p: {
    snapshotId: string;
    source: UserPoolType;
    targetPool: UserPoolType;
    scan: UserScan;
    legacy: string | undefined;
    prior: JournalState | undefined;
  },
): Promise<void> {
  const { target } = run;
  if (!('userPoolId' in target)) return;
  const diffs = compatibilityDifferences(p.source, p.targetPool, p.scan, p.legacy);
  if (
    !run.options.merge &&
    !p.prior?.preflightPassed &&
    (await poolHasUsers(run.gw, target.userPoolId))
  ) {
    diffs.push(
      `the target pool already has users: restore into an empty pool, or pass ${opt('merge')} to add to it (users it has count as existing)`,
    );
  }
  if (diffs.length) {
    throw new TargetIncompatibleError(
      `${target.userPoolId} cannot take snapshot ${p.snapshotId}:\n  ${diffs.join('\n  ')}`,
      diffs,
      { userPoolId: target.userPoolId, differences: diffs.length },
    );
  }
}

/** Locks the state directory (not for a dry run) and reads an earlier run's journal. */
async function lockAndReadJournal(
  run: RestoreRun,
  slot: LockSlot,
  stateDir: string,
  snapshotId: string,
): Promise<JournalState | undefined> {
  // The lock comes before the journal is read: a journal read before locking may be stale
  // by the time the lock is held (another run created the pool meanwhile).
  if (!run.options.dryRun) {
    slot.createdStateDir = !existsSync(stateDir);
    slot.lock = await RestoreJournal.lockDir(stateDir);
  }
  const prior = await readJournal(stateDir);
  if (prior) assertJournalMatches(prior, stateDir, snapshotId, run.target);
  return prior;
}

/**
 * Preflight: nothing is written to Cognito before it passes. Checks the options and output
 * locations, verifies and reads the snapshot, locks the state directory (into `slot`), finds
 * the target pool, scans the users, checks compatibility and ARNs, and plans the users' path.
 */
export async function runPreflight(run: RestoreRun, slot: LockSlot): Promise<Preflight> {
  const { gw, reader, options, target, progress, warn } = run;
  progress({ type: 'phase', phase: 'preflight', detail: 'verifying the snapshot' });
  const passwordState = validateOptions(options);
  const legacy =
    options.legacySubAttribute !== undefined
      ? legacyAttributeName(options.legacySubAttribute)
      : undefined;
  const snapshotId = reader.manifest.snapshotId;
  const sourcePoolId = reader.manifest.userPool.id;
  const stateDir = path.resolve(options.stateDir ?? defaultStateDir(snapshotId, target));
  const subMapFile = path.resolve(options.subMapFile ?? path.join(stateDir, SUB_MAP_FILE));
  // Every output location is checked before the snapshot is read and before any Cognito
  // write: an unwritable --state-dir or --sub-map must not fail after every user exists.
  await assertOutputsWritable(stateDir, subMapFile);
  const data = await loadSnapshot(reader);
  const source = data.pool.userPool;
  const prior = await lockAndReadJournal(run, slot, stateDir, snapshotId);
  const { poolId, targetPool } = await resolveTarget(run, prior, stateDir);

  const existingTarget = 'userPoolId' in target;
  const usernameAttributes: string[] =
    (existingTarget ? targetPool : undefined)?.UsernameAttributes ??
    source.UsernameAttributes ??
    [];
  progress({ type: 'phase', phase: 'preflight', detail: 'reading users and memberships' });
  // How users will land: from the target's settings, or the snapshot's for a new pool.
  const signInPreview = signInContext(
    (existingTarget ? targetPool : undefined) ?? source,
    passwordState,
  );
  const scan = await scanUsers(reader, {
    required: existingTarget && targetPool ? requiredAttributes(targetPool.SchemaAttributes) : [],
    usernameAttributes,
    signIn: signInPreview,
    includeExternal: options.federatedUsers === 'precreate',
  });
  if (existingTarget && targetPool)
    await assertCompatible(run, { snapshotId, source, targetPool, scan, legacy, prior });
  // Account- and Region-bound ARNs: --map-arns rewrites `data` in place, then every foreign
  // ARN left is named (exit 4) unless --allow-foreign-arns.
  const arns = await arnPreflight(gw, data, {
    targetPool,
    creating: 'createPool' in target,
    mapArns: options.mapArns,
    mapArnsSource: options.mapArnsSource,
    allowForeignArns: Boolean(options.allowForeignArns),
    targetAccount: options.targetAccount,
  });
  for (const w of arns.warnings) warn(w);
  const { index, unknownGroups } = await buildMembershipIndex(reader, data.groups);
  for (const [g, n] of unknownGroups) {
    warn({
      code: 'UNKNOWN_GROUP',
      message: `${n} membership(s) name group ${g}, which is not in the snapshot's groups; skipped`,
    });
  }
  if (scan.noLogin > 0) {
    warn({
      code: 'NO_USERNAME_VALUE',
      message: `${scan.noLogin} user(s) have no ${usernameAttributes.join(' or ')} to sign in with; they will fail`,
    });
  }
  const creating = 'createPool' in target;
  const webauthn = options.webauthnRpId ? { webauthnRpId: options.webauthnRpId } : {};
  const poolPlan =
    creating && !poolId
      ? planPoolCreation(data.pool, target.createPool, legacy, webauthn)
      : undefined;
  for (const w of poolPlan?.warnings ?? [])
    if (!(options.withoutTriggers && w.code === 'LAMBDA_TRIGGERS')) warn(w);
  for (const w of notRestoredWarnings(data.pool, creating && !options.domain, !creating)) warn(w);
  if (prior) for (const w of prior.warnings.values()) warn(w);
  progress({ type: 'phase', phase: 'preflight', detail: 'checking which path each user takes' });
  const usersPlan = await planUsersPath(reader, {
    requested: options.usersPath ?? DEFAULT_USERS_PATH,
    roleArn: options.importLogsRoleArn,
    legacySubAttribute: legacy,
    pool: existingTarget && targetPool ? poolLike(targetPool) : data.pool,
    stateDir,
    warn,
  });
  // No surprise bill: many users written with admin operations (each a MAU) only because no
  // import-logs role was given stop here, before anything is written to Cognito (exit 4).
  mauCostGate({
    plan: usersPlan,
    requested: options.usersPath ?? DEFAULT_USERS_PATH,
    roleArn: options.importLogsRoleArn,
    accept: Boolean(options.acceptMauCost),
    threshold: options.mauCostThreshold,
    native:
      options.federatedUsers === 'precreate' ? scan.total : scan.total - scan.externalProvider,
    alreadyDone: prior?.users.size ?? 0,
    dryRun: Boolean(options.dryRun),
    warn,
  });
  return {
    snapshotId,
    sourcePoolId,
    stateDir,
    subMapFile,
    data,
    legacy,
    passwordState,
    prior,
    targetPool,
    poolId,
    existingTarget,
    creating,
    usernameAttributes,
    scan,
    arns,
    index,
    poolPlan,
    webauthn,
    usersPlan,
  };
}
