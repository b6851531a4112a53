import {
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
import { pickPresent, RISK_KEYS, UI_KEYS } from '../cognito/fields.js';
import { type CallOptions, type CognitoGateway, items } from '../cognito/gateway.js';
import { InterruptedError } from '../core/errors.js';
import {
  ClientRecord,
  GroupRecord,
  IdentityProviderRecord,
  MembershipRecord,
  type MfaConfigRecord,
  PoolDocument,
  ResourceServerRecord,
  UserRecord,
} from '../snapshot/format.js';
import type { SnapshotReader } from '../snapshot/reader.js';
import { z } from 'zod';

/** A setting in the form compared (the same for a live pool and a snapshot). */
export type ComparedForm = Record<string, unknown>;

/** A user as both ListUsers and the snapshot give it. */
export interface UserLike {
  Username?: string;
  Attributes?: { Name?: string; Value?: string }[];
  Enabled?: boolean;
  UserStatus?: string;
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
}

/** The compared form of each setting; the same for a live pool and a snapshot. */
const EXTRA_FORM = {
  // Each pool serves its logo from its own URL (a snapshot keeps the bytes): compare that there is one.
  UICustomization: (ui: UICustomizationType): ComparedForm => ({
    ...pickPresent(ui, UI_KEYS),
    HasImage: Boolean(ui.ImageUrl),
  }),
  RiskConfiguration: (risk: RiskConfigurationType): ComparedForm => pickPresent(risk, RISK_KEYS),
  LogDeliveryConfiguration: (logs: LogDeliveryConfigurationType): ComparedForm => ({
    LogConfigurations: logs.LogConfigurations ?? [],
  }),
};

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
  users(): AsyncIterable<UserLike>;
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
      return {
        pool,
        mfa,
        groups,
        clients,
        identityProviders,
        resourceServers,
        ...(typeof estimated === 'number' ? { estimatedUsers: estimated } : {}),
        ...(extras ? { extras } : {}),
      };
    },
    users: () => items(gw.pages(paginateListUsers, { UserPoolId: userPoolId }), 'Users'),
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
      const [pool, groups, clients, identityProviders, resourceServers] = await Promise.all([
        reader.readJson('pool', PoolDocument),
        reader.readJson('groups', z.array(GroupRecord)),
        reader.readJson('clients', z.array(ClientRecord)),
        reader.readJson('identityProviders', z.array(IdentityProviderRecord)),
        reader.readJson('resourceServers', z.array(ResourceServerRecord)),
      ]);
      return {
        pool: pool.userPool,
        mfa: pool.mfaConfig ?? {},
        groups,
        clients,
        identityProviders,
        resourceServers,
        estimatedUsers: reader.manifest.counts.users,
        extras: snapshotExtras(pool),
      };
    },
    users: () => reader.records('users', UserRecord),
    async *memberships() {
      for await (const m of reader.records('memberships', MembershipRecord)) yield m;
    },
  };
}
