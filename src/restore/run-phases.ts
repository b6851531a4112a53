import path from 'node:path';
import { PartialRestoreError } from '../core/errors.js';
import { restoreClientSettings } from './resources/client-settings.js';
import { Gate } from './gate.js';
import { type ImportPhaseResult, importUsers } from './users/import/phase.js';
import { CLIENT_MAP_FILE, writeClientMap } from './state/outputs.js';
import { describeTargetPool } from './pool/target.js';
import { partialRestoreError } from './state/report.js';
import type { PhaseContext } from './phase-context.js';
import {
  restoreClients,
  restoreGroups,
  restoreIdentityProviders,
  restoreManagedLoginBranding,
  restoreResourceServers,
} from './resources/restore.js';
import type { PhasesResult, RunStep } from './run-state.js';
import { type SignInContext, signInContext } from './users/sign-in.js';
import { attachTriggers, snapshotTriggers } from './pool/triggers.js';
import { TotpReport } from './users/mfa.js';
import { restoreUsers, type UserPhaseResult } from './users/admin-create.js';

/** Users whose TOTP cannot be restored (0600, in the state directory). */
const MFA_NOT_RESTORED_FILE = 'mfa-not-restored.jsonl';

function clamp(n: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, n));
}

/**
 * Groups, resource servers, IdPs, clients and their branding, in that order; resolves to the
 * identity providers not restored. Groups open `groupGate` as they exist.
 */
async function restoreResources(
  step: RunStep,
  ctx: PhaseContext,
  groupGate: Gate,
  clientMapFile: string,
): Promise<ReadonlySet<string>> {
  const { data, index } = step.pre;
  // Most-used groups first, so most memberships can start soonest.
  const groupsByUse = index.countsByGroup();
  const groupOrder = [...data.groups].sort(
    (a, b) => (groupsByUse.get(b.GroupName) ?? 0) - (groupsByUse.get(a.GroupName) ?? 0),
  );
  try {
    await restoreGroups(ctx, groupOrder);
    groupGate.openAll();
  } catch (e) {
    groupGate.fail(e);
    throw e;
  }
  await restoreResourceServers(ctx, data.resourceServers);
  const skipped = await restoreIdentityProviders(
    ctx,
    data.identityProviders,
    step.run.options.idpSecrets,
  );
  const clientIds = await restoreClients(ctx, data.clients, skipped);
  writeClientMap(clientMapFile, clientIds);
  await restoreManagedLoginBranding(ctx, data.managedLoginBranding, data.clients, clientIds);
  await restoreClientSettings(ctx, data.pool, data.clients, clientIds);
  return skipped;
}

/** The import jobs (import-job and auto paths with a logs role), or undefined. */
function startImport(
  step: RunStep,
  ctx: PhaseContext,
  poolId: string,
): Promise<ImportPhaseResult> | undefined {
  const { run, pre } = step;
  const { options, target } = run;
  const importLogsRoleArn = options.importLogsRoleArn;
  if (pre.usersPlan.effective === 'admin-create' || !importLogsRoleArn) return undefined;
  const poolName = pre.targetPool?.Name ?? ('createPool' in target ? target.createPool : poolId);
  return importUsers(ctx, {
    reader: run.reader,
    stateDir: pre.stateDir,
    roleArn: importLogsRoleArn,
    poolName,
    usernameAttributes: pre.usernameAttributes,
    onlyImport: pre.usersPlan.requested === 'import-job',
    jobNamePrefix: `cognito-vault-${pre.snapshotId.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 40)}`,
    ...(options.importLogs ? { logs: options.importLogs } : {}),
    ...(options.importUpload ? { upload: options.importUpload } : {}),
    ...(options.importPollMs
      ? { pollMinMs: options.importPollMs.min, pollMaxMs: options.importPollMs.max }
      : {}),
  });
}

/** The users after the import jobs (if any), with their follow-ups pipelined. */
function restoreAllUsers(
  step: RunStep,
  p: {
    ctx: PhaseContext;
    importing: Promise<ImportPhaseResult> | undefined;
    resources: Promise<ReadonlySet<string>>;
    groupGate: Gate;
    signIn: SignInContext;
    totp: TotpReport;
  },
): Promise<{ users: UserPhaseResult; imported: ImportPhaseResult | undefined }> {
  const { run, pre } = step;
  const { gw, options } = run;
  const rtt = (options.rttMs ?? 100) / 1000;
  return (async () => {
    const imported = p.importing ? await p.importing : undefined;
    const users = await restoreUsers(p.ctx, {
      ...(imported ? { resolveExisting: imported.resolve } : {}),
      reader: run.reader,
      index: pre.index,
      usernameAttributes: pre.usernameAttributes,
      legacySubAttribute: pre.legacy,
      resources: p.resources,
      groups: p.groupGate,
      signIn: p.signIn,
      recoveryConcurrency: clamp(
        Math.ceil(2 * gw.rate.ceilingOf('UserAccountRecovery') * rtt),
        4,
        32,
      ),
      createConcurrency:
        options.createConcurrency ??
        clamp(Math.ceil(2 * gw.rate.ceilingOf('UserCreation') * rtt), 4, 32),
      updateConcurrency:
        options.updateConcurrency ??
        clamp(Math.ceil(2 * gw.rate.ceilingOf('UserUpdate') * rtt), 4, 32),
      queueLimit: options.followUpQueueLimit ?? 2000,
      consecutiveFailureLimit: options.consecutiveFailureLimit ?? 100,
      total: pre.scan.total,
      totp: p.totp,
      federatedUsers: options.federatedUsers ?? 'skip',
    });
    return { users, imported };
  })();
}

/**
 * The pool's resources and its users, at the same time: groups, resource servers, IdPs and
 * clients (UserPoolResource*\/Client* quotas, 5 RPS per pool) are created while users are
 * (UserCreation); follow-ups wait only for them. Either side failing stops the other; the first
 * failure is the one reported (a partial restore with its users in the 0600 report).
 */
export async function runPhases(step: RunStep, poolId: string): Promise<PhasesResult> {
  const { run, pre, journal } = step;
  const { gw, options, progress, warn } = run;
  const groupGate = new Gate();
  const ctx: PhaseContext = {
    gw,
    poolId,
    journal,
    warn,
    progress,
    signal: run.signal,
    groupReady: (name) => groupGate.open(name),
    ...(options.settleDelaysMs ? { settleDelaysMs: options.settleDelaysMs } : {}),
  };
  const clientMapFile = path.join(pre.stateDir, CLIENT_MAP_FILE);
  const resources = restoreResources(step, ctx, groupGate, clientMapFile);

  // The password policy, passwordless factors and account recovery of the pool written to.
  const signIn = signInContext(
    (pre.existingTarget ? pre.targetPool : undefined) ?? (await describeTargetPool(gw, poolId)),
    pre.passwordState,
  );
  if (pre.passwordState === 'sign-in-ready' && !signIn.recoverByEmail && !signIn.recoverByPhone) {
    warn({
      code: 'NO_SELF_SERVICE_RECOVERY',
      message:
        'the target pool allows no self-service account recovery (AccountRecoverySetting admin_only): "forgot password" is unavailable, users with a password need an administrator (listed in needs-admin.jsonl)',
    });
  }
  const totp = new TotpReport(path.join(pre.stateDir, MFA_NOT_RESTORED_FILE));
  const importing = startImport(step, ctx, poolId);
  const usersPhase = restoreAllUsers(step, { ctx, importing, resources, groupGate, signIn, totp });
  usersPhase.finally(() => totp.close()).catch(() => undefined);
  let first: { error: unknown } | undefined;
  const stopOnFailure = (e: unknown): void => {
    if (!first) {
      first = { error: e };
      run.abort(e);
    }
  };
  const [, usersSettled] = await Promise.allSettled([
    resources.catch(stopOnFailure),
    usersPhase.catch((e: unknown) => {
      stopOnFailure(e);
      throw e;
    }),
  ]);
  if (first) {
    const e = first.error;
    if (e instanceof PartialRestoreError) throw partialRestoreError(step, poolId, e);
    throw e;
  }
  if (usersSettled.status !== 'fulfilled') throw usersSettled.reason;
  const { users, imported } = usersSettled.value;
  return { users, imported, skippedIdps: await resources, clientMapFile, totp };
}

/** --without-triggers: the triggers go back once every user and follow-up is done. */
export async function attachDeferredTriggers(step: RunStep, poolId: string): Promise<void> {
  const { run, pre, journal } = step;
  if (journal.state.triggers !== 'pending') return;
  run.progress({ type: 'phase', phase: 'triggers', detail: 'attaching the Lambda triggers' });
  const lambdaConfig = snapshotTriggers(pre.data.pool.userPool);
  if (lambdaConfig) await attachTriggers(run.gw, poolId, lambdaConfig);
  journal.append({ t: 'triggers', s: 'attached' });
}
