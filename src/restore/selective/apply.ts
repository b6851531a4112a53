import path from 'node:path';
import {
  AdminAddUserToGroupCommand,
  AdminDeleteUserAttributesCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminUpdateUserAttributesCommand,
  DescribeIdentityProviderCommand,
  UpdateGroupCommand,
  UpdateIdentityProviderCommand,
  UpdateResourceServerCommand,
  UpdateUserPoolClientCommand,
  type UpdateUserPoolClientCommandInput,
} from '@aws-sdk/client-cognito-identity-provider';
import { forEachConcurrent } from '../../core/concurrency.js';
import { CognitoError } from '../../core/errors.js';
import { awsMessage, rootAwsName } from '../../cognito/errors.js';
import { pickPresent } from '../../cognito/fields.js';
import { REDACTED } from '../../snapshot/format.js';
import { restoreClientSettings } from '../resources/client-settings.js';
import { Gate } from '../gate.js';
import { RestoreJournal } from '../state/journal.js';
import type { StateDirLock } from '../state/lock.js';
import { MembershipIndex } from '../users/memberships.js';
import {
  CLIENT_MAP_FILE,
  REPORT_FILE,
  writeClientMap,
  writeReport,
  writeSubMap,
} from '../state/outputs.js';
import { legacyAttributeName } from '../pool/target.js';
import type { PhaseContext } from '../phase-context.js';
import {
  identityProviderDetails,
  isResourceError,
  recordResourceFailure,
  restoreClients,
  restoreGroups,
  restoreIdentityProviders,
  restoreManagedLoginBranding,
  restoreResourceServers,
} from '../resources/restore.js';
import { signInContext } from '../users/sign-in.js';
import type { FailedUser, ResourceFailure } from '../types.js';
import { isFatal, restoreUsers, type UserPhaseResult } from '../users/admin-create.js';
import { CLIENT_UPDATE_KEYS } from './compare.js';
import { type SelectivePlan, type SelectiveRun, totalCalls } from './run-state.js';
import { SelectiveJournal } from './journal.js';
import type { ResourceWork, UserWork } from './plan.js';
import type { ResourceKind, SelectiveResult } from './types.js';

function clamp(n: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, n));
}

const OPERATION: Record<ResourceKind, string> = {
  group: 'UpdateGroup',
  resourceServer: 'UpdateResourceServer',
  identityProvider: 'UpdateIdentityProvider',
  client: 'UpdateUserPoolClient',
};

/**
 * Step: resources — missing ones created as a full restore creates them, then reverts of
 * existing ones; writes the client map. Returns the identity providers skipped.
 */
async function applyResources(
  run: SelectiveRun,
  plan: SelectivePlan,
  ctx: PhaseContext,
  sj: SelectiveJournal,
  clientMapFile: string,
): Promise<ReadonlySet<string>> {
  const { data } = plan;
  const creating = (k: ResourceKind): Set<string> =>
    new Set(plan.resources.filter((r) => r.kind === k && r.action === 'create').map((r) => r.name));
  const groups = creating('group');
  await restoreGroups(
    ctx,
    data.groups.filter((g) => groups.has(g.GroupName)),
  );
  const servers = creating('resourceServer');
  await restoreResourceServers(
    ctx,
    data.resourceServers.filter((s) => servers.has(s.Identifier)),
  );
  const idps = creating('identityProvider');
  const skippedIdps = await restoreIdentityProviders(
    ctx,
    data.identityProviders.filter((p) => idps.has(p.ProviderName)),
    run.options.idpSecrets,
  );
  const clientNames = creating('client');
  const clients = data.clients.filter((c) => clientNames.has(c.ClientName ?? c.ClientId));
  const clientIds = await restoreClients(ctx, clients, skippedIdps);
  writeClientMap(clientMapFile, clientIds);
  await restoreManagedLoginBranding(
    ctx,
    data.managedLoginBranding.filter((b) => clients.some((c) => c.ClientId === b.ClientId)),
    clients,
    clientIds,
  );
  await restoreClientSettings(ctx, data.pool, clients, clientIds);
  for (const r of plan.resources) {
    if (r.action !== 'revert') continue;
    await revertResource(run, plan, ctx, sj, r);
  }
  return skippedIdps;
}

/** Step: the missing users, created exactly as a full restore does (restoreUsers). */
async function createMissingUsers(
  run: SelectiveRun,
  plan: SelectivePlan,
  ctx: PhaseContext,
  gate: Gate,
  skippedIdps: ReadonlySet<string>,
): Promise<UserPhaseResult> {
  const { gw, options } = run;
  const creates = plan.users.filter((w) => w.action === 'create' && w.record);
  const index = new MembershipIndex();
  for (const w of creates) for (const g of w.groups) index.add(w.username, g);
  const rtt = (options.rttMs ?? 100) / 1000;
  const legacy =
    options.legacySubAttribute !== undefined
      ? legacyAttributeName(options.legacySubAttribute)
      : undefined;
  return restoreUsers(ctx, {
    reader: run.reader,
    users: creates.map((w) => w.record).filter((r) => r !== undefined),
    index,
    usernameAttributes: plan.usernameAttributes,
    legacySubAttribute: legacy,
    resources: Promise.resolve(skippedIdps),
    groups: gate,
    signIn: signInContext(plan.targetPool, options.passwordState ?? 'sign-in-ready'),
    recoveryConcurrency: clamp(
      Math.ceil(2 * gw.rate.ceilingOf('UserAccountRecovery') * rtt),
      2,
      32,
    ),
    createConcurrency: clamp(Math.ceil(2 * gw.rate.ceilingOf('UserCreation') * rtt), 2, 32),
    updateConcurrency: clamp(Math.ceil(2 * gw.rate.ceilingOf('UserUpdate') * rtt), 2, 32),
    queueLimit: 2000,
    consecutiveFailureLimit: 100,
    total: creates.length,
    federatedUsers: 'skip',
  });
}

/** Step: reverts of the existing users that differ (UserUpdate workers). */
async function revertUsers(
  run: SelectiveRun,
  plan: SelectivePlan,
  sj: SelectiveJournal,
  failedUsers: FailedUser[],
): Promise<void> {
  const { gw, options, progress } = run;
  const rtt = (options.rttMs ?? 100) / 1000;
  const reverts = plan.users.filter((w) => w.action === 'revert');
  if (reverts.length)
    progress({ type: 'phase', phase: 'revert', detail: `${reverts.length} users` });
  let done = 0;
  await forEachConcurrent(
    reverts,
    clamp(Math.ceil(2 * gw.rate.ceilingOf('UserUpdate') * rtt), 2, 16),
    async (w) => {
      await revertUser(run, plan, sj, w, failedUsers);
      progress({ type: 'restore', phase: 'revert', done: ++done, total: reverts.length });
    },
    run.signal,
  );
}

/** Step: the selected groups' membership changes not yet journaled. */
async function applyMemberships(
  run: SelectiveRun,
  plan: SelectivePlan,
  sj: SelectiveJournal,
  failedUsers: FailedUser[],
): Promise<void> {
  const { gw, poolId } = run;
  for (const c of plan.memberships) {
    const key = `${c.group}\u0000${c.username}`;
    if ((c.action === 'add' ? sj.state.addedMembers : sj.state.removedMembers).has(key)) continue;
    const operation = c.action === 'add' ? 'AdminAddUserToGroup' : 'AdminRemoveUserFromGroup';
    try {
      const input = { UserPoolId: poolId, Username: c.username, GroupName: c.group };
      await gw.send(
        c.action === 'add'
          ? new AdminAddUserToGroupCommand(input)
          : new AdminRemoveUserFromGroupCommand(input),
      );
      sj.append({ t: c.action === 'add' ? 'ma' : 'mr', g: c.group, u: c.username });
    } catch (e) {
      if (isFatal(e, operation)) throw e;
      failedUsers.push({ username: c.username, operation, error: describe(e) });
    }
  }
}

/** Step: the result from both journals (each user written counted once). */
function selectiveResult(
  run: SelectiveRun,
  plan: SelectivePlan,
  journal: RestoreJournal,
  sj: SelectiveJournal,
  o: { resumed: boolean; failedUsers: FailedUser[]; clientMapFile: string; reportFile: string },
): SelectiveResult {
  const { gw, poolId } = run;
  const resourceFailures: ResourceFailure[] = [...journal.state.resourceFailures.values()];
  const st = sj.state;
  // Users written: created, reverted, or given/removed a membership (each counted once).
  const memberUsers = new Set(
    [...st.removedMembers, ...st.addedMembers].map((k) => k.split('\u0000')[1] ?? ''),
  );
  for (const u of st.revertedUsers) memberUsers.delete(u);
  return {
    dryRun: false,
    selective: true,
    snapshot: run.reader.location,
    snapshotId: plan.snapshotId,
    userPoolId: poolId,
    existing: plan.existing,
    planHash: st.planHash ?? plan.hash,
    resumed: o.resumed,
    counts: plan.builder.counts,
    usersWritten: journal.state.created + st.revertedUsers.size + memberUsers.size,
    created: journal.state.created,
    reverted: st.revertedUsers.size,
    failed: o.failedUsers.length,
    subMap: plan.subMapFile,
    clientMap: o.clientMapFile,
    report: o.reportFile,
    stateDir: plan.stateDir,
    durationMs: Math.round(performance.now() - run.t0),
    requests: totalCalls(gw) - run.callsBefore,
    failedUsers: o.failedUsers,
    resourceFailures,
    warnings: [...run.warnings.values()],
    rates: gw.rate.report(),
  };
}

/**
 * Writes a reviewed plan: missing resources created as a full restore creates them (journaled
 * in journal.jsonl), reverts of existing resources, missing users created exactly as a full
 * restore does (restoreUsers: sign-in state, disabled flag, memberships, links, sub map), then
 * reverts of existing users and of selected groups' members. Steps: `applyResources`,
 * `createMissingUsers`, `revertUsers`, `applyMemberships`, outputs (`selectiveResult`).
 */
export async function applyPlan(
  run: SelectiveRun,
  plan: SelectivePlan,
  lock: StateDirLock,
): Promise<SelectiveResult> {
  const { gw, progress, warn, poolId } = run;
  const journal = await RestoreJournal.open(lock, {
    snapshotId: plan.snapshotId,
    sourcePoolId: plan.sourcePoolId,
    target: { userPoolId: poolId },
    at: run.now().toISOString(),
  });
  let sj: SelectiveJournal | undefined;
  try {
    sj = await SelectiveJournal.open(plan.stateDir);
    const resumed = journal.state.runs > 1;
    if (!journal.state.preflightPassed)
      journal.append({ t: 'preflight', at: run.now().toISOString() });
    if (!sj.state.planHash) sj.append({ t: 'plan', h: plan.hash, at: run.now().toISOString() });
    const ctx: PhaseContext = {
      gw,
      poolId,
      journal,
      warn,
      progress,
      signal: run.signal,
    };
    const gate = new Gate();
    const clientMapFile = path.join(plan.stateDir, CLIENT_MAP_FILE);
    const skippedIdps = await applyResources(run, plan, ctx, sj, clientMapFile);
    gate.openAll();
    const usersPhase = await createMissingUsers(run, plan, ctx, gate, skippedIdps);
    const failedUsers: FailedUser[] = [...usersPhase.failedUsers];
    await revertUsers(run, plan, sj, failedUsers);
    await applyMemberships(run, plan, sj, failedUsers);

    // ---- outputs ------------------------------------------------------------------------------
    await writeSubMap(journal, plan.subMapFile);
    const reportFile = path.join(plan.stateDir, REPORT_FILE);
    const result = selectiveResult(run, plan, journal, sj, {
      resumed,
      failedUsers,
      clientMapFile,
      reportFile,
    });
    writeReport(reportFile, { ...result, externalProviderUsers: usersPhase.externalProviderUsers });
    journal.append({ t: 'end', at: run.now().toISOString() });
    return result;
  } finally {
    sj?.close();
    journal.close();
  }
}

function describe(e: unknown): string {
  return `${rootAwsName(e)}: ${awsMessage(e)}`;
}

/**
 * One existing user put back: the differing attributes in one AdminUpdateUserAttributes call
 * (email/phone with their *_verified value, so no verification message), attributes added since
 * removed, the enabled state, then memberships added and removed.
 */
async function revertUser(
  run: SelectiveRun,
  plan: SelectivePlan,
  sj: SelectiveJournal,
  w: UserWork,
  failed: FailedUser[],
): Promise<void> {
  const { gw, poolId } = run;
  const user = w.target ?? w.username;
  const a = w.attrs;
  let operation = 'AdminUpdateUserAttributes';
  let added = 0;
  let removed = 0;
  try {
    if (a?.set.length) {
      await gw.send(
        new AdminUpdateUserAttributesCommand({
          UserPoolId: poolId,
          Username: user,
          UserAttributes: a.set,
        }),
      );
    }
    operation = 'AdminDeleteUserAttributes';
    if (a?.remove.length) {
      await gw.send(
        new AdminDeleteUserAttributesCommand({
          UserPoolId: poolId,
          Username: user,
          UserAttributeNames: a.remove,
        }),
      );
    }
    if (w.enable === true) {
      operation = 'AdminEnableUser';
      await gw.send(new AdminEnableUserCommand({ UserPoolId: poolId, Username: user }));
    } else if (w.enable === false) {
      operation = 'AdminDisableUser';
      await gw.send(new AdminDisableUserCommand({ UserPoolId: poolId, Username: user }));
    }
    operation = 'AdminAddUserToGroup';
    for (const g of w.addGroups) {
      if (!plan.groupsAvailable.has(g)) continue;
      await gw.send(
        new AdminAddUserToGroupCommand({ UserPoolId: poolId, Username: user, GroupName: g }),
      );
      added++;
    }
    operation = 'AdminRemoveUserFromGroup';
    for (const g of w.removeGroups) {
      await gw.send(
        new AdminRemoveUserFromGroupCommand({ UserPoolId: poolId, Username: user, GroupName: g }),
      );
      removed++;
    }
    sj.append({
      t: 'ur',
      u: w.username,
      a: a ? a.differing.length - a.unwritable.length - a.refused.length - a.remove.length : 0,
      d: a?.remove.length ?? 0,
      ...(w.enable !== undefined ? { e: w.enable ? (1 as const) : (0 as const) } : {}),
      g: added,
      r: removed,
    });
  } catch (e) {
    if (isFatal(e, operation)) throw e;
    failed.push({ username: w.username, operation, error: describe(e) });
  }
}

/** One existing resource put back to the snapshot's settings, in place (same name, same id). */
async function revertResource(
  run: SelectiveRun,
  plan: SelectivePlan,
  ctx: PhaseContext,
  sj: SelectiveJournal,
  r: ResourceWork,
): Promise<void> {
  const { gw, poolId, options } = run;
  const { data } = plan;
  try {
    if (r.kind === 'group') {
      const g = data.groups.find((x) => x.GroupName === r.name);
      if (!g) return;
      await gw.send(
        new UpdateGroupCommand({
          UserPoolId: poolId,
          GroupName: g.GroupName,
          Description: g.Description ?? '',
          ...(g.Precedence !== undefined ? { Precedence: g.Precedence } : {}),
          ...(g.RoleArn !== undefined ? { RoleArn: g.RoleArn } : {}),
        }),
      );
    } else if (r.kind === 'resourceServer') {
      const s = data.resourceServers.find((x) => x.Identifier === r.name);
      if (!s) return;
      await gw.send(
        new UpdateResourceServerCommand({
          UserPoolId: poolId,
          Identifier: s.Identifier,
          Name: s.Name,
          ...(s.Scopes?.length ? { Scopes: s.Scopes } : {}),
        }),
      );
    } else if (r.kind === 'identityProvider') {
      const p = data.identityProviders.find((x) => x.ProviderName === r.name);
      if (!p) return;
      const { details, missing } = identityProviderDetails(p, options.idpSecrets);
      if (missing.length) {
        // Secrets the snapshot lacks and --idp-secrets does not give: the live ones stay.
        const live = await gw.send(
          new DescribeIdentityProviderCommand({ UserPoolId: poolId, ProviderName: p.ProviderName }),
        );
        const ld = live.IdentityProvider?.ProviderDetails ?? {};
        for (const k of missing) {
          const v = ld[k];
          if (v !== undefined && v !== REDACTED) details[k] = v;
        }
      }
      await gw.send(
        new UpdateIdentityProviderCommand({
          UserPoolId: poolId,
          ProviderName: p.ProviderName,
          ProviderDetails: details,
          ...(p.AttributeMapping ? { AttributeMapping: p.AttributeMapping } : {}),
          ...(p.IdpIdentifiers ? { IdpIdentifiers: p.IdpIdentifiers } : {}),
        }),
      );
    } else {
      const c = data.clients.find((x) => (x.ClientName ?? x.ClientId) === r.name);
      if (!c || !r.liveId) return;
      // UpdateUserPoolClient resets every setting it is not given: all of them are sent.
      const input: UpdateUserPoolClientCommandInput = {
        UserPoolId: poolId,
        ClientId: r.liveId,
        ClientName: r.name,
        ...pickPresent(c, CLIENT_UPDATE_KEYS),
      };
      if (input.AnalyticsConfiguration?.ExternalId === REDACTED) {
        delete input.AnalyticsConfiguration;
        run.warn({
          code: 'CLIENT_ANALYTICS_REDACTED',
          message: `app client ${r.name}: its analytics configuration's ExternalId was redacted in the snapshot; reverted without analytics`,
        });
      }
      await gw.send(new UpdateUserPoolClientCommand(input));
    }
    sj.append({ t: 'rr', k: r.kind, n: r.name });
  } catch (e) {
    if (
      !isResourceError(e) &&
      !(e instanceof CognitoError && e.awsCode === 'ResourceNotFoundException')
    )
      throw e;
    if (!isResourceError(e)) throw e;
    recordResourceFailure(ctx, r.kind, r.name, OPERATION[r.kind], e);
  }
}
