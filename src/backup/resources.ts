import type {
  GroupType,
  IdentityProviderType,
  ManagedLoginBrandingType,
  ResourceServerType,
  UserPoolClientType,
  UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  DescribeIdentityProviderCommand,
  DescribeManagedLoginBrandingByClientCommand,
  DescribeRiskConfigurationCommand,
  DescribeUserPoolClientCommand,
  DescribeUserPoolDomainCommand,
  GetLogDeliveryConfigurationCommand,
  GetUICustomizationCommand,
  GetUserPoolMfaConfigCommand,
  ListTagsForResourceCommand,
  ListUserPoolClientSecretsCommand,
  paginateListGroups,
  paginateListIdentityProviders,
  paginateListResourceServers,
  paginateListUserPoolClients,
} from '@aws-sdk/client-cognito-identity-provider';
import { CognitoError, InterruptedError, VaultError } from '../core/errors.js';
import { rootAwsName } from '../cognito/errors.js';
import { type CallOptions, type CognitoGateway, items } from '../cognito/gateway.js';
import {
  brandingJson,
  type ClientRecord,
  type ClientUICustomizationRecord,
  type FileEntry,
  FILES,
  type GroupRecord,
  type Json,
  type ManagedLoginBrandingRecord,
  type PoolDocument,
  type UICustomizationRecord,
  type Warning,
} from '../snapshot/format.js';
import { redactPaths, redactProviderDetails, SECRET_PATHS } from '../snapshot/redaction.js';
import type { SnapshotWriter } from '../snapshot/writer.js';
import type { BackupOptions } from './types.js';

/**
 * The resources step: the pool's documents — pool.json (settings, MFA, domain, tags, UI
 * customization, log delivery, risk configuration, per-client settings), clients.json,
 * managed-login-branding.json, identity-providers.json, resource-servers.json, groups.json —
 * with secrets redacted unless `includeSecrets`. Its calls use the pool-read, client-read and
 * resource-read quota categories, so it runs while the users are listed (UserList).
 */

/** What the resource capture works with. */
export interface ResourceContext {
  readonly gw: CognitoGateway;
  readonly poolId: string;
  readonly writer: SnapshotWriter;
  readonly includeSecrets: boolean;
  readonly warn: (w: Warning) => void;
  readonly progress: (phase: string) => void;
  readonly signal: AbortSignal;
  readonly fetchImage?: BackupOptions['fetchImage'] | undefined;
  /** Pool-level best-effort reads refused so far (the per-client reads are then skipped). */
  readonly refused: Set<string>;
}

/** What the resources unit produced: its files, its counts, the groups memberships list. */
export interface ResourcesCaptured {
  files: FileEntry[];
  counts: { clients: number; identityProviders: number; resourceServers: number; groups: number };
  groupNames: string[];
}

/** The resource documents: pool, clients, branding, IdPs, resource servers, groups. */
export async function captureResources(
  ctx: ResourceContext,
  pool: UserPoolType,
): Promise<ResourcesCaptured> {
  const poolDoc = await capturePoolDocument(ctx, pool);
  if (!ctx.includeSecrets) redactPaths(poolDoc, SECRET_PATHS.pool);
  ctx.progress('clients');
  const clients = await captureClients(ctx);
  const files = [await ctx.writer.writeJson(FILES.clients, 'clients', clients, clients.length)];
  // Per-client UI customization and risk configuration live in pool.json, next to the pool's
  // own: written once the clients are known.
  await captureClientSettings(ctx, clients, poolDoc);
  files.push(await ctx.writer.writeJson(FILES.pool, 'pool', poolDoc, 1));
  const brandings = await captureManagedLoginBranding(ctx, clients);
  files.push(
    await ctx.writer.writeJson(
      FILES.managedLoginBranding,
      'managedLoginBranding',
      brandings,
      brandings.length,
    ),
  );
  ctx.progress('identity-providers');
  const idps = await captureIdentityProviders(ctx);
  files.push(
    await ctx.writer.writeJson(FILES.identityProviders, 'identityProviders', idps, idps.length),
  );
  ctx.progress('resource-servers');
  const servers: ResourceServerType[] = [];
  for await (const s of items(
    ctx.gw.pages(paginateListResourceServers, { UserPoolId: ctx.poolId }),
    'ResourceServers',
  ))
    servers.push(s);
  files.push(
    await ctx.writer.writeJson(FILES.resourceServers, 'resourceServers', servers, servers.length),
  );
  ctx.progress('groups');
  const groups: GroupType[] = [];
  for await (const g of items(
    ctx.gw.pages(paginateListGroups, { UserPoolId: ctx.poolId }),
    'Groups',
  ))
    groups.push(g);
  files.push(
    await ctx.writer.writeJson(
      FILES.groups,
      'groups',
      groups.map((g): GroupRecord => ({
        GroupName: g.GroupName ?? '',
        Description: g.Description,
        Precedence: g.Precedence,
        RoleArn: g.RoleArn,
        CreationDate: g.CreationDate,
        LastModifiedDate: g.LastModifiedDate,
      })),
      groups.length,
    ),
  );
  return {
    files,
    counts: {
      clients: clients.length,
      identityProviders: idps.length,
      resourceServers: servers.length,
      groups: groups.length,
    },
    groupNames: groups.map((g) => g.GroupName ?? ''),
  };
}

/**
 * Every app client (DescribeUserPoolClient each). With secrets kept: which secrets the client
 * holds (a client may hold two during a rotation; Cognito reveals only the value
 * DescribeUserPoolClient returns), so a restore can say which one comes back.
 */
async function captureClients(ctx: ResourceContext): Promise<ClientRecord[]> {
  const { gw, poolId } = ctx;
  const clients: ClientRecord[] = [];
  for await (const c of items(
    gw.pages(paginateListUserPoolClients, { UserPoolId: poolId }),
    'UserPoolClients',
  )) {
    const { UserPoolClient: full } = await gw.send(
      new DescribeUserPoolClientCommand({ UserPoolId: poolId, ClientId: c.ClientId ?? '' }),
    );
    if (!full) continue;
    if (!ctx.includeSecrets) redactPaths(full, SECRET_PATHS.client);
    if (full.ClientSecret && ctx.includeSecrets && full.ClientId) {
      const clientId = full.ClientId;
      const secrets = await bestEffort('ListUserPoolClientSecrets', ctx, () =>
        gw
          .send(new ListUserPoolClientSecretsCommand({ UserPoolId: poolId, ClientId: clientId }), {
            transientAttempts: 2,
          })
          .then((r) => r.ClientSecrets ?? []),
      );
      if (secrets) {
        clients.push({
          ...full,
          ClientId: clientId,
          ClientSecrets: secrets.map((x) => ({
            ClientSecretId: x.ClientSecretId,
            ClientSecretCreateDate: x.ClientSecretCreateDate,
          })),
        });
        continue;
      }
    }
    clients.push({ ...full, ClientId: full.ClientId ?? '' });
  }
  return clients;
}

/** Every identity provider (DescribeIdentityProvider each), secrets redacted unless kept. */
async function captureIdentityProviders(ctx: ResourceContext): Promise<IdentityProviderType[]> {
  const { gw, poolId } = ctx;
  const idps: IdentityProviderType[] = [];
  for await (const p of items(
    gw.pages(paginateListIdentityProviders, { UserPoolId: poolId }),
    'Providers',
  )) {
    const { IdentityProvider: full } = await gw.send(
      new DescribeIdentityProviderCommand({
        UserPoolId: poolId,
        ProviderName: p.ProviderName ?? '',
      }),
    );
    if (!full) continue;
    if (!ctx.includeSecrets) full.ProviderDetails = redactProviderDetails(full.ProviderDetails);
    idps.push(full);
  }
  return idps;
}

/** SetUICustomization's ImageFile limit: the logo must fit to be restorable. */
export const UI_IMAGE_MAX_BYTES = 131_072;

/**
 * GETs the hosted UI logo GetUICustomization points at (ImageUrl): HTTPS only, at most
 * UI_IMAGE_MAX_BYTES (read no further), 15 s.
 */
export async function downloadUiImage(url: string, signal: AbortSignal): Promise<Uint8Array> {
  const u = new URL(url);
  if (u.protocol !== 'https:') throw new Error(`not an https URL (${u.protocol})`);
  const res = await fetch(u, { signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]) });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > UI_IMAGE_MAX_BYTES) {
      await res.body.cancel().catch(() => undefined);
      throw new Error(`larger than ${UI_IMAGE_MAX_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * A best-effort read: a refusal is a NOT_CAPTURED warning (the setting is left out of the
 * snapshot) and the operation is added to `refused`; an interruption or missing credentials is
 * thrown.
 */
async function bestEffort<T>(
  operation: string,
  ctx: { warn: (w: Warning) => void; refused?: Set<string> },
  fn: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    if (e instanceof VaultError && e.exitCode === 5 && e.code === 'NO_CREDENTIALS') throw e;
    ctx.refused?.add(operation);
    ctx.warn({
      code: 'NOT_CAPTURED',
      operation,
      message: `${operation} was refused (${rootAwsName(e)}); that setting is not in the snapshot`,
    });
    return undefined;
  }
}

/**
 * The pool document: DescribeUserPool's answer, the MFA configuration, and best effort the
 * domain, tags, UI customization (with its logo), log delivery and risk configuration. The
 * best-effort reads run side by side (a refused one costs its retries, which then overlap
 * instead of adding up); their warnings are given in this fixed order.
 */
async function capturePoolDocument(
  ctx: ResourceContext,
  pool: UserPoolType,
): Promise<PoolDocument> {
  const { gw } = ctx;
  const poolId = pool.Id ?? '';
  const mfa = await gw.send(new GetUserPoolMfaConfigCommand({ UserPoolId: poolId }));
  const { $metadata: _m, ...mfaConfig } = mfa;
  const doc: PoolDocument = { userPool: { ...pool, Id: poolId }, mfaConfig };
  const quick: CallOptions = { transientAttempts: 2 };
  const domainName = pool.CustomDomain ?? pool.Domain;
  const arn = pool.Arn;
  const warned: Warning[][] = [[], [], [], [], []];
  const as = (i: number): ResourceContext => ({ ...ctx, warn: (w) => warned[i]?.push(w) });
  const [domain, tags, ui, logs, risk] = await Promise.all([
    domainName
      ? bestEffort('DescribeUserPoolDomain', as(0), () =>
          gw
            .send(new DescribeUserPoolDomainCommand({ Domain: domainName }), quick)
            .then((r) => r.DomainDescription),
        )
      : undefined,
    arn
      ? bestEffort('ListTagsForResource', as(1), () =>
          gw
            .send(new ListTagsForResourceCommand({ ResourceArn: arn }), quick)
            .then((r) => r.Tags ?? {}),
        )
      : undefined,
    bestEffort('GetUICustomization', as(2), () =>
      gw
        .send(new GetUICustomizationCommand({ UserPoolId: poolId }), quick)
        .then((r) => r.UICustomization),
    ).then((u) => (u ? withLogo(as(2), u) : undefined)),
    bestEffort('GetLogDeliveryConfiguration', as(3), () =>
      gw
        .send(new GetLogDeliveryConfigurationCommand({ UserPoolId: poolId }), quick)
        .then((r) => r.LogDeliveryConfiguration),
    ),
    bestEffort('DescribeRiskConfiguration', as(4), () =>
      gw
        .send(new DescribeRiskConfigurationCommand({ UserPoolId: poolId }), quick)
        .then((r) => r.RiskConfiguration),
    ),
  ]);
  // In a fixed order, whichever answered first: the document's keys, the warnings.
  if (domain) doc.domain = domain;
  if (tags) doc.tags = tags;
  if (ui) doc.uiCustomization = ui;
  if (logs) doc.logDeliveryConfiguration = logs;
  if (risk) doc.riskConfiguration = risk;
  for (const w of warned.flat()) ctx.warn(w);
  return doc;
}

/** The pool's UI customization with its logo (GetUICustomization gives a URL, Set wants bytes). */
async function withLogo(
  ctx: ResourceContext,
  ui: UICustomizationRecord,
): Promise<UICustomizationRecord> {
  const uiCustomization: UICustomizationRecord = { ...ui };
  if (!ui.ImageUrl) return uiCustomization;
  try {
    const bytes = await (ctx.fetchImage ?? downloadUiImage)(ui.ImageUrl, ctx.signal);
    uiCustomization.ImageFile = Buffer.from(bytes).toString('base64');
  } catch (e) {
    if (ctx.signal.aborted) throw new InterruptedError();
    ctx.warn({
      code: 'NOT_CAPTURED',
      operation: 'GetUICustomization',
      message: `the hosted UI logo could not be downloaded (${(e as Error).message}); a restore sets the CSS only`,
    });
  }
  return uiCustomization;
}

/**
 * The app clients' own UI customizations and risk configurations (GetUICustomization and
 * DescribeRiskConfiguration with a ClientId), into `clientUICustomizations` and
 * `clientRiskConfigurations` of the pool document. Both answer with the pool's setting when the
 * client has none of its own (ClientId ALL, or none): only answers naming the client are kept.
 * Best effort like the pool's: skipped when the pool-level read was refused already (the same
 * refusal would follow); the first refusal is one NOT_CAPTURED warning and leaves the list out
 * (a snapshot without it says "not captured", not "none").
 */
async function captureClientSettings(
  ctx: ResourceContext,
  clients: readonly UserPoolClientType[],
  doc: PoolDocument,
): Promise<void> {
  const { gw, poolId } = ctx;
  const quick = { transientAttempts: 2 };
  const ids = clients.map((c) => c.ClientId).filter((id): id is string => Boolean(id));
  /** Each client's own setting, or undefined when a read was refused (warned once). */
  const perClient = async <T extends { ClientId?: string | undefined }>(
    operation: string,
    read: (clientId: string) => Promise<T | undefined>,
  ): Promise<Map<string, T> | undefined> => {
    // The pool-level read was refused already (a logo download is not a refusal).
    if (ctx.refused.has(operation)) return undefined;
    const out = new Map<string, T>();
    for (const clientId of ids) {
      let refused = false;
      const v = await bestEffort(
        operation,
        {
          warn: (w) => {
            refused = true;
            ctx.warn({ ...w, message: `${w.message} (per app client)` });
          },
        },
        () => read(clientId),
      );
      if (refused) return undefined;
      if (v && v.ClientId === clientId) out.set(clientId, v);
    }
    return out;
  };

  const ui = await perClient('GetUICustomization', (clientId) =>
    gw
      .send(new GetUICustomizationCommand({ UserPoolId: poolId, ClientId: clientId }), quick)
      .then((r) => r.UICustomization),
  );
  if (ui) {
    const list: ClientUICustomizationRecord[] = [];
    for (const [clientId, u] of ui) {
      const entry: ClientUICustomizationRecord = { ...u, ClientId: clientId };
      if (u.ImageUrl) {
        const url = u.ImageUrl;
        try {
          const bytes = await (ctx.fetchImage ?? downloadUiImage)(url, ctx.signal);
          entry.ImageFile = Buffer.from(bytes).toString('base64');
        } catch (e) {
          if (ctx.signal.aborted) throw new InterruptedError();
          ctx.warn({
            code: 'NOT_CAPTURED',
            operation: 'GetUICustomization',
            message: `the hosted UI logo of an app client could not be downloaded (${(e as Error).message}); a restore sets its CSS only`,
          });
        }
      }
      list.push(entry);
    }
    doc.clientUICustomizations = list;
  }
  const risk = await perClient('DescribeRiskConfiguration', (clientId) =>
    gw
      .send(new DescribeRiskConfigurationCommand({ UserPoolId: poolId, ClientId: clientId }), quick)
      .then((r) => r.RiskConfiguration),
  );
  if (risk)
    doc.clientRiskConfigurations = [...risk].map(([clientId, r]) => ({ ...r, ClientId: clientId }));
}

/**
 * Each app client's managed login style (no operation lists them: one
 * DescribeManagedLoginBrandingByClient per client). ResourceNotFoundException = that client has
 * none. Best effort like the other pool settings: the first other refusal is a NOT_CAPTURED
 * warning and stops asking (the same refusal would follow for every client).
 */
async function captureManagedLoginBranding(
  ctx: ResourceContext,
  clients: readonly UserPoolClientType[],
): Promise<Json<ManagedLoginBrandingRecord>[]> {
  const { gw, poolId, warn } = ctx;
  const out: Json<ManagedLoginBrandingRecord>[] = [];
  for (const [i, c] of clients.entries()) {
    const clientId = c.ClientId;
    if (!clientId) continue;
    let branding: ManagedLoginBrandingType | undefined;
    try {
      ({ ManagedLoginBranding: branding } = await gw.send(
        new DescribeManagedLoginBrandingByClientCommand({
          UserPoolId: poolId,
          ClientId: clientId,
          ReturnMergedResources: false,
        }),
        { transientAttempts: 2 },
      ));
    } catch (e) {
      if (e instanceof CognitoError && e.awsCode === 'ResourceNotFoundException') continue;
      if (e instanceof InterruptedError) throw e;
      if (e instanceof VaultError && e.exitCode === 5 && e.code === 'NO_CREDENTIALS') throw e;
      const left = clients.length - i;
      warn({
        code: 'NOT_CAPTURED',
        operation: 'DescribeManagedLoginBrandingByClient',
        message: `DescribeManagedLoginBrandingByClient was refused (${rootAwsName(e)}); the managed login branding of ${left} app client(s) is not in the snapshot`,
      });
      break;
    }
    if (!branding) continue;
    out.push(
      brandingJson({
        ClientId: clientId,
        ...(branding.ManagedLoginBrandingId
          ? { ManagedLoginBrandingId: branding.ManagedLoginBrandingId }
          : {}),
        ...(branding.UseCognitoProvidedValues !== undefined
          ? { UseCognitoProvidedValues: branding.UseCognitoProvidedValues }
          : {}),
        ...(branding.Settings !== undefined ? { Settings: branding.Settings } : {}),
        ...(branding.Assets ? { Assets: branding.Assets } : {}),
      }),
    );
  }
  return out;
}
