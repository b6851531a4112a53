import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { existsSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import {
  CreateUserPoolCommand,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  ExitCode,
  InterruptedError,
  PartialRestoreError,
  TargetIncompatibleError,
  UsageError,
} from '../core/errors.js';
import { noProgress } from '../core/progress.js';
import { type CognitoGateway, regionOfPoolId } from '../cognito/gateway.js';
import type { SnapshotReader } from '../snapshot/reader.js';
import { IMPORT_LIMITS } from '../snapshot/import-csv.js';
import { accountOfPoolArn, arnPreflight, checkAfterCreate, collectArns } from './arns.js';
import { reconfigureList } from './reconfigure.js';
import { TotpReport } from './user-mfa.js';
import { createOnce, RESTORE_TOKEN_TAG, SINGLE_ATTEMPT } from './create-once.js';
import { assertWritableDir, assertWritableFile } from '../storage/local.js';
import {
  assertJournalMatches,
  JOURNAL_FILE,
  type JournalState,
  readJournal,
  RestoreJournal,
} from './journal.js';
import {
  CLIENT_MAP_FILE,
  defaultStateDir,
  NEEDS_ADMIN_FILE,
  REPORT_FILE,
  SUB_MAP_FILE,
  writeClientMap,
  writeReport,
  writeNeedsAdmin,
  writeSubMap,
} from './outputs.js';
import { PASSWORD_STATES, type PasswordState, signInContext } from './sign-in.js';
import {
  compatibilityDifferences,
  describeTargetPool,
  legacyAttributeName,
  notRestoredWarnings,
  planPoolCreation,
  poolHasUsers,
  poolsNamed,
  requiredAttributes,
} from './pool.js';
import { buildMembershipIndex, loadSnapshot, scanUsers, type SnapshotData } from './preflight.js';
import {
  clientInput,
  identityProviderDetails,
  isResourceError,
  type PhaseContext,
  recordResourceFailure,
  secretMissing,
  restoreClients,
  restoreManagedLoginBranding,
  restoreGroups,
  restoreIdentityProviders,
  restoreResourceServers,
} from './resources.js';
import type {
  PlanPhase,
  RestoreOptions,
  RestoreOutcome,
  ResourceFailure,
  RestorePlan,
  RestoreResult,
  RestoreTarget,
  RestoreWarning,
} from './types.js';
import { Gate } from './gate.js';
import type { StateDirLock } from './lock.js';
import { applyNewPoolSettings, SETTINGS_PHASE } from './settings.js';
import { restoreUsers } from './users.js';
import {
  DEFAULT_USERS_PATH,
  type ImportPhaseResult,
  importUsers,
  planUsersPath,
  poolLike,
  type UsersPathPlan,
} from './import-path.js';
import { attachTriggers, snapshotTriggers, withoutLambdaConfig } from './triggers.js';

type Loose = Record<string, unknown>;

/** Users whose TOTP cannot be restored (0600, in the state directory). */
const MFA_NOT_RESTORED_FILE = 'mfa-not-restored.jsonl';

/** Cognito-hosted domain prefixes: lowercase letters, digits and hyphens, 1–63 characters. */
export const DOMAIN_PREFIX = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const FOLLOW_UP_OPS = new Set([
  'AdminSetUserPassword',
  'AdminAddUserToGroup',
  'AdminDisableUser',
  'AdminLinkProviderForUser',
  'AdminSetUserMFAPreference',
]);

function clamp(n: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, n));
}

/**
 * The process exit code for a finished restore: 6 when any user or pool resource (identity
 * provider, app client, group, …) failed, else 0.
 */
export function restoreExitCode(outcome: RestoreOutcome): number {
  if (outcome.dryRun) return ExitCode.Ok;
  return outcome.failedUsers.length > 0 || outcome.resourceFailures.length > 0
    ? ExitCode.PartialRestore
    : ExitCode.Ok;
}

/**
 * Restores one snapshot into a new or existing user pool: preflight (nothing is written unless
 * it passes) → pool → groups → resource servers → identity providers → app clients → users with
 * their memberships, links and disabled state (pipelined) → sub map, client id map, report.
 * Every finished unit is journaled in the state directory; running it again with the same
 * target continues where a crash, SIGKILL or Ctrl-C stopped it and ends with the same result.
 */
export async function restoreSnapshot(
  gw: CognitoGateway,
  reader: SnapshotReader,
  options: RestoreOptions,
): Promise<RestoreOutcome> {
  const t0 = performance.now();
  const now = options.now ?? (() => new Date());
  const progress = options.onProgress ?? noProgress;
  const target = options.target;
  const warnings = new Map<string, RestoreWarning>();
  const warn = (w: RestoreWarning): void => {
    if (warnings.has(w.message)) return;
    warnings.set(w.message, w);
    progress({ type: 'warning', code: w.code, message: w.message });
  };

  const run = new AbortController();
  setMaxListeners(0, run.signal);
  const onOuterAbort = (): void => run.abort(new InterruptedError());
  if (options.signal?.aborted) throw new InterruptedError();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  gw.setSignal(run.signal);
  let lock: StateDirLock | undefined;
  let createdStateDir = false;

  try {
    // ---- preflight: nothing is written before it passes --------------------------------------
    progress({ type: 'phase', phase: 'preflight', detail: 'verifying the snapshot' });
    if ('createPool' in target && !target.createPool.trim())
      throw new UsageError('BAD_FLAG', '--create-pool needs a pool name');
    const legacy =
      options.legacySubAttribute !== undefined
        ? legacyAttributeName(options.legacySubAttribute)
        : undefined;
    if (options.domain !== undefined && !DOMAIN_PREFIX.test(options.domain)) {
      throw new UsageError(
        'BAD_FLAG',
        `--domain expects a domain prefix (lowercase letters, digits, hyphens), got "${options.domain}"`,
      );
    }
    const passwordState = options.passwordState ?? 'sign-in-ready';
    if (!PASSWORD_STATES.includes(passwordState)) {
      throw new UsageError(
        'BAD_FLAG',
        `--password-state expects ${PASSWORD_STATES.join(' or ')}, got "${String(passwordState)}"`,
      );
    }
    if (
      options.federatedUsers !== undefined &&
      options.federatedUsers !== 'skip' &&
      options.federatedUsers !== 'precreate'
    ) {
      throw new UsageError(
        'BAD_FLAG',
        `--federated-users expects skip or precreate, got "${String(options.federatedUsers)}"`,
      );
    }
    if (options.withoutTriggers && !('createPool' in target)) {
      throw new UsageError(
        'BAD_FLAG',
        "--without-triggers works with --create-pool only: an existing pool's triggers are its owner's (detach them yourself, or restore into a new pool)",
      );
    }
    const snapshotId = reader.manifest.snapshotId;
    const sourcePoolId = reader.manifest.userPool.id;
    const stateDir = path.resolve(options.stateDir ?? defaultStateDir(snapshotId, target));
    const subMapFile = path.resolve(options.subMapFile ?? path.join(stateDir, SUB_MAP_FILE));
    // Every output location is checked before the snapshot is read and before any Cognito
    // write: an unwritable --state-dir or --sub-map must not fail after every user exists.
    await assertOutputsWritable(stateDir, subMapFile);
    const data = await loadSnapshot(reader);
    const source = data.pool.userPool as Loose;
    // The lock comes before the journal is read: a journal read before locking may be stale
    // by the time the lock is held (another run created the pool meanwhile).
    if (!options.dryRun) {
      createdStateDir = !existsSync(stateDir);
      lock = await RestoreJournal.lockDir(stateDir);
    }
    const prior = await readJournal(stateDir);
    if (prior) assertJournalMatches(prior, stateDir, snapshotId, target);

    let targetPool: UserPoolType | undefined;
    let poolId: string | undefined;
    if ('userPoolId' in target) {
      poolId = target.userPoolId;
      targetPool = await describeTargetPool(gw, poolId);
    } else if (prior?.poolId) {
      poolId = prior.poolId;
      try {
        targetPool = await describeTargetPool(gw, poolId);
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
    } else if (prior?.poolIntent) {
      poolId = await adoptInterruptedPool(gw, prior, target.createPool, warn);
      if (poolId) targetPool = await describeTargetPool(gw, poolId);
    }

    const existingTarget = 'userPoolId' in target;
    const usernameAttributes = ((existingTarget ? targetPool : undefined)?.UsernameAttributes ??
      (source.UsernameAttributes as string[] | undefined) ??
      []) as string[];
    progress({ type: 'phase', phase: 'preflight', detail: 'reading users and memberships' });
    // How users will land: from the target's settings, or the snapshot's for a new pool.
    const signInPreview = signInContext(
      (existingTarget ? targetPool : undefined) ?? (source as UserPoolType),
      passwordState,
    );
    const scan = await scanUsers(reader, {
      required: existingTarget && targetPool ? requiredAttributes(targetPool) : [],
      usernameAttributes,
      signIn: signInPreview,
      includeExternal: options.federatedUsers === 'precreate',
    });
    if (existingTarget && targetPool) {
      const diffs = compatibilityDifferences(source, targetPool, scan, legacy);
      if (
        !options.merge &&
        !prior?.preflightPassed &&
        (await poolHasUsers(gw, target.userPoolId))
      ) {
        diffs.push(
          'the target pool already has users: restore into an empty pool, or pass --merge to add to it (users it has count as existing)',
        );
      }
      if (diffs.length) {
        throw new TargetIncompatibleError(
          `${target.userPoolId} cannot take snapshot ${snapshotId}:\n  ${diffs.join('\n  ')}`,
          diffs,
          { userPoolId: target.userPoolId, differences: diffs.length },
        );
      }
    }
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

    if (options.dryRun) {
      return await planOnly(gw, {
        reader,
        data,
        target,
        poolId,
        prior,
        scan,
        usersPlan,
        memberships: index.size,
        stateDir,
        idpSecrets: options.idpSecrets,
        passwordState,
        precreateFederated: options.federatedUsers === 'precreate',
        deferTriggers:
          Boolean(options.withoutTriggers) &&
          (prior?.triggers === 'pending' ||
            (!poolId && snapshotTriggers(data.pool.userPool) !== undefined)),
        warnings: [...warnings.values()],
      });
    }

    // ---- the restore ----------------------------------------------------------------------
    if (!lock) throw new Error('state directory not locked');
    const held = lock;
    lock = undefined; // the journal owns it now
    const journal = await RestoreJournal.open(held, {
      snapshotId,
      sourcePoolId,
      target,
      at: now().toISOString(),
    });
    try {
      const state = journal.state;
      const resumed = state.runs > 1;
      if (!state.preflightPassed) journal.append({ t: 'preflight', at: now().toISOString() });

      let createdPool = false;
      if (creating) {
        if (!poolId) {
          progress({ type: 'phase', phase: 'pool', detail: `creating ${target.createPool}` });
          if (options.withoutTriggers && !state.triggers && snapshotTriggers(data.pool.userPool))
            journal.append({ t: 'triggers', s: 'pending' });
          const name = target.createPool;
          const preexisting = state.poolIntent?.preexisting ?? (await poolsNamed(gw, name));
          const planned = poolPlan?.input ?? { PoolName: name };
          const baseInput = state.triggers === 'pending' ? withoutLambdaConfig(planned) : planned;
          const createdId = await createOnce(
            () => {
              // A fresh token per attempt, journaled before the call and carried as a tag: the
              // pool an attempt created is found by it, whatever else is named alike.
              const token = randomUUID();
              journal.append({ t: 'pool-intent', name, preexisting, token });
              const input = {
                ...baseInput,
                UserPoolTags: { ...baseInput.UserPoolTags, [RESTORE_TOKEN_TAG]: token },
              };
              return gw
                .call(
                  'CreateUserPool',
                  undefined,
                  (abortSignal) =>
                    gw.client.send(new CreateUserPoolCommand(input), { abortSignal }),
                  SINGLE_ATTEMPT,
                )
                .then((r) => r.UserPool?.Id);
            },
            () => adoptInterruptedPool(gw, state, name, warn),
            {
              signal: run.signal,
              ...(options.settleDelaysMs ? { settleDelaysMs: options.settleDelaysMs } : {}),
            },
          );
          if (!createdId) throw new Error('CreateUserPool returned no pool id');
          poolId = createdId;
        }
        if (state.poolId !== poolId) journal.append({ t: 'pool', id: poolId });
        if (!accountOfPoolArn(targetPool?.Arn)) {
          // The account was not known (or only claimed) before the pool existed.
          const created = await describeTargetPool(gw, poolId);
          for (const w of checkAfterCreate(data, created, arns.checked, !!options.allowForeignArns))
            warn(w);
        }
        createdPool = true;
        if (!state.poolSettingsDone || !state.phases.has(SETTINGS_PHASE)) {
          const plan = poolPlan ?? planPoolCreation(data.pool, target.createPool, legacy, webauthn);
          await applyNewPoolSettings(
            {
              gw,
              poolId,
              region: regionOfPoolId(poolId),
              journal,
              warn,
              // A refused MFA configuration is a resource failure: the restore goes on.
              mfaRefused: (e) => {
                if (!isResourceError(e)) return false;
                recordResourceFailure(
                  { journal, progress },
                  'mfaConfig',
                  target.createPool,
                  'SetUserPoolMfaConfig',
                  e,
                );
                return true;
              },
            },
            data.pool,
            plan.mfa,
            {
              ...(options.webauthnRpId ? { webauthnRpId: options.webauthnRpId } : {}),
              ...(options.domain ? { domain: options.domain } : {}),
            },
          );
        }
      }
      if (!poolId) throw new Error('no target pool');

      if (
        options.domain &&
        state.domain !== options.domain &&
        !state.failed('domain', options.domain)
      ) {
        const live = targetPool ?? (await describeTargetPool(gw, poolId));
        if (live.Domain || live.CustomDomain) {
          warn({
            code: 'DOMAIN_EXISTS',
            message: `the target pool already has a domain (${live.CustomDomain ?? live.Domain}); --domain ${options.domain} not created`,
          });
        } else {
          const version = (data.pool.domain as Loose | undefined)?.ManagedLoginVersion;
          const domainPool = poolId;
          try {
            await gw.createUserPoolDomain({
              UserPoolId: domainPool,
              Domain: options.domain,
              ...(typeof version === 'number' ? { ManagedLoginVersion: version } : {}),
            });
          } catch (e) {
            // A retry after a lost answer finds the domain taken — by this pool.
            if ((await describeTargetPool(gw, domainPool)).Domain !== options.domain) {
              if (!isResourceError(e)) throw e;
              recordResourceFailure(
                { journal, progress },
                'domain',
                options.domain,
                'CreateUserPoolDomain',
                e,
              );
            }
          }
        }
        if (!state.failed('domain', options.domain))
          journal.append({ t: 'domain', d: options.domain });
      }

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
      const clientMapFile = path.join(stateDir, CLIENT_MAP_FILE);
      // Most-used groups first, so most memberships can start soonest.
      const groupsByUse = index.countsByGroup();
      const groupOrder = [...data.groups].sort(
        (a, b) => (groupsByUse.get(b.GroupName) ?? 0) - (groupsByUse.get(a.GroupName) ?? 0),
      );
      // Groups, resource servers, IdPs and clients (UserPoolResource*/Client* quotas, 5 RPS per
      // pool) are created while users are (UserCreation): follow-ups wait only for them.
      const resources = (async (): Promise<ReadonlySet<string>> => {
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
          options.idpSecrets,
        );
        const clientIds = await restoreClients(ctx, data.clients, skipped);
        writeClientMap(clientMapFile, clientIds);
        await restoreManagedLoginBranding(ctx, data.managedLoginBranding, data.clients, clientIds);
        return skipped;
      })();

      // The password policy, passwordless factors and account recovery of the pool written to.
      const signIn = signInContext(
        (existingTarget ? targetPool : undefined) ?? (await describeTargetPool(gw, poolId)),
        passwordState,
      );
      if (passwordState === 'sign-in-ready' && !signIn.recoverByEmail && !signIn.recoverByPhone) {
        warn({
          code: 'NO_SELF_SERVICE_RECOVERY',
          message:
            'the target pool allows no self-service account recovery (AccountRecoverySetting admin_only): "forgot password" is unavailable, users with a password need an administrator (listed in needs-admin.jsonl)',
        });
      }
      const totp = new TotpReport(path.join(stateDir, MFA_NOT_RESTORED_FILE));
      const rtt = (options.rttMs ?? 100) / 1000;
      const importLogsRoleArn = options.importLogsRoleArn;
      const poolName = targetPool?.Name ?? ('createPool' in target ? target.createPool : poolId);
      const importing: Promise<ImportPhaseResult> | undefined =
        usersPlan.effective !== 'admin-create' && importLogsRoleArn
          ? importUsers(ctx, {
              reader,
              stateDir,
              roleArn: importLogsRoleArn,
              poolName,
              usernameAttributes,
              onlyImport: usersPlan.requested === 'import-job',
              jobNamePrefix: `cognito-vault-${snapshotId.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 40)}`,
              ...(options.importLogs ? { logs: options.importLogs } : {}),
              ...(options.importUpload ? { upload: options.importUpload } : {}),
              ...(options.importPollMs
                ? { pollMinMs: options.importPollMs.min, pollMaxMs: options.importPollMs.max }
                : {}),
            })
          : undefined;
      let imported: ImportPhaseResult | undefined;
      const usersPhase = (async () => {
        imported = importing ? await importing : undefined;
        return restoreUsers(ctx, {
          ...(imported ? { resolveExisting: imported.resolve } : {}),
          reader,
          index,
          usernameAttributes,
          legacySubAttribute: legacy,
          resources,
          groups: groupGate,
          signIn,
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
          total: scan.total,
          totp,
          federatedUsers: options.federatedUsers ?? 'skip',
        });
      })();
      usersPhase.finally(() => totp.close()).catch(() => undefined);
      // Either side failing stops the other; the first failure is the one reported.
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
        if (e instanceof PartialRestoreError) {
          // The per-user detail goes to the 0600 report, never to the error message.
          const reportFile = path.join(stateDir, REPORT_FILE);
          writeReport(reportFile, {
            partial: true,
            snapshot: reader.location,
            snapshotId,
            userPoolId: poolId,
            stateDir,
            failedUsers: e.failedUsers,
            warnings: [...warnings.values()],
          });
          throw new PartialRestoreError(
            `${e.message} (the failed users are listed in ${reportFile})`,
            { ...e.context, report: reportFile },
            e.failedUsers,
          );
        }
        throw e;
      }
      if (usersSettled.status !== 'fulfilled') throw usersSettled.reason;
      const users = usersSettled.value;

      if (totp.count) {
        warn({
          code: 'TOTP_NOT_RESTORABLE',
          message: `${totp.count} user(s) had TOTP (authenticator app) MFA, which cannot be restored: no API exports or imports the secret; they set it up again (listed in ${totp.file})`,
        });
      }
      const mfaMode = (data.pool.mfaConfig as Loose | undefined)?.MfaConfiguration;
      if (!reader.manifest.options.userMfa && typeof mfaMode === 'string' && mfaMode !== 'OFF') {
        warn({
          code: 'USER_MFA_NOT_CAPTURED',
          message: `the pool's MFA is ${mfaMode}, but the snapshot has no per-user MFA settings (backup without --user-mfa): users set up MFA again`,
        });
      }

      // --without-triggers: the triggers go back once every user and follow-up is done.
      if (state.triggers === 'pending') {
        progress({ type: 'phase', phase: 'triggers', detail: 'attaching the Lambda triggers' });
        const lambdaConfig = snapshotTriggers(data.pool.userPool);
        if (lambdaConfig) await attachTriggers(gw, poolId, lambdaConfig);
        journal.append({ t: 'triggers', s: 'attached' });
      }

      progress({ type: 'phase', phase: 'outputs' });
      await writeSubMap(journal, subMapFile);
      const needsAdminFile = path.join(stateDir, NEEDS_ADMIN_FILE);
      await writeNeedsAdmin(journal, needsAdminFile);
      const failedCreates = new Set(
        users.failedUsers.filter((f) => !FOLLOW_UP_OPS.has(f.operation)).map((f) => f.username),
      );
      const reportFile = path.join(stateDir, REPORT_FILE);
      const result: RestoreResult = {
        dryRun: false,
        snapshot: reader.location,
        snapshotId,
        sourceUserPoolId: sourcePoolId,
        userPoolId: poolId,
        createdPool,
        resumed,
        users: {
          created: state.created,
          imported: state.imported,
          existing: state.existing,
          failed: failedCreates.size,
          externalProvider: users.externalProviderUsers.length,
          ...(options.federatedUsers === 'precreate'
            ? { federatedPrecreated: state.federatedCreated }
            : {}),
        },
        usersPath: usersPlan,
        importJobs: imported?.jobs ?? [],
        groups: state.groups.size,
        resourceServers: state.resourceServers.size,
        identityProviders: [...state.idps.values()].filter((s) => s !== 'k').length,
        clients: state.clients.size,
        memberships: state.memberships,
        disabled: state.disabled,
        links: state.links,
        signIn: {
          passwordState,
          confirmed: state.signIn.c,
          passwordless: state.signIn.p,
          forceChangePassword: state.signIn.f,
          needsAdmin: state.signIn.needsAdmin,
          needsAdminFile,
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
        subMap: subMapFile,
        clientMap: clientMapFile,
        report: reportFile,
        stateDir,
        durationMs: Math.round(performance.now() - t0),
        reconfigure: reconfigureList({
          poolId,
          region: regionOfPoolId(poolId),
          domain: state.domain ?? targetPool?.Domain,
          customDomain: targetPool?.CustomDomain,
          oldDomain: oldDomainOf(data),
          identityProviders: data.identityProviders,
          skippedIdps: await resources,
          clients: state.clients.size,
          clientMapFile,
          triggerArns: creating
            ? collectArns(data, { includePool: true })
                .filter((u) => u.path.startsWith('pool.userPool.LambdaConfig.'))
                .map((u) => u.arn)
            : [],
        }),
        failedUsers: users.failedUsers,
        resourceFailures: [...state.resourceFailures.values()],
        externalProviderUsers: users.externalProviderUsers,
        warnings: [...warnings.values()],
        rates: gw.rate.report(),
      };
      // Per-row import results name users: the 0600 report only, never the console or --json.
      writeReport(reportFile, { ...result, importRows: imported?.lines ?? [] });
      journal.append({ t: 'end', at: now().toISOString() });
      return result;
    } finally {
      journal.close();
    }
  } catch (e) {
    if (options.signal?.aborted) throw new InterruptedError();
    throw e;
  } finally {
    if (lock) {
      // Preflight failed: release, and leave no empty state directory behind.
      lock.release();
      if (createdStateDir) rmEmptyDir(lock.dir);
    }
    options.signal?.removeEventListener('abort', onOuterAbort);
    gw.setSignal(undefined);
  }
}

function rmEmptyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not empty, or gone
  }
}

/** The snapshot pool's domain (custom or prefix), for the reconfigure list. */
function oldDomainOf(data: SnapshotData): string | undefined {
  const up = data.pool.userPool as Loose;
  const d = up.CustomDomain ?? up.Domain ?? (data.pool.domain as Loose | undefined)?.Domain;
  return typeof d === 'string' && d ? d : undefined;
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
 * The pool an earlier attempt created whose answer was lost (a reset connection, a 5xx, or the
 * run died before journaling it). Attempts journal a random token before the call and tag the
 * pool with it, so the pool is recognised by its tag among the pools named like the target that
 * did not exist before (another run or person may have created one alike meanwhile). If lost
 * answers made more than one, the first attempt's pool is used and the others are reported.
 * Journals written before tokens existed fall back to "the one new pool of that name".
 */
async function adoptInterruptedPool(
  gw: CognitoGateway,
  prior: JournalState,
  name: string,
  warn: (w: RestoreWarning) => void,
): Promise<string | undefined> {
  const before = new Set(prior.poolIntent?.preexisting ?? []);
  const candidates = (await poolsNamed(gw, name)).filter((id) => !before.has(id));
  const tokens = prior.poolIntent?.tokens ?? [];
  if (tokens.length === 0) {
    if (candidates.length > 1) {
      throw new UsageError(
        'POOL_AMBIGUOUS',
        `an earlier run was interrupted while creating pool "${name}", and ${candidates.length} new pools have that name (${candidates.join(', ')}); delete the extra ones or restore into one with --to-user-pool-id`,
        { name },
      );
    }
    return candidates[0];
  }
  const ours: { id: string; order: number }[] = [];
  for (const id of candidates) {
    let pool: UserPoolType;
    try {
      pool = await describeTargetPool(gw, id);
    } catch (e) {
      if (e instanceof UsageError && e.code === 'POOL_NOT_FOUND') continue;
      throw e;
    }
    const order = tokens.indexOf(pool.UserPoolTags?.[RESTORE_TOKEN_TAG] ?? '');
    if (order >= 0) ours.push({ id, order });
  }
  ours.sort((a, b) => a.order - b.order);
  for (const extra of ours.slice(1)) {
    warn({
      code: 'POOL_DUPLICATE',
      message: `a retried CreateUserPool after a lost answer also created pool ${extra.id} ("${name}"); it is not used — delete it`,
    });
  }
  return ours[0]?.id;
}

interface PlanInput {
  /** --federated-users precreate: federated users are created too. */
  precreateFederated?: boolean;
  /** --without-triggers on a pool not created yet, whose snapshot has triggers. */
  deferTriggers?: boolean;
  reader: SnapshotReader;
  data: SnapshotData;
  target: RestoreTarget;
  poolId: string | undefined;
  prior: JournalState | undefined;
  scan: Awaited<ReturnType<typeof scanUsers>>;
  usersPlan: UsersPathPlan;
  memberships: number;
  stateDir: string;
  idpSecrets: Record<string, Record<string, string>> | undefined;
  passwordState: PasswordState;
  warnings: RestoreWarning[];
}

/** --dry-run: what each phase would create, from read-only calls. */
async function planOnly(gw: CognitoGateway, p: PlanInput): Promise<RestorePlan> {
  const { data, poolId } = p;
  const liveGroups = new Set<string>();
  const liveServers = new Set<string>();
  const liveIdps = new Set<string>();
  const liveClients = new Set<string>();
  if (poolId) {
    for await (const g of gw.listGroups(poolId)) liveGroups.add(g.GroupName ?? '');
    for await (const s of gw.listResourceServers(poolId)) liveServers.add(s.Identifier ?? '');
    for await (const i of gw.listIdentityProviders(poolId)) liveIdps.add(i.ProviderName ?? '');
    for await (const c of gw.listUserPoolClients(poolId)) liveClients.add(c.ClientName ?? '');
  }
  const split = (names: string[], live: Set<string>): { create: number; existing: number } => {
    const existing = names.filter((n) => live.has(n)).length;
    return { create: names.length - existing, existing };
  };
  const phases: PlanPhase[] = [];
  phases.push(
    poolId
      ? { phase: 'pool', create: 0, existing: 1, detail: poolId }
      : {
          phase: 'pool',
          create: 1,
          detail: `CreateUserPool "${'createPool' in p.target ? p.target.createPool : ''}"`,
        },
  );
  phases.push({
    phase: 'groups',
    ...split(
      data.groups.map((g) => g.GroupName),
      liveGroups,
    ),
  });
  phases.push({
    phase: 'resource-servers',
    ...split(
      data.resourceServers.map((s) => s.Identifier),
      liveServers,
    ),
  });
  // Resources an earlier run could not restore stay skipped; IdPs without their secrets
  // (including every Sign in with Apple provider without --idp-secrets) will be.
  const failures = new Map(p.prior?.resourceFailures ?? []);
  const failedNames = (kind: ResourceFailure['kind']): Set<string> =>
    new Set([...failures.values()].filter((f) => f.kind === kind).map((f) => f.name));
  const skipped: string[] = [];
  let idpCreate = 0;
  let idpExisting = 0;
  for (const idp of data.identityProviders) {
    const name = idp.ProviderName;
    if (p.prior?.idps.has(name) && p.prior.idps.get(name) !== 'k') idpExisting++;
    else if (liveIdps.has(name)) idpExisting++;
    else if (p.prior?.idps.get(name) === 'k' || failedNames('identityProvider').has(name))
      skipped.push(name);
    else {
      const { missing } = identityProviderDetails(idp, p.idpSecrets);
      if (missing.length) {
        skipped.push(name);
        failures.set(`identityProvider\u0000${name}`, {
          kind: 'identityProvider',
          name,
          operation: 'CreateIdentityProvider',
          error: secretMissing(idp, missing),
        });
      } else idpCreate++;
    }
  }
  phases.push({
    phase: 'identity-providers',
    create: idpCreate,
    existing: idpExisting,
    skipped: skipped.length,
    ...(skipped.length ? { detail: `not restored: ${skipped.join(', ')}` } : {}),
  });
  const secretClients = data.clients.filter((c) => typeof c.ClientSecret === 'string').length;
  const skippedIdps = new Set(skipped);
  const skippedServers = failedNames('resourceServer');
  for (const c of data.clients) {
    const name = c.ClientName ?? c.ClientId;
    if (liveClients.has(name) || p.prior?.clients.has(c.ClientId)) continue;
    const { dropped, droppedScopes } = clientInput(c, poolId ?? '', skippedIdps, skippedServers);
    if (dropped.length) {
      p.warnings.push({
        code: 'CLIENT_IDP_DROPPED',
        message: `app client ${name} would be created without identity provider(s) ${dropped.join(', ')} (not restored)`,
      });
    }
    if (droppedScopes.length) {
      p.warnings.push({
        code: 'CLIENT_SCOPES_DROPPED',
        message: `app client ${name} would be created without scope(s) ${droppedScopes.join(', ')} (their resource server was not restored)`,
      });
    }
  }
  phases.push({
    phase: 'clients',
    ...split(
      data.clients.map((c) => c.ClientName ?? c.ClientId),
      liveClients,
    ),
    detail: `new client ids${secretClients ? `; ${secretClients} with a new generated secret` : ''}`,
  });
  if (data.managedLoginBranding.length > 0) {
    const done = data.managedLoginBranding.filter((b) => p.prior?.brandings.has(b.ClientId)).length;
    phases.push({
      phase: 'managed-login-branding',
      create: data.managedLoginBranding.length - done,
      ...(done ? { existing: done } : {}),
      detail: 'CreateManagedLoginBranding, one style per restored app client (new client id)',
    });
  }
  const alreadyDone = p.prior?.users.size ?? 0;
  const native = p.precreateFederated ? p.scan.total : p.scan.total - p.scan.externalProvider;
  const federatedSkipped = p.precreateFederated ? 0 : p.scan.externalProvider;
  const up = p.usersPlan;
  if (up.effective === 'admin-create') {
    phases.push({
      phase: 'users',
      create: Math.max(0, native - alreadyDone),
      existing: alreadyDone,
      skipped: federatedSkipped,
      detail:
        p.passwordState === 'force-change'
          ? 'AdminCreateUser, MessageAction SUPPRESS; users stay in FORCE_CHANGE_PASSWORD (--password-state force-change)'
          : 'AdminCreateUser, MessageAction SUPPRESS; then AdminSetUserPassword with a random password nobody knows: CONFIRMED, "forgot password" works',
    });
  } else {
    const files = Math.ceil(up.eligible / IMPORT_LIMITS.maxRows);
    phases.push({
      phase: 'users (import jobs)',
      create: up.eligible,
      existing: alreadyDone,
      skipped: federatedSkipped,
      detail: `about ${files} CSV file(s) of up to ${IMPORT_LIMITS.maxRows} rows (100 MB), one job each; users land in RESET_REQUIRED ("forgot password" works), no message, no MAU`,
    });
    phases.push({
      phase: 'users (AdminCreateUser)',
      create: up.ineligible,
      detail: up.ineligible
        ? `the import job cannot take them (${Object.entries(up.ineligibleByReason)
            .map(([r, n]) => `${n} ${r}`)
            .join(', ')}; listed in ${up.ineligibleFile ?? ''}); then the sign-in step below`
        : 'none',
    });
  }
  const si = p.scan.signIn;
  phases.push({
    phase: 'sign-in',
    create: si.c,
    detail: `${up.effective === 'admin-create' ? '' : 'users created with AdminCreateUser only (counts over all users): '}${si.c} CONFIRMED with a random password (AdminSetUserPassword), ${si.p} passwordless, ${si.f} FORCE_CHANGE_PASSWORD; ${si.needsAdmin} cannot get back in without an administrator (no verified email/phone, or never confirmed)`,
  });
  phases.push({ phase: 'memberships', create: p.memberships, detail: 'AdminAddUserToGroup' });
  phases.push({ phase: 'disable', create: p.scan.disabled, detail: 'AdminDisableUser' });
  phases.push({ phase: 'links', create: p.scan.links, detail: 'AdminLinkProviderForUser' });
  if (p.deferTriggers) {
    phases.push({
      phase: 'triggers',
      create: 1,
      detail:
        'Lambda triggers attached after the users: one UpdateUserPool with the whole settings',
    });
  }
  for (const idp of skipped) {
    p.warnings.push({
      code: 'IDP_SKIPPED',
      message: `identity provider ${idp} would be skipped: no secret in the snapshot or --idp-secrets, or it failed in an earlier run`,
    });
  }
  return {
    dryRun: true,
    snapshot: p.reader.location,
    snapshotId: p.reader.manifest.snapshotId,
    sourceUserPoolId: p.reader.manifest.userPool.id,
    target: p.target,
    ...(poolId ? { userPoolId: poolId } : {}),
    resumed: Boolean(p.prior?.preflightPassed),
    phases,
    users: {
      total: p.scan.total,
      toCreate: Math.max(0, native - alreadyDone),
      alreadyDone,
      externalProvider: p.scan.externalProvider,
    },
    signIn: {
      passwordState: p.passwordState,
      confirmed: si.c,
      passwordless: si.p,
      forceChangePassword: si.f,
      needsAdmin: si.needsAdmin,
    },
    usersPath: p.usersPlan,
    memberships: p.memberships,
    disabled: p.scan.disabled,
    links: p.scan.links,
    stateDir: p.stateDir,
    resourceFailures: [...failures.values()],
    warnings: p.warnings,
  };
}
