import { createHash } from 'node:crypto';
import {
  AdminGetUserCommand,
  type AssetType,
  DescribeManagedLoginBrandingByClientCommand,
  DescribeUserPoolDomainCommand,
  DescribeIdentityProviderCommand,
  DescribeRiskConfigurationCommand,
  DescribeUserPoolClientCommand,
  DescribeUserPoolCommand,
  GetLogDeliveryConfigurationCommand,
  GetUICustomizationCommand,
  GetUserPoolMfaConfigCommand,
  type GroupType,
  type IdentityProviderType,
  type LogDeliveryConfigurationType,
  type ManagedLoginBrandingType,
  paginateListGroups,
  paginateListIdentityProviders,
  paginateListResourceServers,
  paginateListUserPoolClients,
  paginateListUsers,
  paginateListUsersInGroup,
  type ResourceServerType,
  type RiskConfigurationType,
  type UICustomizationType,
  type UserPoolClientType,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  ASSET_KEYS,
  BRANDING_KEYS,
  LOG_DELIVERY_KEYS,
  pickPresent,
  RISK_KEYS,
  UI_KEYS,
} from '../cognito/fields.js';
import { type CallOptions, type CognitoGateway, items } from '../cognito/gateway.js';
import { CognitoError, InterruptedError } from '../core/errors.js';
import {
  ClientRecord,
  ManagedLoginBrandingRecord,
  MembershipRecord,
  type MfaConfigRecord,
  PoolDocument,
  UserRecord,
} from '../snapshot/format.js';
import type { SnapshotReader } from '../snapshot/reader.js';
import { readDocuments } from '../snapshot/documents.js';

/** A setting in the form compared (the same for a live pool and a snapshot). */
export type ComparedForm = Record<string, unknown>;

/** A user as both ListUsers and the snapshot give it. */
export interface UserLike {
  Username?: string;
  Attributes?: { Name?: string; Value?: string }[];
  Enabled?: boolean;
  UserStatus?: string;
  /** Per-user MFA (AdminGetUser, or a snapshot taken with --user-mfa); absent: not read. */
  UserMFASettingList?: string[];
  PreferredMfaSetting?: string;
}

/** The small documents of one side: held in memory (a pool has at most thousands of these). */
export interface SideResources {
  pool: UserPoolType;
  mfa: MfaConfigRecord;
  groups: GroupType[];
  clients: UserPoolClientType[];
  identityProviders: IdentityProviderType[];
  resourceServers: ResourceServerType[];
  /** Users expected (EstimatedNumberOfUsers, or the snapshot's count): sizes the partitions. */
  estimatedUsers?: number;
  /**
   * The settings restore writes after CreateUserPool (UICustomization, RiskConfiguration,
   * LogDeliveryConfiguration), as compared: a value, `undefined` when the side could not read it
   * (refused), absent when the side does not hold it at all.
   */
  extras?: Map<string, ComparedForm | undefined>;
  /**
   * The app clients' own settings (CLIENT_SETTINGS), by setting name: app client name → the
   * compared form, or `null` when that client has none. `undefined`: the side could not read
   * the setting (refused); absent: the side does not hold it (a snapshot from before it was
   * captured, or one whose backup was refused).
   */
  clientSettings?: Map<ClientSetting, Map<string, ComparedForm | null> | undefined>;
  /** The side can give each user's MFA settings (a live pool; a snapshot taken with --user-mfa). */
  userMfa?: boolean;
}

/** Per-app-client settings a comparison checks (by client name). */
export const CLIENT_SETTINGS = [
  'ManagedLoginBranding',
  'ClientUICustomization',
  'ClientRiskConfiguration',
] as const;
export type ClientSetting = (typeof CLIENT_SETTINGS)[number];

/** The compared form of each setting; the same for a live pool and a snapshot. */
const EXTRA_FORM = {
  // Each pool serves its logo from its own URL (a snapshot keeps the bytes): compare that there is one.
  UICustomization: (ui: UICustomizationType): ComparedForm => ({
    ...pickPresent(ui, UI_KEYS),
    HasImage: Boolean(ui.ImageUrl),
  }),
  RiskConfiguration: (risk: RiskConfigurationType): ComparedForm => pickPresent(risk, RISK_KEYS),
  LogDeliveryConfiguration: (logs: LogDeliveryConfigurationType): ComparedForm => ({
    ...pickPresent(logs, LOG_DELIVERY_KEYS),
    LogConfigurations: logs.LogConfigurations ?? [],
  }),
};

/**
 * A managed login style as compared: whether it uses Cognito's values, its settings document,
 * and its assets (category, colour mode, extension, resource id, and the sha256 of the bytes)
 * sorted. The style id is the target's own and is not compared.
 */
export function brandingForm(
  b: Pick<ManagedLoginBrandingType, (typeof BRANDING_KEYS)[number]>,
): ComparedForm {
  const assets = (b.Assets ?? [])
    .map((a: AssetType): ComparedForm => {
      const { Bytes: _bytes, ...rest } = pickPresent(a, ASSET_KEYS);
      return {
        ...rest,
        Sha256: a.Bytes ? createHash('sha256').update(a.Bytes).digest('hex') : null,
      };
    })
    .sort((x, y) => {
      const kx = JSON.stringify([x.Category, x.ColorMode, x.Extension, x.ResourceId]);
      const ky = JSON.stringify([y.Category, y.ColorMode, y.Extension, y.ResourceId]);
      return kx < ky ? -1 : kx > ky ? 1 : 0;
    });
  return {
    UseCognitoProvidedValues: b.UseCognitoProvidedValues === true,
    Settings: b.Settings ?? null,
    Assets: assets,
  };
}

/**
 * Reads the app clients' own settings from a live pool: one call per client and setting.
 * GetUICustomization and DescribeRiskConfiguration answer with the pool's setting when a client
 * has none of its own (ClientId ALL, or none): that is `null`.
 * DescribeManagedLoginBrandingByClient answers ResourceNotFoundException for a client without a
 * style. Any other failure makes the whole setting unreadable (`undefined`) and stops asking.
 */
async function readClientSettings(
  gw: CognitoGateway,
  poolId: string,
  clients: readonly UserPoolClientType[],
): Promise<Map<ClientSetting, Map<string, ComparedForm | null> | undefined>> {
  const quick = { transientAttempts: 1 };
  const reads: Record<ClientSetting, (clientId: string) => Promise<ComparedForm | null>> = {
    ManagedLoginBranding: async (clientId) => {
      try {
        const { ManagedLoginBranding: b } = await gw.send(
          new DescribeManagedLoginBrandingByClientCommand({
            UserPoolId: poolId,
            ClientId: clientId,
            ReturnMergedResources: false,
          }),
          quick,
        );
        return b ? brandingForm(b) : null;
      } catch (e) {
        if (e instanceof CognitoError && e.awsCode === 'ResourceNotFoundException') return null;
        throw e;
      }
    },
    ClientUICustomization: async (clientId) => {
      const { UICustomization: ui } = await gw.send(
        new GetUICustomizationCommand({ UserPoolId: poolId, ClientId: clientId }),
        quick,
      );
      return ui?.ClientId === clientId ? EXTRA_FORM.UICustomization(ui) : null;
    },
    ClientRiskConfiguration: async (clientId) => {
      const { RiskConfiguration: risk } = await gw.send(
        new DescribeRiskConfigurationCommand({ UserPoolId: poolId, ClientId: clientId }),
        quick,
      );
      return risk?.ClientId === clientId ? EXTRA_FORM.RiskConfiguration(risk) : null;
    },
  };
  const out = new Map<ClientSetting, Map<string, ComparedForm | null> | undefined>();
  for (const setting of CLIENT_SETTINGS) {
    const byName = new Map<string, ComparedForm | null>();
    try {
      for (const c of clients) {
        if (!c.ClientId) continue;
        byName.set(c.ClientName ?? c.ClientId, await reads[setting](c.ClientId));
      }
      out.set(setting, byName);
    } catch (e) {
      if (e instanceof InterruptedError) throw e;
      out.set(setting, undefined);
    }
  }
  return out;
}

/**
 * The app clients' own settings a snapshot holds: a style for each client listed in
 * managed-login-branding.json (when the backup could ask for every client), and the per-client
 * UI and risk lists of pool.json when present.
 */
function snapshotClientSettings(
  clients: readonly ClientRecord[],
  pool: PoolDocument,
  brandings: readonly ManagedLoginBrandingRecord[] | undefined,
): Map<ClientSetting, Map<string, ComparedForm | null> | undefined> {
  const out = new Map<ClientSetting, Map<string, ComparedForm | null> | undefined>();
  const add = <T extends { ClientId: string }>(
    setting: ClientSetting,
    list: readonly T[] | undefined,
    form: (v: T) => ComparedForm,
  ): void => {
    if (!list) return;
    const byId = new Map(list.map((x) => [x.ClientId, x]));
    const byName = new Map<string, ComparedForm | null>();
    for (const c of clients) {
      const v = byId.get(c.ClientId);
      byName.set(c.ClientName ?? c.ClientId, v ? form(v) : null);
    }
    out.set(setting, byName);
  };
  add('ManagedLoginBranding', brandings, brandingForm);
  add('ClientUICustomization', pool.clientUICustomizations, EXTRA_FORM.UICustomization);
  add('ClientRiskConfiguration', pool.clientRiskConfigurations, EXTRA_FORM.RiskConfiguration);
  return out;
}

/** The domain as compared: the managed login version restore passes to CreateUserPoolDomain. */
function domainForm(version: number | undefined): ComparedForm {
  return { ManagedLoginVersion: version ?? null };
}

/**
 * The domain of a live pool as compared (DescribeUserPoolDomain); `null` when the pool has no
 * domain (a restore without a new domain creates none: nothing to compare), `undefined` when
 * unreadable.
 */
async function readDomain(
  gw: CognitoGateway,
  pool: UserPoolType,
): Promise<ComparedForm | null | undefined> {
  const name = pool.CustomDomain ?? pool.Domain;
  if (!name) return null;
  try {
    const { DomainDescription: d } = await gw.send(
      new DescribeUserPoolDomainCommand({ Domain: name }),
      { transientAttempts: 1 },
    );
    return domainForm(d?.ManagedLoginVersion);
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    return undefined;
  }
}

/** AdminGetUser calls in flight while a live pool's users are listed with their MFA. */
const MFA_READS_IN_FLIGHT = 8;

/**
 * A live pool's users with their MFA settings: ListUsers does not return them, so each native
 * user is read with AdminGetUser (UserRead quota; each read counts the user as a billed monthly
 * active user). Federated users have no MFA of their own: not read. A user deleted meanwhile is
 * yielded without settings.
 */
async function* withUserMfa(
  gw: CognitoGateway,
  poolId: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<UserLike> {
  let batch: UserLike[] = [];
  const flush = async (): Promise<UserLike[]> => {
    const out = await Promise.all(
      batch.map(async (u): Promise<UserLike> => {
        if (!u.Username || u.UserStatus === 'EXTERNAL_PROVIDER') return u;
        try {
          const got = await gw.send(
            new AdminGetUserCommand({ UserPoolId: poolId, Username: u.Username }),
          );
          return {
            ...u,
            UserMFASettingList: got.UserMFASettingList ?? [],
            ...(got.PreferredMfaSetting ? { PreferredMfaSetting: got.PreferredMfaSetting } : {}),
          };
        } catch (e) {
          if (e instanceof CognitoError && e.awsCode === 'UserNotFoundException') return u;
          throw e;
        }
      }),
    );
    batch = [];
    return out;
  };
  for await (const u of items(gw.pages(paginateListUsers, { UserPoolId: poolId }), 'Users')) {
    signal?.throwIfAborted();
    batch.push(u);
    if (batch.length >= MFA_READS_IN_FLIGHT) yield* await flush();
  }
  yield* await flush();
}

/** Reads the extra settings of a live pool; a refused read is `undefined`. */
async function readExtras(
  gw: CognitoGateway,
  poolId: string,
): Promise<Map<string, ComparedForm | undefined>> {
  const quick: CallOptions = { transientAttempts: 1 };
  const input = { UserPoolId: poolId };
  const reads: [keyof typeof EXTRA_FORM, () => Promise<ComparedForm>][] = [
    [
      'UICustomization',
      async () =>
        EXTRA_FORM.UICustomization(
          (await gw.send(new GetUICustomizationCommand(input), quick)).UICustomization ?? {},
        ),
    ],
    [
      'RiskConfiguration',
      async () =>
        EXTRA_FORM.RiskConfiguration(
          (await gw.send(new DescribeRiskConfigurationCommand(input), quick)).RiskConfiguration ??
            {},
        ),
    ],
    [
      'LogDeliveryConfiguration',
      async () =>
        EXTRA_FORM.LogDeliveryConfiguration(
          (await gw.send(new GetLogDeliveryConfigurationCommand(input), quick))
            .LogDeliveryConfiguration ?? {
            UserPoolId: poolId,
            LogConfigurations: [],
          },
        ),
    ],
  ];
  const out = new Map<string, ComparedForm | undefined>();
  for (const [name, read] of reads) {
    try {
      out.set(name, await read());
    } catch (e) {
      if (e instanceof InterruptedError) throw e;
      out.set(name, undefined);
    }
  }
  return out;
}

/** The extra settings a snapshot holds (backup leaves out what it could not read). */
function snapshotExtras(doc: PoolDocument): Map<string, ComparedForm | undefined> {
  const out = new Map<string, ComparedForm | undefined>();
  if (doc.uiCustomization)
    out.set('UICustomization', EXTRA_FORM.UICustomization(doc.uiCustomization));
  if (doc.riskConfiguration)
    out.set('RiskConfiguration', EXTRA_FORM.RiskConfiguration(doc.riskConfiguration));
  if (doc.logDeliveryConfiguration)
    out.set(
      'LogDeliveryConfiguration',
      EXTRA_FORM.LogDeliveryConfiguration(doc.logDeliveryConfiguration),
    );
  return out;
}

/**
 * One side of a comparison: a live pool (through the gateway) or a snapshot. Users and
 * memberships are streams, read once each; nothing here holds them.
 */
export interface CompareSide {
  /** How the side is named in messages: "A"/"B", or "the snapshot"/"the pool". */
  readonly label: string;
  resources(settings: boolean): Promise<SideResources>;
  /**
   * The users; with `userMfa`, each with its MFA settings (a live pool reads them with
   * AdminGetUser: one billed monthly active user each).
   */
  users(opts?: { userMfa?: boolean; signal?: AbortSignal }): AsyncIterable<UserLike>;
  memberships(groups: readonly string[]): AsyncIterable<{ group: string; username: string }>;
}

/** A live pool: DescribeUserPool, the resource lists, ListUsers and ListUsersInGroup. */
export function poolSide(gw: CognitoGateway, userPoolId: string, label: string): CompareSide {
  return {
    label,
    async resources(settings) {
      const input = { UserPoolId: userPoolId };
      const pool = (await gw.send(new DescribeUserPoolCommand(input))).UserPool ?? {};
      let mfa: MfaConfigRecord = {};
      if (settings) {
        const { $metadata: _m, ...config } = await gw.send(new GetUserPoolMfaConfigCommand(input));
        mfa = config;
      }
      const groups: GroupType[] = [];
      for await (const g of items(gw.pages(paginateListGroups, input), 'Groups')) groups.push(g);
      const clients: UserPoolClientType[] = [];
      for await (const c of items(
        gw.pages(paginateListUserPoolClients, input),
        'UserPoolClients',
      )) {
        const { UserPoolClient: full } = await gw.send(
          new DescribeUserPoolClientCommand({ ...input, ClientId: c.ClientId ?? '' }),
        );
        if (full) clients.push(full);
      }
      const identityProviders: IdentityProviderType[] = [];
      for await (const p of items(gw.pages(paginateListIdentityProviders, input), 'Providers')) {
        const { IdentityProvider: full } = await gw.send(
          new DescribeIdentityProviderCommand({ ...input, ProviderName: p.ProviderName ?? '' }),
        );
        if (full) identityProviders.push(full);
      }
      const resourceServers: ResourceServerType[] = [];
      for await (const s of items(gw.pages(paginateListResourceServers, input), 'ResourceServers'))
        resourceServers.push(s);
      const estimated = pool.EstimatedNumberOfUsers;
      const extras = settings ? await readExtras(gw, userPoolId) : undefined;
      if (extras) {
        const domain = await readDomain(gw, pool);
        if (domain !== null) extras.set('Domain', domain);
      }
      const clientSettings = settings
        ? await readClientSettings(gw, userPoolId, clients)
        : undefined;
      return {
        pool,
        mfa,
        groups,
        clients,
        identityProviders,
        resourceServers,
        ...(typeof estimated === 'number' ? { estimatedUsers: estimated } : {}),
        ...(extras ? { extras } : {}),
        ...(clientSettings ? { clientSettings } : {}),
        userMfa: true,
      };
    },
    users: (opts) =>
      opts?.userMfa
        ? withUserMfa(gw, userPoolId, opts.signal)
        : items(gw.pages(paginateListUsers, { UserPoolId: userPoolId }), 'Users'),
    async *memberships(groups) {
      for (const group of groups) {
        const input = { UserPoolId: userPoolId, GroupName: group };
        for await (const u of items(gw.pages(paginateListUsersInGroup, input), 'Users'))
          if (u.Username) yield { group, username: u.Username };
      }
    },
  };
}

/** A snapshot: its documents, and its users and memberships streamed from the part files. */
export function snapshotSide(reader: SnapshotReader, label: string): CompareSide {
  return {
    label,
    async resources() {
      // Styles are held when the file is there and the backup could ask for every client.
      const brandingsHeld =
        reader.filesOf('managedLoginBranding').length > 0 &&
        !reader.manifest.warnings.some(
          (w) =>
            w.code === 'NOT_CAPTURED' && w.operation === 'DescribeManagedLoginBrandingByClient',
        );
      const { pool, groups, clients, identityProviders, resourceServers, ...docs } =
        await readDocuments(reader);
      const brandings = brandingsHeld ? docs.managedLoginBranding : undefined;
      const extras = snapshotExtras(pool);
      if (pool.domain) extras.set('Domain', domainForm(pool.domain.ManagedLoginVersion));
      return {
        pool: pool.userPool,
        mfa: pool.mfaConfig ?? {},
        groups,
        clients,
        identityProviders,
        resourceServers,
        estimatedUsers: reader.manifest.counts.users,
        extras,
        clientSettings: snapshotClientSettings(clients, pool, brandings),
        userMfa: reader.manifest.options.userMfa === true,
      };
    },
    users: () => reader.records('users', UserRecord),
    async *memberships() {
      for await (const m of reader.records('memberships', MembershipRecord)) yield m;
    },
  };
}
