import { CLIENT_SETTINGS_PHASE, clientSettingsCount } from '../resources/client-settings.js';
import {
  paginateListGroups,
  paginateListIdentityProviders,
  paginateListResourceServers,
  paginateListUserPoolClients,
} from '@aws-sdk/client-cognito-identity-provider';
import { type CognitoGateway, items } from '../../cognito/gateway.js';
import { IMPORT_LIMITS } from '../../snapshot/import-csv.js';
import type { SnapshotReader } from '../../snapshot/reader.js';
import type { UsersPathPlan } from '../users/import/phase.js';
import type { JournalState } from '../state/journal.js';
import type { UserScan } from '../pool/target.js';
import type { SnapshotData } from './snapshot.js';
import {
  clientInput,
  identityProviderDetails,
  secondSecretWarning,
  secretMissing,
} from '../resources/restore.js';
import type { PasswordState } from '../users/sign-in.js';
import type {
  PlanPhase,
  ResourceFailure,
  RestorePlan,
  RestoreTarget,
  RestoreWarning,
} from '../types.js';
import { opt } from '../../core/options.js';

export interface PlanInput {
  /** --federated-users precreate: federated users are created too. */
  precreateFederated?: boolean;
  /** --without-triggers on a pool not created yet, whose snapshot has triggers. */
  deferTriggers?: boolean;
  reader: SnapshotReader;
  data: SnapshotData;
  target: RestoreTarget;
  poolId: string | undefined;
  prior: JournalState | undefined;
  scan: UserScan;
  usersPlan: UsersPathPlan;
  memberships: number;
  stateDir: string;
  idpSecrets: Record<string, Record<string, string>> | undefined;
  passwordState: PasswordState;
  warnings: RestoreWarning[];
}

interface LiveNames {
  groups: Set<string>;
  servers: Set<string>;
  idps: Set<string>;
  clients: Set<string>;
}

/** The names of what the target pool already has (nothing for a pool not created yet). */
async function liveNames(gw: CognitoGateway, poolId: string | undefined): Promise<LiveNames> {
  const live: LiveNames = {
    groups: new Set(),
    servers: new Set(),
    idps: new Set(),
    clients: new Set(),
  };
  if (poolId) {
    const input = { UserPoolId: poolId };
    for await (const g of items(gw.pages(paginateListGroups, input), 'Groups'))
      live.groups.add(g.GroupName ?? '');
    for await (const s of items(gw.pages(paginateListResourceServers, input), 'ResourceServers'))
      live.servers.add(s.Identifier ?? '');
    for await (const i of items(gw.pages(paginateListIdentityProviders, input), 'Providers'))
      live.idps.add(i.ProviderName ?? '');
    for await (const c of items(gw.pages(paginateListUserPoolClients, input), 'UserPoolClients'))
      live.clients.add(c.ClientName ?? '');
  }
  return live;
}

function split(names: string[], live: Set<string>): { create: number; existing: number } {
  const existing = names.filter((n) => live.has(n)).length;
  return { create: names.length - existing, existing };
}

/**
 * Resources an earlier run could not restore stay skipped; IdPs without their secrets
 * (including every Sign in with Apple provider without --idp-secrets) will be. Adds the
 * secret-less ones to `failures`.
 */
function planIdentityProviders(
  p: PlanInput,
  live: Set<string>,
  failures: Map<string, ResourceFailure>,
  failedNames: (kind: ResourceFailure['kind']) => Set<string>,
): { phase: PlanPhase; skipped: string[] } {
  const skipped: string[] = [];
  let create = 0;
  let existing = 0;
  for (const idp of p.data.identityProviders) {
    const name = idp.ProviderName;
    if (p.prior?.idps.has(name) && p.prior.idps.get(name) !== 'k') existing++;
    else if (live.has(name)) existing++;
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
      } else create++;
    }
  }
  const phase: PlanPhase = {
    phase: 'identity-providers',
    create,
    existing,
    skipped: skipped.length,
    ...(skipped.length ? { detail: `not restored: ${skipped.join(', ')}` } : {}),
  };
  return { phase, skipped };
}

/** Warns about app clients that would lose an IdP or scopes not restored. */
function warnDroppedFromClients(
  p: PlanInput,
  live: Set<string>,
  skippedIdps: Set<string>,
  skippedServers: Set<string>,
): void {
  for (const c of p.data.clients) {
    const name = c.ClientName ?? c.ClientId;
    if (live.has(name) || p.prior?.clients.has(c.ClientId)) continue;
    const { dropped, droppedScopes, newSecret } = clientInput(
      c,
      p.poolId ?? '',
      skippedIdps,
      skippedServers,
    );
    const second = secondSecretWarning(c, name, Boolean(newSecret));
    if (second) p.warnings.push(second);
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
}

/** The pool, groups, resource servers, IdPs, clients and branding phases. */
function resourcePhases(
  p: PlanInput,
  live: LiveNames,
  failures: Map<string, ResourceFailure>,
): { phases: PlanPhase[]; skippedIdps: string[] } {
  const { data, poolId } = p;
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
      live.groups,
    ),
  });
  phases.push({
    phase: 'resource-servers',
    ...split(
      data.resourceServers.map((s) => s.Identifier),
      live.servers,
    ),
  });
  const failedNames = (kind: ResourceFailure['kind']): Set<string> =>
    new Set([...failures.values()].filter((f) => f.kind === kind).map((f) => f.name));
  const idps = planIdentityProviders(p, live.idps, failures, failedNames);
  phases.push(idps.phase);
  const secretClients = data.clients.filter((c) => typeof c.ClientSecret === 'string').length;
  warnDroppedFromClients(p, live.clients, new Set(idps.skipped), failedNames('resourceServer'));
  phases.push({
    phase: 'clients',
    ...split(
      data.clients.map((c) => c.ClientName ?? c.ClientId),
      live.clients,
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
  const perClient = clientSettingsCount(data.pool);
  if (perClient > 0) {
    phases.push({
      phase: CLIENT_SETTINGS_PHASE,
      create: p.prior?.phases.has(CLIENT_SETTINGS_PHASE) ? 0 : perClient,
      detail:
        "SetUICustomization / SetRiskConfiguration with the app client's new id, for the clients this restore creates",
    });
  }
  return { phases, skippedIdps: idps.skipped };
}

/** The users phases: AdminCreateUser, or import jobs plus AdminCreateUser for the rest. */
function userPhases(p: PlanInput, native: number, alreadyDone: number): PlanPhase[] {
  const federatedSkipped = p.precreateFederated ? 0 : p.scan.externalProvider;
  const up = p.usersPlan;
  if (up.effective === 'admin-create') {
    return [
      {
        phase: 'users',
        create: Math.max(0, native - alreadyDone),
        existing: alreadyDone,
        skipped: federatedSkipped,
        detail:
          p.passwordState === 'force-change'
            ? `AdminCreateUser, MessageAction SUPPRESS; users stay in FORCE_CHANGE_PASSWORD (${opt('passwordState')} force-change)`
            : 'AdminCreateUser, MessageAction SUPPRESS; then AdminSetUserPassword with a random password nobody knows: CONFIRMED, "forgot password" works',
      },
    ];
  }
  const files = Math.ceil(up.eligible / IMPORT_LIMITS.maxRows);
  return [
    {
      phase: 'users (import jobs)',
      create: up.eligible,
      existing: alreadyDone,
      skipped: federatedSkipped,
      detail: `about ${files} CSV file(s) of up to ${IMPORT_LIMITS.maxRows} rows (100 MB), one job each; users land in RESET_REQUIRED ("forgot password" works), no message, no MAU`,
    },
    {
      phase: 'users (AdminCreateUser)',
      create: up.ineligible,
      detail: up.ineligible
        ? `the import job cannot take them (${Object.entries(up.ineligibleByReason)
            .map(([r, n]) => `${n} ${r}`)
            .join(', ')}; listed in ${up.ineligibleFile ?? ''}); then the sign-in step below`
        : 'none',
    },
  ];
}

/** The sign-in, memberships, disable, links and deferred-trigger phases. */
function followUpPhases(p: PlanInput): PlanPhase[] {
  const si = p.scan.signIn;
  const phases: PlanPhase[] = [
    {
      phase: 'sign-in',
      create: si.c,
      detail: `${p.usersPlan.effective === 'admin-create' ? '' : 'users created with AdminCreateUser only (counts over all users): '}${si.c} CONFIRMED with a random password (AdminSetUserPassword), ${si.p} passwordless, ${si.f} FORCE_CHANGE_PASSWORD; ${si.needsAdmin} cannot get back in without an administrator (no verified email/phone, or never confirmed)`,
    },
    { phase: 'memberships', create: p.memberships, detail: 'AdminAddUserToGroup' },
    { phase: 'disable', create: p.scan.disabled, detail: 'AdminDisableUser' },
    { phase: 'links', create: p.scan.links, detail: 'AdminLinkProviderForUser' },
  ];
  if (p.deferTriggers) {
    phases.push({
      phase: 'triggers',
      create: 1,
      detail:
        'Lambda triggers attached after the users: one UpdateUserPool with the whole settings',
    });
  }
  return phases;
}

/** --dry-run: what each phase would create, from read-only calls. */
export async function planOnly(gw: CognitoGateway, p: PlanInput): Promise<RestorePlan> {
  const { poolId } = p;
  const live = await liveNames(gw, poolId);
  const failures = new Map(p.prior?.resourceFailures ?? []);
  const { phases, skippedIdps } = resourcePhases(p, live, failures);
  const alreadyDone = p.prior?.users.size ?? 0;
  const native = p.precreateFederated ? p.scan.total : p.scan.total - p.scan.externalProvider;
  phases.push(...userPhases(p, native, alreadyDone), ...followUpPhases(p));
  for (const idp of skippedIdps) {
    p.warnings.push({
      code: 'IDP_SKIPPED',
      message: `identity provider ${idp} would be skipped: no secret in the snapshot or ${opt('idpSecrets')}, or it failed in an earlier run`,
    });
  }
  const si = p.scan.signIn;
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
