import {
  type CognitoIdentityProviderClient,
  DescribeIdentityProviderCommand,
  DescribeUserPoolClientCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListUserPoolClientsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { expect } from 'vitest';

/**
 * A pool as the raw AWS SDK lists it — independent of the code under test (no compare engine,
 * no gateway): users (enabled, status, every attribute), groups (settings and members), app
 * clients (described, by name), identity providers (described) and resource servers. Dates
 * are left out (Cognito moves them on every write).
 */
export interface ListedUser {
  enabled: boolean;
  status: string;
  attributes: Record<string, string>;
  groups: string[];
}
export interface PoolListing {
  users: Map<string, ListedUser>;
  groups: Map<string, { Description?: string; Precedence?: number; RoleArn?: string }>;
  clients: Map<string, { id: string; settings: Record<string, unknown> }>;
  identityProviders: Map<string, Record<string, unknown>>;
  resourceServers: Map<string, Record<string, unknown>>;
}

export async function listPool(
  raw: CognitoIdentityProviderClient,
  poolId: string,
): Promise<PoolListing> {
  const users = new Map<string, ListedUser>();
  let token: string | undefined;
  do {
    const r = await raw.send(
      new ListUsersCommand({ UserPoolId: poolId, Limit: 60, PaginationToken: token }),
    );
    for (const u of r.Users ?? []) {
      const attributes: Record<string, string> = {};
      for (const a of u.Attributes ?? []) if (a.Name) attributes[a.Name] = a.Value ?? '';
      users.set(u.Username ?? '', {
        enabled: u.Enabled !== false,
        status: u.UserStatus ?? '',
        attributes,
        groups: [],
      });
    }
    token = r.PaginationToken;
  } while (token);
  const groups: PoolListing['groups'] = new Map();
  let gt: string | undefined;
  do {
    const r = await raw.send(
      new ListGroupsCommand({ UserPoolId: poolId, Limit: 60, NextToken: gt }),
    );
    for (const g of r.Groups ?? []) {
      groups.set(g.GroupName ?? '', {
        ...(g.Description !== undefined ? { Description: g.Description } : {}),
        ...(g.Precedence !== undefined ? { Precedence: g.Precedence } : {}),
        ...(g.RoleArn !== undefined ? { RoleArn: g.RoleArn } : {}),
      });
    }
    gt = r.NextToken;
  } while (gt);
  for (const name of groups.keys()) {
    let mt: string | undefined;
    do {
      const r = await raw.send(
        new ListUsersInGroupCommand({
          UserPoolId: poolId,
          GroupName: name,
          Limit: 60,
          NextToken: mt,
        }),
      );
      for (const u of r.Users ?? []) users.get(u.Username ?? '')?.groups.push(name);
      mt = r.NextToken;
    } while (mt);
  }
  for (const u of users.values()) u.groups.sort();
  const clients: PoolListing['clients'] = new Map();
  const cl = await raw.send(new ListUserPoolClientsCommand({ UserPoolId: poolId, MaxResults: 60 }));
  for (const c of cl.UserPoolClients ?? []) {
    const d = await raw.send(
      new DescribeUserPoolClientCommand({ UserPoolId: poolId, ClientId: c.ClientId }),
    );
    const { CreationDate, LastModifiedDate, ClientId, ...settings } = d.UserPoolClient ?? {};
    void CreationDate;
    void LastModifiedDate;
    clients.set(c.ClientName ?? '', { id: ClientId ?? '', settings });
  }
  const identityProviders: PoolListing['identityProviders'] = new Map();
  const ip = await raw.send(
    new ListIdentityProvidersCommand({ UserPoolId: poolId, MaxResults: 60 }),
  );
  for (const p of ip.Providers ?? []) {
    const d = await raw.send(
      new DescribeIdentityProviderCommand({ UserPoolId: poolId, ProviderName: p.ProviderName }),
    );
    const { CreationDate, LastModifiedDate, ...rest } = d.IdentityProvider ?? {};
    void CreationDate;
    void LastModifiedDate;
    identityProviders.set(p.ProviderName ?? '', rest);
  }
  const resourceServers: PoolListing['resourceServers'] = new Map();
  const rs = await raw.send(new ListResourceServersCommand({ UserPoolId: poolId, MaxResults: 50 }));
  for (const s of rs.ResourceServers ?? []) resourceServers.set(s.Identifier ?? '', { ...s });
  return { users, groups, clients, identityProviders, resourceServers };
}

/** The user without its sub (a re-created user has a new one). */
export function withoutSub(u: ListedUser | undefined): Omit<ListedUser, 'attributes'> & {
  attributes: Record<string, string>;
} {
  if (!u) throw new Error('user not in the pool');
  const { sub, ...attributes } = u.attributes;
  void sub;
  return { ...u, attributes };
}

/**
 * Everything outside `except` is identical in both listings: same users (every attribute, sub
 * included), same groups, clients, identity providers and resource servers.
 */
export function expectUnchangedOutside(
  before: PoolListing,
  after: PoolListing,
  except: {
    users?: readonly string[];
    groups?: readonly string[];
    clients?: readonly string[];
    identityProviders?: readonly string[];
    resourceServers?: readonly string[];
    /** Groups whose membership lists may differ (a user's groups, outside these, must not). */
    membershipsOf?: readonly string[];
  },
): void {
  const drop = <V>(m: Map<string, V>, names: readonly string[] | undefined): Map<string, V> =>
    new Map([...m].filter(([k]) => !(names ?? []).includes(k)));
  const mg = new Set(except.membershipsOf ?? []);
  const users = (l: PoolListing) =>
    new Map(
      [...drop(l.users, except.users)].map(([k, u]) => [
        k,
        { ...u, groups: u.groups.filter((g) => !mg.has(g)) },
      ]),
    );
  expect(users(after)).toEqual(users(before));
  expect(drop(after.groups, except.groups)).toEqual(drop(before.groups, except.groups));
  expect(drop(after.clients, except.clients)).toEqual(drop(before.clients, except.clients));
  expect(drop(after.identityProviders, except.identityProviders)).toEqual(
    drop(before.identityProviders, except.identityProviders),
  );
  expect(drop(after.resourceServers, except.resourceServers)).toEqual(
    drop(before.resourceServers, except.resourceServers),
  );
}
