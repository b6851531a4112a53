import type {
  GroupType,
  IdentityProviderType,
  LogDeliveryConfigurationType,
  ResourceServerType,
  RiskConfigurationType,
  UICustomizationType,
  UserPoolClientType,
  UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { pickPresent, RISK_KEYS, UI_KEYS } from '../cognito/fields.js';
import type { CognitoGateway } from '../cognito/gateway.js';
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
  const quick = { transientAttempts: 1 };
  const reads: [keyof typeof EXTRA_FORM, () => Promise<ComparedForm>][] = [
    [
      'UICustomization',
      async () => EXTRA_FORM.UICustomization((await gw.getUICustomization(poolId, quick)) ?? {}),
    ],
    [
      'RiskConfiguration',
      async () =>
        EXTRA_FORM.RiskConfiguration((await gw.describeRiskConfiguration(poolId, quick)) ?? {}),
    ],
    [
      'LogDeliveryConfiguration',
      async () =>
        EXTRA_FORM.LogDeliveryConfiguration(
          (await gw.getLogDeliveryConfiguration(poolId, quick)) ?? {
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
      const pool = (await gw.describeUserPool(userPoolId)) ?? {};
      let mfa: MfaConfigRecord = {};
      if (settings) {
        const { $metadata: _m, ...config } = await gw.getUserPoolMfaConfig(userPoolId);
        mfa = config;
      }
      const groups: GroupType[] = [];
      for await (const g of gw.listGroups(userPoolId)) groups.push(g);
      const clients: UserPoolClientType[] = [];
      for await (const c of gw.listUserPoolClients(userPoolId)) {
        const full = await gw.describeUserPoolClient(userPoolId, c.ClientId ?? '');
        if (full) clients.push(full);
      }
      const identityProviders: IdentityProviderType[] = [];
      for await (const p of gw.listIdentityProviders(userPoolId)) {
        const full = await gw.describeIdentityProvider(userPoolId, p.ProviderName ?? '');
        if (full) identityProviders.push(full);
      }
      const resourceServers: ResourceServerType[] = [];
      for await (const s of gw.listResourceServers(userPoolId)) resourceServers.push(s);
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
    users: () => gw.listUsers(userPoolId),
    async *memberships(groups) {
      for (const group of groups) {
        for await (const u of gw.listUsersInGroup(userPoolId, group))
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
