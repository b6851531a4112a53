import {
  type AssetType,
  CreateGroupCommand,
  CreateIdentityProviderCommand,
  CreateManagedLoginBrandingCommand,
  type CreateIdentityProviderCommandInput,
  CreateResourceServerCommand,
  CreateUserPoolClientCommand,
  paginateListGroups,
  paginateListIdentityProviders,
  paginateListResourceServers,
  paginateListUserPoolClients,
  type CreateUserPoolClientCommandInput,
  type GroupType,
} from '@aws-sdk/client-cognito-identity-provider';
import { forEachConcurrent } from '../../core/concurrency.js';
import { CognitoError, UnexpectedResponseError } from '../../core/errors.js';
import { items } from '../../cognito/gateway.js';
import { CREATE_CLIENT_KEYS, pickPresent } from '../../cognito/fields.js';
import {
  type ClientRecord,
  type GroupRecord,
  type IdentityProviderRecord,
  type ManagedLoginBrandingRecord,
  REDACTED,
  type ResourceServerRecord,
} from '../../snapshot/format.js';
import { createOnce, SINGLE_ATTEMPT } from '../create-once.js';
import type { PhaseContext } from '../phase-context.js';
import type { ResourceFailure, RestoreWarning } from '../types.js';
import { awsMessage, rootAwsName } from '../../cognito/errors.js';
import { opt } from '../../core/options.js';

function awsCode(e: unknown): string | undefined {
  return e instanceof CognitoError ? e.awsCode : undefined;
}

/**
 * Whether an error fails only the resource at hand (Cognito refused that request) rather than
 * the restore: interruption, credentials and permissions (exit 5), an unreachable or
 * persistently throttling endpoint (exit 7), the target pool vanishing, and bugs stop the run.
 */
export function isResourceError(e: unknown): e is CognitoError {
  return e instanceof CognitoError && e.awsCode !== 'ResourceNotFoundException';
}

/**
 * Records a resource that could not be restored: journaled (a resumed run reports it again and
 * does not retry it, since its dependants were already adjusted), shown on the console (kind,
 * name and Cognito's error: configuration, not personal data).
 */
export function recordResourceFailure(
  ctx: Pick<PhaseContext, 'journal' | 'progress'>,
  kind: ResourceFailure['kind'],
  name: string,
  operation: string,
  error: unknown,
): void {
  const text = typeof error === 'string' ? error : `${rootAwsName(error)}: ${awsMessage(error)}`;
  ctx.journal.append({ t: 'rf', k: kind, n: name, o: operation, e: text });
  ctx.progress({
    type: 'warning',
    code: 'RESOURCE_FAILED',
    message: `${kind} ${name} not restored (${operation}: ${text}); the restore goes on without it`,
  });
}

// ---- groups --------------------------------------------------------------------------------

export function groupDiffers(snapshot: GroupRecord, live: GroupType): boolean {
  return (
    (snapshot.Description ?? undefined) !== (live.Description ?? undefined) ||
    (snapshot.Precedence ?? undefined) !== (live.Precedence ?? undefined) ||
    (snapshot.RoleArn ?? undefined) !== (live.RoleArn ?? undefined)
  );
}

/**
 * CreateGroup for every group of the snapshot the target lacks (description, precedence, role).
 * A group that exists already (listed, or GroupExistsException) is done. CreateGroup is paced at
 * Cognito's 5 RPS per pool, so a few workers suffice.
 */
export async function restoreGroups(ctx: PhaseContext, groups: GroupRecord[]): Promise<void> {
  const { gw, poolId, journal } = ctx;
  if (journal.state.phases.has('groups')) return;
  ctx.progress({ type: 'phase', phase: 'groups', detail: `${groups.length} groups` });
  const live = new Map<string, GroupType>();
  for await (const g of items(gw.pages(paginateListGroups, { UserPoolId: poolId }), 'Groups'))
    if (g.GroupName) live.set(g.GroupName, g);
  let done = 0;
  await forEachConcurrent(
    groups,
    4,
    async (g) => {
      if (!journal.state.groups.has(g.GroupName) && !journal.state.failed('group', g.GroupName)) {
        const existing = live.get(g.GroupName);
        if (existing) {
          if (groupDiffers(g, existing)) {
            ctx.warn({
              code: 'GROUP_DIFFERS',
              message: `group ${g.GroupName} exists in the target with other settings (description, precedence or role); left unchanged`,
            });
          }
          journal.append({ t: 'group', n: g.GroupName, s: 'e' });
        } else {
          try {
            await gw.send(
              new CreateGroupCommand({
                UserPoolId: poolId,
                GroupName: g.GroupName,
                ...(g.Description !== undefined ? { Description: g.Description } : {}),
                ...(g.Precedence !== undefined ? { Precedence: g.Precedence } : {}),
                ...(g.RoleArn !== undefined ? { RoleArn: g.RoleArn } : {}),
              }),
            );
            journal.append({ t: 'group', n: g.GroupName, s: 'c' });
          } catch (e) {
            if (awsCode(e) === 'GroupExistsException') {
              journal.append({ t: 'group', n: g.GroupName, s: 'e' });
            } else if (isResourceError(e)) {
              recordResourceFailure(ctx, 'group', g.GroupName, 'CreateGroup', e);
            } else throw e;
          }
        }
      }
      ctx.groupReady?.(g.GroupName);
      ctx.progress({ type: 'restore', phase: 'groups', done: ++done, total: groups.length });
    },
    ctx.signal,
  );
  journal.append({ t: 'phase', p: 'groups' });
}

// ---- resource servers ----------------------------------------------------------------------

export async function restoreResourceServers(
  ctx: PhaseContext,
  servers: ResourceServerRecord[],
): Promise<void> {
  const { gw, poolId, journal } = ctx;
  if (journal.state.phases.has('resource-servers')) return;
  ctx.progress({ type: 'phase', phase: 'resource-servers', detail: `${servers.length}` });
  const live = new Set<string>();
  const liveServers = () =>
    items(gw.pages(paginateListResourceServers, { UserPoolId: poolId }), 'ResourceServers');
  for await (const s of liveServers()) if (s.Identifier) live.add(s.Identifier);
  for (const s of servers) {
    if (journal.state.resourceServers.has(s.Identifier)) continue;
    if (journal.state.failed('resourceServer', s.Identifier)) continue;
    if (live.has(s.Identifier)) {
      journal.append({ t: 'rs', n: s.Identifier, s: 'e' });
      continue;
    }
    try {
      await gw.send(
        new CreateResourceServerCommand({
          UserPoolId: poolId,
          Identifier: s.Identifier,
          Name: s.Name,
          ...(s.Scopes?.length ? { Scopes: s.Scopes } : {}),
        }),
      );
    } catch (e) {
      // A retry after a lost answer finds it there already ("… already exists").
      let there = false;
      for await (const x of liveServers()) there ||= x.Identifier === s.Identifier;
      if (!there) {
        if (!isResourceError(e)) throw e;
        recordResourceFailure(ctx, 'resourceServer', s.Identifier, 'CreateResourceServer', e);
        continue;
      }
    }
    journal.append({ t: 'rs', n: s.Identifier, s: 'c' });
  }
  journal.append({ t: 'phase', p: 'resource-servers' });
}

// ---- identity providers --------------------------------------------------------------------

/** Secrets CreateIdentityProvider needs that DescribeIdentityProvider never returns, by type. */
const NEVER_DESCRIBED: Record<string, string[]> = { SignInWithApple: ['private_key'] };

/** Keys DescribeIdentityProvider returns that CreateIdentityProvider does not take. */
const IDP_OUTPUT_ONLY = new Set(['ActiveEncryptionCertificate']);

/**
 * ProviderDetails for CreateIdentityProvider: secrets from the snapshot when it has them, else
 * from the --idp-secrets file; `missing` names the secret keys found in neither.
 */
export function identityProviderDetails(
  idp: IdentityProviderRecord,
  secrets: Record<string, Record<string, string>> | undefined,
): { details: Record<string, string>; missing: string[] } {
  const given = secrets?.[idp.ProviderName] ?? {};
  const details: Record<string, string> = {};
  const missing: string[] = [];
  for (const [k, v] of Object.entries(idp.ProviderDetails ?? {})) {
    if (IDP_OUTPUT_ONLY.has(k)) continue;
    if (v === REDACTED) {
      const s = given[k];
      if (s !== undefined && s !== '' && s !== REDACTED) details[k] = s;
      else missing.push(k);
    } else details[k] = v;
  }
  // Secrets the snapshot never had (e.g. Apple's private_key) may be supplied too.
  for (const [k, v] of Object.entries(given))
    if (!(k in details) && v !== REDACTED && v !== '') details[k] = v;
  // DescribeIdentityProvider never returns Sign in with Apple's private_key: a snapshot of an
  // Apple provider always lacks it, as if redacted.
  for (const k of NEVER_DESCRIBED[idp.ProviderType] ?? []) {
    if (!(k in details) && !missing.includes(k)) missing.push(k);
  }
  return { details, missing };
}

/** Why an identity provider is not attempted: the text of its resource failure. */
export function secretMissing(idp: IdentityProviderRecord, missing: string[]): string {
  return `SecretMissing: the snapshot has no ${missing.join(', ')} for it${
    idp.ProviderType === 'SignInWithApple' && missing.includes('private_key')
      ? ' (DescribeIdentityProvider never returns an Apple private_key)'
      : ''
  }; pass ${opt('idpSecrets')} FILE with {"${idp.ProviderName}": {"${missing[0] ?? ''}": "…"}}`;
}

/**
 * Creates the snapshot's identity providers; returns the names that were skipped or failed (app
 * clients are created without them, identity links to them are not replayed).
 */
export async function restoreIdentityProviders(
  ctx: PhaseContext,
  idps: IdentityProviderRecord[],
  secrets: Record<string, Record<string, string>> | undefined,
): Promise<Set<string>> {
  const { gw, poolId, journal } = ctx;
  const skipped = new Set<string>();
  for (const [name, s] of journal.state.idps) {
    if (s !== 'k') continue;
    skipped.add(name);
    // Skipped by a run that predates resource failures: still one, reported (and exit 6).
    if (!journal.state.failed('identityProvider', name)) {
      const idp = idps.find((i) => i.ProviderName === name);
      const missing = idp ? identityProviderDetails(idp, secrets).missing : [];
      recordResourceFailure(
        ctx,
        'identityProvider',
        name,
        'CreateIdentityProvider',
        idp && missing.length
          ? secretMissing(idp, missing)
          : 'SecretMissing: skipped by an earlier run',
      );
    }
  }
  for (const f of journal.state.resourceFailures.values())
    if (f.kind === 'identityProvider') skipped.add(f.name);
  if (journal.state.phases.has('identity-providers')) return skipped;
  ctx.progress({ type: 'phase', phase: 'identity-providers', detail: `${idps.length}` });
  const live = new Set<string>();
  for await (const p of items(
    gw.pages(paginateListIdentityProviders, { UserPoolId: poolId }),
    'Providers',
  ))
    if (p.ProviderName) live.add(p.ProviderName);
  for (const idp of idps) {
    const name = idp.ProviderName;
    if (journal.state.idps.has(name) || journal.state.failed('identityProvider', name)) continue;
    if (live.has(name)) {
      journal.append({ t: 'idp', n: name, s: 'e' });
      continue;
    }
    const { details, missing } = identityProviderDetails(idp, secrets);
    if (missing.length) {
      const w = {
        code: 'IDP_SKIPPED',
        message: `identity provider ${name} skipped: the snapshot has no ${missing.join(', ')} for it (back up with ${opt('includeSecrets')}, or pass ${opt('idpSecrets')} FILE with {"${name}": {"${missing[0]}": "…"}})`,
      };
      ctx.warn(w);
      journal.append({ t: 'w', ...w });
      recordResourceFailure(
        ctx,
        'identityProvider',
        name,
        'CreateIdentityProvider',
        secretMissing(idp, missing),
      );
      journal.append({ t: 'idp', n: name, s: 'k' });
      skipped.add(name);
      continue;
    }
    const input: CreateIdentityProviderCommandInput = {
      UserPoolId: poolId,
      ProviderName: name,
      ProviderType: idp.ProviderType,
      ProviderDetails: details,
      ...(idp.AttributeMapping ? { AttributeMapping: idp.AttributeMapping } : {}),
      ...(idp.IdpIdentifiers?.length ? { IdpIdentifiers: idp.IdpIdentifiers } : {}),
      ...(idp.AcrMapping ? { AcrMapping: idp.AcrMapping } : {}),
    };
    try {
      await gw.send(new CreateIdentityProviderCommand(input));
      journal.append({ t: 'idp', n: name, s: 'c' });
    } catch (e) {
      if (awsCode(e) === 'DuplicateProviderException') {
        journal.append({ t: 'idp', n: name, s: 'e' });
      } else if (isResourceError(e)) {
        recordResourceFailure(ctx, 'identityProvider', name, 'CreateIdentityProvider', e);
        skipped.add(name);
      } else throw e;
    }
  }
  journal.append({ t: 'phase', p: 'identity-providers' });
  return skipped;
}

// ---- app clients ---------------------------------------------------------------------------

/** The CreateUserPoolClient fields copied by name (the full table: src/cognito/fields.ts). */
export { CREATE_CLIENT_KEYS };

/** CreateUserPoolClient's ClientSecret: 24 to 64 word characters or `+`. */
const CUSTOM_SECRET = /^[\w+]{24,64}$/;

/**
 * The CreateUserPoolClient request for a described client: a new id; the same secret when the
 * snapshot holds it, else a newly generated one if it had one.
 */
export function clientInput(
  c: ClientRecord,
  poolId: string,
  skippedIdps: ReadonlySet<string>,
  skippedServers: ReadonlySet<string> = new Set(),
): {
  input: CreateUserPoolClientCommandInput;
  dropped: string[];
  droppedScopes: string[];
  analyticsDropped?: boolean;
  /** Why a new secret is generated instead of the old one ('redacted': not captured). */
  newSecret?: 'redacted' | 'invalid';
} {
  const input: CreateUserPoolClientCommandInput = {
    UserPoolId: poolId,
    // A client without a name (none in practice) is named by its old id.
    ClientName: c.ClientId,
    ...pickPresent(c, CREATE_CLIENT_KEYS),
  };
  let dropped: string[] = [];
  const sip = input.SupportedIdentityProviders;
  if (sip) {
    dropped = sip.filter((p) => skippedIdps.has(p));
    input.SupportedIdentityProviders = sip.filter((p) => !skippedIdps.has(p));
  }
  // Custom scopes are `<resource server identifier>/<scope>`: those of a resource server that
  // was not restored do not exist in the target.
  let droppedScopes: string[] = [];
  const scopes = input.AllowedOAuthScopes;
  if (scopes && skippedServers.size) {
    const gone = (scope: string): boolean => {
      const cut = scope.lastIndexOf('/');
      return cut > 0 && skippedServers.has(scope.slice(0, cut));
    };
    droppedScopes = scopes.filter(gone);
    input.AllowedOAuthScopes = scopes.filter((x) => !gone(x));
  }
  // A secret captured with --include-secrets is restored as a custom client secret, so the
  // applications holding it keep working; a redacted one is generated anew.
  const secret = c.ClientSecret;
  let newSecret: 'redacted' | 'invalid' | undefined;
  if (secret) {
    if (secret !== REDACTED && CUSTOM_SECRET.test(secret)) input.ClientSecret = secret;
    else {
      // Cognito refuses a custom secret outside 24–64 of [\w+]: the client gets a new one,
      // and the caller reports it (applications holding the old secret must be updated).
      newSecret = secret === REDACTED ? 'redacted' : 'invalid';
      input.GenerateSecret = true;
    }
  }
  // Pinpoint analytics through an IAM role needs the role's ExternalId; a redacted one cannot be
  // sent, so the client is created without analytics (the caller reports it).
  const analyticsDropped = input.AnalyticsConfiguration?.ExternalId === REDACTED;
  if (analyticsDropped) delete input.AnalyticsConfiguration;
  return {
    input,
    dropped,
    droppedScopes,
    ...(analyticsDropped ? { analyticsDropped } : {}),
    ...(newSecret ? { newSecret } : {}),
  };
}

/**
 * Creates the snapshot's app clients (new client ids) and returns the map old id → new id.
 * The journal records each creation before and after the call, and the target's client ids
 * before the first one, so a run killed between CreateUserPoolClient and its journal line adopts
 * the client it created instead of creating a second one.
 */
export async function restoreClients(
  ctx: PhaseContext,
  clients: ClientRecord[],
  skippedIdps: ReadonlySet<string>,
): Promise<Map<string, string>> {
  const { gw, poolId, journal } = ctx;
  const result = (): Map<string, string> =>
    new Map([...journal.state.clients].map(([old, v]) => [old, v.id]));
  if (journal.state.phases.has('clients')) return result();
  ctx.progress({ type: 'phase', phase: 'clients', detail: `${clients.length}` });
  const live: { id: string; name: string }[] = [];
  const liveClients = () =>
    items(gw.pages(paginateListUserPoolClients, { UserPoolId: poolId }), 'UserPoolClients');
  for await (const c of liveClients())
    if (c.ClientId) live.push({ id: c.ClientId, name: c.ClientName ?? '' });
  if (!journal.state.clientsBefore) {
    journal.append({ t: 'clients-before', ids: live.map((c) => c.id) });
  }
  const before = new Set(journal.state.clientsBefore ?? []);
  const mapped = (): Set<string> => new Set([...journal.state.clients.values()].map((v) => v.id));
  const skippedServers = new Set(
    [...journal.state.resourceFailures.values()]
      .filter((f) => f.kind === 'resourceServer')
      .map((f) => f.name),
  );
  for (const c of clients) {
    if (journal.state.clients.has(c.ClientId)) continue;
    const name = c.ClientName ?? c.ClientId;
    if (journal.state.failed('client', name)) continue;
    if (journal.state.clientIntents.has(c.ClientId)) {
      const taken = mapped();
      const ours = live.find((l) => l.name === name && !before.has(l.id) && !taken.has(l.id));
      if (ours) {
        journal.append({ t: 'client', old: c.ClientId, new: ours.id, s: 'c' });
        continue;
      }
    }
    const taken = mapped();
    const preexisting = live.find((l) => l.name === name && before.has(l.id) && !taken.has(l.id));
    if (preexisting) {
      const w = {
        code: 'CLIENT_EXISTS',
        message: `app client ${name} already exists in the target (${preexisting.id}); kept as it is and mapped to it`,
      };
      ctx.warn(w);
      journal.append({ t: 'w', ...w });
      journal.append({ t: 'client', old: c.ClientId, new: preexisting.id, s: 'e' });
      continue;
    }
    const { input, dropped, droppedScopes, analyticsDropped, newSecret } = clientInput(
      c,
      poolId,
      skippedIdps,
      skippedServers,
    );
    const second = secondSecretWarning(c, name, Boolean(newSecret));
    if (second) {
      ctx.warn(second);
      journal.append({ t: 'w', ...second });
    }
    if (newSecret === 'invalid') {
      const w = {
        code: 'CLIENT_SECRET_REGENERATED',
        message: `app client ${name}: its captured secret is not one Cognito accepts as a custom secret (24 to 64 letters, digits, _ or +), so the new client gets a generated secret; update the applications that hold the old one`,
      };
      ctx.warn(w);
      journal.append({ t: 'w', ...w });
    }
    if (droppedScopes.length) {
      const w = {
        code: 'CLIENT_SCOPES_DROPPED',
        message: `app client ${name}: scope(s) ${droppedScopes.join(', ')} removed from AllowedOAuthScopes (their resource server was not restored)`,
      };
      ctx.warn(w);
      journal.append({ t: 'w', ...w });
    }
    if (analyticsDropped) {
      const w = {
        code: 'CLIENT_ANALYTICS_REDACTED',
        message: `app client ${name}: its analytics configuration's ExternalId was redacted in the snapshot (backed up without ${opt('includeSecrets')}); created without analytics — configure it again, or restore a snapshot taken with ${opt('includeSecrets')}`,
      };
      ctx.warn(w);
      journal.append({ t: 'w', ...w });
    }
    if (dropped.length) {
      const w = {
        code: 'CLIENT_IDP_DROPPED',
        message: `app client ${name}: identity provider(s) ${dropped.join(', ')} removed from SupportedIdentityProviders (not restored)`,
      };
      ctx.warn(w);
      journal.append({ t: 'w', ...w });
    }
    journal.append({ t: 'client-intent', old: c.ClientId, name });
    const seen = new Set(live.map((l) => l.id));
    let newId: string | undefined;
    try {
      newId = await createOnce(
        () =>
          gw
            .send(new CreateUserPoolClientCommand(input), SINGLE_ATTEMPT)
            .then((r) => r.UserPoolClient?.ClientId),
        // The answer was lost: a client of that name that was not there before is this one.
        async () => {
          const taken = mapped();
          for await (const l of liveClients()) {
            if (
              l.ClientId &&
              l.ClientName === name &&
              !seen.has(l.ClientId) &&
              !taken.has(l.ClientId)
            )
              return l.ClientId;
          }
          return undefined;
        },
        {
          signal: ctx.signal,
          ...(ctx.settleDelaysMs ? { settleDelaysMs: ctx.settleDelaysMs } : {}),
        },
      );
    } catch (e) {
      if (!isResourceError(e)) throw e;
      recordResourceFailure(ctx, 'client', name, 'CreateUserPoolClient', e);
      continue;
    }
    if (!newId)
      throw new UnexpectedResponseError('CreateUserPoolClient', 'UserPoolClient.ClientId', {
        client: name,
      });
    journal.append({ t: 'client', old: c.ClientId, new: newId, s: 'c' });
  }
  journal.append({ t: 'phase', p: 'clients' });
  return result();
}

/**
 * A client that held two secrets (a rotation in progress): only the value DescribeUserPoolClient
 * returns can come back — ListUserPoolClientSecrets never reveals a value, and
 * AddUserPoolClientSecret could set a second one only with a value nobody can read. Names the
 * secrets by id and creation date (never a value), so the operator knows which applications
 * must switch.
 */
export function secondSecretWarning(
  c: ClientRecord,
  name: string,
  regenerated: boolean,
): RestoreWarning | undefined {
  const held = c.ClientSecrets;
  if (!held || held.length < 2) return undefined;
  const ids = held
    .map(
      (x) =>
        `${x.ClientSecretId ?? '?'}${x.ClientSecretCreateDate ? ` (created ${x.ClientSecretCreateDate.toISOString()})` : ''}`,
    )
    .join(', ');
  return {
    code: 'CLIENT_SECOND_SECRET_NOT_RESTORED',
    message: `app client ${name} held ${held.length} secrets (a rotation in progress: ${ids}); Cognito reveals the value of only one (DescribeUserPoolClient's, without saying which), so the new client has ${regenerated ? 'a new generated secret' : 'that one'} and no second secret; applications using the other must switch`,
  };
}

// ---- managed login branding ----------------------------------------------------------------

/**
 * CreateManagedLoginBranding for each snapshot style whose app client is in the target (the
 * client id map from restoreClients: old id → new id). A client that failed or was not
 * restored has no style either. ManagedLoginBrandingExistsException: for a client this restore
 * created, the style is ours (a retry after a lost answer, or a resumed run); for a client the
 * target had already (--merge), the target's own style is kept (a warning). Any other refusal
 * is a resource failure: the restore goes on.
 */
export async function restoreManagedLoginBranding(
  ctx: PhaseContext,
  brandings: readonly ManagedLoginBrandingRecord[],
  clients: readonly ClientRecord[],
  clientIds: ReadonlyMap<string, string>,
): Promise<void> {
  const { gw, poolId, journal } = ctx;
  if (journal.state.phases.has('managed-login-branding')) return;
  if (brandings.length > 0)
    ctx.progress({
      type: 'phase',
      phase: 'managed-login-branding',
      detail: `${brandings.length}`,
    });
  const names = new Map(clients.map((c) => [c.ClientId, c.ClientName ?? c.ClientId]));
  for (const b of brandings) {
    ctx.signal.throwIfAborted();
    const newId = clientIds.get(b.ClientId);
    if (!newId) continue;
    const name = names.get(b.ClientId) ?? b.ClientId;
    if (journal.state.brandings.has(b.ClientId)) continue;
    if (journal.state.failed('managedLoginBranding', name)) continue;
    const useDefaults = b.UseCognitoProvidedValues === true;
    try {
      await gw.send(
        new CreateManagedLoginBrandingCommand({
          UserPoolId: poolId,
          ClientId: newId,
          ...(useDefaults
            ? { UseCognitoProvidedValues: true }
            : {
                ...(b.Settings !== undefined ? { Settings: b.Settings } : {}),
                ...(b.Assets
                  ? {
                      Assets: b.Assets.map(
                        ({ Bytes, Category, ColorMode, Extension, ResourceId }): AssetType => ({
                          Category,
                          ColorMode,
                          Extension,
                          ...(ResourceId ? { ResourceId } : {}),
                          ...(Bytes ? { Bytes } : {}),
                        }),
                      ),
                    }
                  : {}),
              }),
        }),
      );
      journal.append({ t: 'brand', old: b.ClientId, s: 'c' });
    } catch (e) {
      if (awsCode(e) === 'ManagedLoginBrandingExistsException') {
        if (journal.state.clients.get(b.ClientId)?.s === 'e') {
          const w = {
            code: 'BRANDING_EXISTS',
            message: `app client ${name} in the target has a managed login style already; the snapshot's style was not applied`,
          };
          ctx.warn(w);
          journal.append({ t: 'w', ...w });
        }
        journal.append({ t: 'brand', old: b.ClientId, s: 'e' });
        continue;
      }
      if (!isResourceError(e)) throw e;
      recordResourceFailure(ctx, 'managedLoginBranding', name, 'CreateManagedLoginBranding', e);
    }
  }
  journal.append({ t: 'phase', p: 'managed-login-branding' });
}
