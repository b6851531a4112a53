import path from 'node:path';
import { PartialRestoreError } from '../../core/errors.js';
import { regionOfPoolId } from '../../cognito/gateway.js';
import { collectArns } from '../preflight/arns.js';
import {
  NEEDS_ADMIN_FILE,
  REPORT_FILE,
  writeNeedsAdmin,
  writeReport,
  writeSubMap,
} from './outputs.js';
import type { SnapshotData } from '../preflight/snapshot.js';
import { reconfigureList } from './reconfigure.js';
import type { PhasesResult, PoolReady, RunStep } from '../run-state.js';
import type { RestoreResult } from '../types.js';
import { opt } from '../../core/options.js';

/** Follow-up operations: a user failing one of them was still created. */
const FOLLOW_UP_OPS = new Set([
  'AdminSetUserPassword',
  'AdminAddUserToGroup',
  'AdminDisableUser',
  'AdminLinkProviderForUser',
  'AdminSetUserMFAPreference',
]);

/** The snapshot pool's domain (custom or prefix), for the reconfigure list. */
function oldDomainOf(data: SnapshotData): string | undefined {
  const up = data.pool.userPool;
  return up.CustomDomain || up.Domain || data.pool.domain?.Domain || undefined;
}

/**
 * A partial restore that stopped the run: the per-user detail goes to the 0600 report, never
 * to the error message, which names the report instead.
 */
export function partialRestoreError(
  step: RunStep,
  poolId: string,
  e: PartialRestoreError,
): PartialRestoreError {
  const { run, pre } = step;
  const reportFile = path.join(pre.stateDir, REPORT_FILE);
  writeReport(reportFile, {
    partial: true,
    snapshot: run.reader.location,
    snapshotId: pre.snapshotId,
    userPoolId: poolId,
    stateDir: pre.stateDir,
    failedUsers: e.failedUsers,
    warnings: [...run.warnings.values()],
  });
  return new PartialRestoreError(
    `${e.message} (the failed users are listed in ${reportFile})`,
    { ...e.context, report: reportFile },
    e.failedUsers,
  );
}

/** Warnings known once the users are done: TOTP not restorable, per-user MFA not captured. */
export function warnAfterUsers(step: RunStep, phases: PhasesResult): void {
  const { run, pre } = step;
  const { totp } = phases;
  if (totp.count) {
    run.warn({
      code: 'TOTP_NOT_RESTORABLE',
      message: `${totp.count} user(s) had TOTP (authenticator app) MFA, which cannot be restored: no API exports or imports the secret; they set it up again (listed in ${totp.file})`,
    });
  }
  const mfaMode = pre.data.pool.mfaConfig?.MfaConfiguration;
  if (!run.reader.manifest.options.userMfa && mfaMode && mfaMode !== 'OFF') {
    run.warn({
      code: 'USER_MFA_NOT_CAPTURED',
      message: `the pool's MFA is ${mfaMode}, but the snapshot has no per-user MFA settings (backup without ${opt('userMfa')}): users set up MFA again`,
    });
  }
}

/** What to reconfigure by hand after the restore (callback URLs, IdP redirect URIs, triggers). */
function reconfigure(step: RunStep, pool: PoolReady, phases: PhasesResult) {
  const { pre, journal } = step;
  const { poolId } = pool;
  return reconfigureList({
    poolId,
    region: regionOfPoolId(poolId),
    domain: journal.state.domain ?? pre.targetPool?.Domain,
    customDomain: pre.targetPool?.CustomDomain,
    oldDomain: oldDomainOf(pre.data),
    identityProviders: pre.data.identityProviders,
    skippedIdps: phases.skippedIdps,
    clients: journal.state.clients.size,
    clientMapFile: phases.clientMapFile,
    triggerArns: pre.creating
      ? collectArns(pre.data, { includePool: true })
          .filter((u) => u.path.startsWith('pool.userPool.LambdaConfig.'))
          .map((u) => u.arn)
      : [],
  });
}

/** The restore's result, from the journal's counts and the phases' outcome. */
function buildResult(
  step: RunStep,
  pool: PoolReady,
  phases: PhasesResult,
  files: { needsAdminFile: string; reportFile: string },
): RestoreResult {
  const { run, pre, journal } = step;
  const { reader, options } = run;
  const state = journal.state;
  const { users, totp } = phases;
  const failedCreates = new Set(
    users.failedUsers.filter((f) => !FOLLOW_UP_OPS.has(f.operation)).map((f) => f.username),
  );
  return {
    dryRun: false,
    snapshot: reader.location,
    snapshotId: pre.snapshotId,
    sourceUserPoolId: pre.sourcePoolId,
    userPoolId: pool.poolId,
    createdPool: pool.createdPool,
    resumed: state.runs > 1,
    users: {
      created: state.created,
      imported: state.imported,
      existing: state.existing,
      failed: failedCreates.size,
      externalProvider: users.externalProviderUsers.length,
      ...(options.federatedUsers === 'precreate'
        ? { federatedPrecreated: state.federatedCreated }
        : {}),
      ...(run.reader.erasures ? { erased: run.reader.erasures.erasedSeen ?? 0 } : {}),
    },
    usersPath: pre.usersPlan,
    importJobs: phases.imported?.jobs ?? [],
    groups: state.groups.size,
    resourceServers: state.resourceServers.size,
    identityProviders: [...state.idps.values()].filter((s) => s !== 'k').length,
    clients: state.clients.size,
    memberships: state.memberships,
    disabled: state.disabled,
    links: state.links,
    signIn: {
      passwordState: pre.passwordState,
      confirmed: state.signIn.c,
      passwordless: state.signIn.p,
      forceChangePassword: state.signIn.f,
      needsAdmin: state.signIn.needsAdmin,
      needsAdminFile: files.needsAdminFile,
    },
    ...(state.triggers ? { triggersAttached: state.triggers === 'attached' } : {}),
    ...(reader.manifest.options.userMfa
      ? {
          mfa: {
            preferencesSet: state.mfaPreferences,
            totpNotRestorable: totp.count,
            ...(totp.count ? { totpFile: totp.file } : {}),
          },
        }
      : {}),
    subMap: pre.subMapFile,
    clientMap: phases.clientMapFile,
    report: files.reportFile,
    stateDir: pre.stateDir,
    durationMs: Math.round(performance.now() - run.t0),
    reconfigure: reconfigure(step, pool, phases),
    failedUsers: users.failedUsers,
    resourceFailures: [...state.resourceFailures.values()],
    externalProviderUsers: users.externalProviderUsers,
    warnings: [...run.warnings.values()],
    rates: run.gw.rate.report(),
  };
}

/**
 * The outputs of a finished restore: the sub map, the users who need an administrator, and the
 * 0600 report (with the per-row import results, which name users: never the console or --json).
 * The journal's end record comes last.
 */
export async function writeOutputs(
  step: RunStep,
  pool: PoolReady,
  phases: PhasesResult,
): Promise<RestoreResult> {
  const { run, pre, journal } = step;
  run.progress({ type: 'phase', phase: 'outputs' });
  await writeSubMap(journal, pre.subMapFile);
  const needsAdminFile = path.join(pre.stateDir, NEEDS_ADMIN_FILE);
  await writeNeedsAdmin(journal, needsAdminFile);
  const reportFile = path.join(pre.stateDir, REPORT_FILE);
  const result = buildResult(step, pool, phases, { needsAdminFile, reportFile });
  writeReport(reportFile, { ...result, importRows: phases.imported?.lines ?? [] });
  journal.append({ t: 'end', at: run.now().toISOString() });
  return result;
}
