import type { CognitoGateway } from '../cognito/gateway.js';
import {
  ClientRecord,
  GroupRecord,
  IdentityProviderRecord,
  MembershipRecord,
  PoolDocument,
  ResourceServerRecord,
  UserRecord,
} from '../snapshot/format.js';
import type { SnapshotReader } from '../snapshot/reader.js';
import { z } from 'zod';

export type Loose = Record<string, unknown>;

/** A user as both ListUsers and the snapshot give it. */
export interface UserLike {
  Username?: string;
  Attributes?: { Name?: string; Value?: string }[];
  Enabled?: boolean;
  UserStatus?: string;
}

/** The small documents of one side: held in memory (a pool has at most thousands of these). */
export interface SideResources {
  pool: Loose;
  mfa: Loose;
  groups: Loose[];
  clients: Loose[];
  identityProviders: Loose[];
  resourceServers: Loose[];
  /** Users expected (EstimatedNumberOfUsers, or the snapshot's count): sizes the partitions. */
  estimatedUsers?: number;
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
      const pool = ((await gw.describeUserPool(userPoolId)) ?? {}) as Loose;
      const mfa = settings ? ((await gw.getUserPoolMfaConfig(userPoolId)) as unknown as Loose) : {};
      const groups: Loose[] = [];
      for await (const g of gw.listGroups(userPoolId)) groups.push(g as Loose);
      const clients: Loose[] = [];
      for await (const c of gw.listUserPoolClients(userPoolId)) {
        const full = await gw.describeUserPoolClient(userPoolId, c.ClientId ?? '');
        if (full) clients.push(full as Loose);
      }
      const identityProviders: Loose[] = [];
      for await (const p of gw.listIdentityProviders(userPoolId)) {
        const full = await gw.describeIdentityProvider(userPoolId, p.ProviderName ?? '');
        if (full) identityProviders.push(full as Loose);
      }
      const resourceServers: Loose[] = [];
      for await (const s of gw.listResourceServers(userPoolId)) resourceServers.push(s as Loose);
      const estimated = pool.EstimatedNumberOfUsers;
      return {
        pool,
        mfa: mfa ?? {},
        groups,
        clients,
        identityProviders,
        resourceServers,
        ...(typeof estimated === 'number' ? { estimatedUsers: estimated } : {}),
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
        pool: pool.userPool as Loose,
        mfa: (pool.mfaConfig ?? {}) as Loose,
        groups: groups as Loose[],
        clients: clients as Loose[],
        identityProviders: identityProviders as Loose[],
        resourceServers: resourceServers as Loose[],
        estimatedUsers: reader.manifest.counts.users,
      };
    },
    users: () => reader.records('users', UserRecord),
    async *memberships() {
      for await (const m of reader.records('memberships', MembershipRecord)) yield m;
    },
  };
}
