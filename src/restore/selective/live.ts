import {
  DescribeIdentityProviderCommand,
  DescribeUserPoolClientCommand,
  type GroupType,
  type IdentityProviderType,
  ListUsersCommand,
  paginateAdminListGroupsForUser,
  paginateListGroups,
  paginateListIdentityProviders,
  paginateListResourceServers,
  paginateListUserPoolClients,
  paginateListUsers,
  paginateListUsersInGroup,
  type ResourceServerType,
  type UserPoolClientType,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import { forEachConcurrent } from '../../core/concurrency.js';
import { CognitoError } from '../../core/errors.js';
import { type CognitoGateway, items } from '../../cognito/gateway.js';

/**
 * The live side of a selective restore, read without scanning the pool when the selection is
 * small: users one by one with ListUsers filters (UserList quota; ListUsers bills nothing), and
 * only the resources the selection names described.
 */

/** A ListUsers filter value: Cognito's filter syntax quotes with `"` and escapes with `\`. */
export function filterValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The one user whose `attribute` equals `value`, via ListUsers Filter (undefined: none). */
export async function findUserBy(
  gw: CognitoGateway,
  poolId: string,
  attribute: 'username' | 'sub' | 'email' | 'phone_number',
  value: string,
): Promise<UserType | undefined> {
  const r = await gw.send(
    new ListUsersCommand({
      UserPoolId: poolId,
      Filter: `${attribute} = ${filterValue(value)}`,
      Limit: 2,
    }),
  );
  const users = r.Users ?? [];
  if (attribute === 'username' || attribute === 'sub') {
    // Exact: `=` on username is exact but case-insensitive in case-insensitive pools.
    return users.find((u) =>
      attribute === 'username'
        ? u.Username === value || u.Username?.toLowerCase() === value.toLowerCase()
        : u.Attributes?.some((a) => a.Name === 'sub' && a.Value === value),
    );
  }
  return users.length === 1 ? users[0] : undefined;
}

/**
 * Every live user whose username is in `wanted` (one ListUsers pass over the pool; memory
 * follows the selection, not the pool).
 */
export async function scanUsers(
  gw: CognitoGateway,
  poolId: string,
  wanted: (u: UserType) => boolean,
  onUser: (u: UserType) => void,
): Promise<void> {
  for await (const u of items(gw.pages(paginateListUsers, { UserPoolId: poolId }), 'Users'))
    if (wanted(u)) onUser(u);
}

/** The live members of a group (ListUsersInGroup), each passed to `onUser`; false: no group. */
export async function membersOf(
  gw: CognitoGateway,
  poolId: string,
  group: string,
  onUser: (u: UserType) => void,
): Promise<boolean> {
  try {
    for await (const u of items(
      gw.pages(paginateListUsersInGroup, { UserPoolId: poolId, GroupName: group }),
      'Users',
    ))
      onUser(u);
    return true;
  } catch (e) {
    if (e instanceof CognitoError && e.awsCode === 'ResourceNotFoundException') return false;
    throw e;
  }
}

/** A user's live groups (AdminListGroupsForUser). */
export async function groupsOfUser(
  gw: CognitoGateway,
  poolId: string,
  username: string,
): Promise<string[]> {
  const out: string[] = [];
  for await (const g of items(
    gw.pages(paginateAdminListGroupsForUser, { UserPoolId: poolId, Username: username }),
    'Groups',
  ))
    if (g.GroupName) out.push(g.GroupName);
  return out;
}

export interface LiveResources {
  groups: Map<string, GroupType>;
  resourceServers: Map<string, ResourceServerType>;
  /** Described (details included) for the selected names only; listed for the rest. */
  identityProviders: Map<string, IdentityProviderType | undefined>;
  /** By client name: described for the selected names, listed ids for the rest. */
  clients: Map<string, { id: string; described?: UserPoolClientType }[]>;
}

/**
 * The pool's resources, listed (ListGroups, ListResourceServers, ListIdentityProviders,
 * ListUserPoolClients: a few pages each) and described only where the selection names them.
 */
export async function readLiveResources(
  gw: CognitoGateway,
  poolId: string,
  selected: { identityProviders: ReadonlySet<string>; clients: ReadonlySet<string> },
  need: { groups: boolean; resourceServers: boolean; identityProviders: boolean; clients: boolean },
): Promise<LiveResources> {
  const live: LiveResources = {
    groups: new Map(),
    resourceServers: new Map(),
    identityProviders: new Map(),
    clients: new Map(),
  };
  if (need.groups)
    for await (const g of items(gw.pages(paginateListGroups, { UserPoolId: poolId }), 'Groups'))
      if (g.GroupName) live.groups.set(g.GroupName, g);
  if (need.resourceServers)
    for await (const s of items(
      gw.pages(paginateListResourceServers, { UserPoolId: poolId }),
      'ResourceServers',
    ))
      if (s.Identifier) live.resourceServers.set(s.Identifier, s);
  if (need.identityProviders) {
    for await (const p of items(
      gw.pages(paginateListIdentityProviders, { UserPoolId: poolId }),
      'Providers',
    ))
      if (p.ProviderName) live.identityProviders.set(p.ProviderName, undefined);
    await forEachConcurrent(
      [...selected.identityProviders].filter((n) => live.identityProviders.has(n)),
      2,
      async (name) => {
        const r = await gw.send(
          new DescribeIdentityProviderCommand({ UserPoolId: poolId, ProviderName: name }),
        );
        live.identityProviders.set(name, r.IdentityProvider);
      },
    );
  }
  if (need.clients) {
    for await (const c of items(
      gw.pages(paginateListUserPoolClients, { UserPoolId: poolId }),
      'UserPoolClients',
    )) {
      if (!c.ClientId) continue;
      const name = c.ClientName ?? c.ClientId;
      const list = live.clients.get(name) ?? [];
      list.push({ id: c.ClientId });
      live.clients.set(name, list);
    }
    for (const name of selected.clients) {
      const list = live.clients.get(name);
      if (!list || list.length !== 1) continue;
      const entry = list[0];
      if (!entry) continue;
      const r = await gw.send(
        new DescribeUserPoolClientCommand({ UserPoolId: poolId, ClientId: entry.id }),
      );
      if (r.UserPoolClient) entry.described = r.UserPoolClient;
    }
  }
  return live;
}
