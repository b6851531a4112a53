import {
  type CognitoIdentityProviderClient,
  DescribeIdentityProviderCommand,
  DescribeUserPoolClientCommand,
  DescribeUserPoolCommand,
  ListGroupsCommand,
  ListIdentityProvidersCommand,
  ListResourceServersCommand,
  ListUserPoolClientsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  type UserType,
} from '@aws-sdk/client-cognito-identity-provider';

/**
 * An independent judge of restores: reads a pool with the raw AWS SDK (no gateway, no pacing, our
 * own pagination) and compares plain data. It imports NOTHING from src/ on purpose — the
 * product's compare engine (src/compare) must not be the only thing that says a restore is
 * right, or a bug shared by restore and compare (an extra attribute nobody reports, a membership
 * counted from the wrong side) goes unseen. Keep it that way: no import from '../../src/…'.
 */

export type Attrs = Record<string, string>;

export interface RawPool {
  users: UserType[];
  groups: Record<string, { Description?: string; Precedence?: number; RoleArn?: string }>;
  /** Group name → usernames, as ListUsersInGroup gives them. */
  members: Record<string, string[]>;
  /** App client name → DescribeUserPoolClient without ids, dates and the secret itself. */
  clients: Record<string, Record<string, unknown>>;
  identityProviders: Record<string, Record<string, unknown>>;
  resourceServers: Record<string, Record<string, unknown>>;
  /** The schema's custom attributes (custom:… names), sorted. */
  customAttributes: string[];
}

async function pages<T>(
  read: (token: string | undefined) => Promise<{ items: T[]; next: string | undefined }>,
): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  const seen = new Set<string>();
  do {
    const { items, next } = await read(token);
    out.push(...items);
    if (next !== undefined && seen.has(next))
      throw new Error('raw-pool: a pagination token came back twice');
    if (next !== undefined) seen.add(next);
    token = next;
  } while (token);
  return out;
}

/** Every user, group, membership, app client, identity provider and resource server of a pool. */
export async function readRawPool(
  client: CognitoIdentityProviderClient,
  poolId: string,
): Promise<RawPool> {
  const UserPoolId = poolId;
  const { UserPool: pool } = await client.send(new DescribeUserPoolCommand({ UserPoolId }));
  const customAttributes = (pool?.SchemaAttributes ?? [])
    .map((s) => s.Name ?? '')
    .filter((n) => n.startsWith('custom:'))
    .sort();
  const users = await pages(async (PaginationToken) => {
    const r = await client.send(new ListUsersCommand({ UserPoolId, Limit: 60, PaginationToken }));
    return { items: r.Users ?? [], next: r.PaginationToken };
  });
  const groups: RawPool['groups'] = {};
  for (const g of await pages(async (NextToken) => {
    const r = await client.send(new ListGroupsCommand({ UserPoolId, Limit: 60, NextToken }));
    return { items: r.Groups ?? [], next: r.NextToken };
  })) {
    groups[g.GroupName ?? ''] = {
      ...(g.Description !== undefined ? { Description: g.Description } : {}),
      ...(g.Precedence !== undefined ? { Precedence: g.Precedence } : {}),
      ...(g.RoleArn !== undefined ? { RoleArn: g.RoleArn } : {}),
    };
  }
  const members: RawPool['members'] = {};
  for (const GroupName of Object.keys(groups)) {
    const list = await pages(async (NextToken) => {
      const r = await client.send(
        new ListUsersInGroupCommand({ UserPoolId, GroupName, Limit: 60, NextToken }),
      );
      return { items: (r.Users ?? []).map((u) => u.Username ?? ''), next: r.NextToken };
    });
    members[GroupName] = list;
  }
  const clients: RawPool['clients'] = {};
  for (const c of await pages(async (NextToken) => {
    const r = await client.send(
      new ListUserPoolClientsCommand({ UserPoolId, MaxResults: 60, NextToken }),
    );
    return { items: r.UserPoolClients ?? [], next: r.NextToken };
  })) {
    const d = await client.send(
      new DescribeUserPoolClientCommand({ UserPoolId, ClientId: c.ClientId }),
    );
    const {
      ClientId: _id,
      ClientSecret,
      UserPoolId: _pool,
      CreationDate: _created,
      LastModifiedDate: _modified,
      ...rest
    } = d.UserPoolClient ?? {};
    clients[rest.ClientName ?? ''] = { ...rest, hasSecret: Boolean(ClientSecret) };
  }
  const identityProviders: RawPool['identityProviders'] = {};
  for (const p of await pages(async (NextToken) => {
    const r = await client.send(
      new ListIdentityProvidersCommand({ UserPoolId, MaxResults: 60, NextToken }),
    );
    return { items: r.Providers ?? [], next: r.NextToken };
  })) {
    const d = await client.send(
      new DescribeIdentityProviderCommand({ UserPoolId, ProviderName: p.ProviderName }),
    );
    const i = d.IdentityProvider ?? {};
    identityProviders[i.ProviderName ?? ''] = {
      ProviderType: i.ProviderType,
      ProviderDetails: i.ProviderDetails,
      AttributeMapping: i.AttributeMapping,
      IdpIdentifiers: i.IdpIdentifiers,
    };
  }
  const resourceServers: RawPool['resourceServers'] = {};
  for (const s of await pages(async (NextToken) => {
    const r = await client.send(
      new ListResourceServersCommand({ UserPoolId, MaxResults: 50, NextToken }),
    );
    return { items: r.ResourceServers ?? [], next: r.NextToken };
  }))
    resourceServers[s.Identifier ?? ''] = { Name: s.Name, Scopes: s.Scopes };
  return {
    users,
    groups,
    members,
    clients,
    identityProviders,
    resourceServers,
    customAttributes,
  };
}

export const rawAttrs = (u: UserType): Attrs =>
  Object.fromEntries((u.Attributes ?? []).map((a) => [a.Name ?? '', a.Value ?? '']));

export interface PlainUser {
  attributes: Attrs;
  enabled: boolean;
}

export interface PlainPool {
  users: Record<string, PlainUser>;
  /** Group → match keys of its members, sorted. */
  members: Record<string, string[]>;
  groups: RawPool['groups'];
  clients: RawPool['clients'];
  identityProviders: RawPool['identityProviders'];
  resourceServers: RawPool['resourceServers'];
  customAttributes: string[];
}

/**
 * The pool as plain data to compare: users keyed by username (or by email, where Cognito
 * generated new usernames), without `sub` (a restored user always gets a new one) and the
 * attributes named in `ignore`; memberships by the same key.
 */
export function plainPool(
  p: RawPool,
  opts: { keyBy: 'username' | 'email'; ignore?: string[] },
): PlainPool {
  const keyOf = new Map<string, string>();
  const users: Record<string, PlainUser> = {};
  const ignore = new Set(['sub', ...(opts.ignore ?? [])]);
  for (const u of p.users) {
    const all = rawAttrs(u);
    const key = opts.keyBy === 'email' ? (all.email ?? `?${u.Username}`) : (u.Username ?? '');
    if (Object.hasOwn(users, key)) throw new Error(`raw-pool: two users share the key ${key}`);
    keyOf.set(u.Username ?? '', key);
    const attributes: Attrs = {};
    for (const [n, v] of Object.entries(all)) if (!ignore.has(n)) attributes[n] = v;
    users[key] = { attributes, enabled: u.Enabled !== false };
  }
  const members = Object.fromEntries(
    Object.entries(p.members).map(([g, list]) => [
      g,
      list.map((u) => keyOf.get(u) ?? `?${u}`).sort(),
    ]),
  );
  return {
    users,
    members,
    groups: p.groups,
    clients: p.clients,
    identityProviders: p.identityProviders,
    resourceServers: p.resourceServers,
    customAttributes: p.customAttributes.filter((n) => !ignore.has(n)),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Where two plain values differ, as paths (`users.alice.attributes.custom:tier: only in B`),
 * never with the values themselves. Objects by key in both directions, arrays element by element
 * (order matters: sort set-like lists before), everything else with ===. Undefined members are
 * absent members.
 */
export function plainDifferences(a: unknown, b: unknown, at = ''): string[] {
  const here = at || '(root)';
  if (isObject(a) && isObject(b)) {
    const out: string[] = [];
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of [...keys].sort()) {
      const inA = a[k] !== undefined;
      const inB = b[k] !== undefined;
      const p = at ? `${at}.${k}` : k;
      if (inA && !inB) out.push(`${p}: only in A`);
      else if (!inA && inB) out.push(`${p}: only in B`);
      else if (inA && inB) out.push(...plainDifferences(a[k], b[k], p));
    }
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [`${here}: ${a.length} items in A, ${b.length} in B`];
    return a.flatMap((x, i) => plainDifferences(x, b[i], `${at}[${i}]`));
  }
  if (isObject(a) || isObject(b) || Array.isArray(a) || Array.isArray(b))
    return [`${here}: not the same kind of value`];
  return a === b ? [] : [`${here}: differs`];
}

export interface SubMapLine {
  username?: string;
  oldSub: string | null;
  newSub: string | null;
}

/**
 * What is wrong with a sub map, judged from the two pools: every user of A must map, by its old
 * sub, to the sub of the same user (by username or email) in B; no old sub twice; nothing else.
 */
export function subMapProblems(
  a: RawPool,
  b: RawPool,
  entries: SubMapLine[],
  keyBy: 'username' | 'email',
): string[] {
  const out: string[] = [];
  const key = (u: UserType) => (keyBy === 'email' ? rawAttrs(u).email : u.Username);
  const map = new Map<string, string | null>();
  for (const e of entries) {
    if (e.oldSub === null) out.push(`an entry without an old sub`);
    else if (map.has(e.oldSub)) out.push(`an old sub listed twice`);
    else map.set(e.oldSub, e.newSub);
  }
  const subInB = new Map(b.users.map((u) => [key(u), rawAttrs(u).sub]));
  for (const u of a.users) {
    const old = rawAttrs(u).sub ?? '';
    if (!map.has(old)) out.push(`user ${key(u)}: no entry`);
    else if (map.get(old) !== subInB.get(key(u))) out.push(`user ${key(u)}: wrong new sub`);
    map.delete(old);
  }
  if (map.size) out.push(`${map.size} entries for subs no user of A has`);
  return out;
}
