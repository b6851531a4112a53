import type {
  GroupType,
  IdentityProviderType,
  ResourceServerType,
  UserPoolClientType,
  UserPoolType,
  UserType,
} from '@aws-sdk/client-cognito-identity-provider';
import type { CognitoGateway } from '../cognito/gateway.js';
import {
  COMPARED_CLIENT_KEYS,
  CREATE_GROUP_KEYS,
  CREATE_IDP_KEYS,
  CREATE_POOL_KEYS,
  CREATE_RESOURCE_SERVER_KEYS,
  IDP_DETAILS_OUTPUT_ONLY,
  MFA_KEYS,
  RISK_KEYS,
  UI_KEYS,
} from '../cognito/fields.js';
import { RESTORE_TOKEN_TAG } from './create-once.js';
import { InterruptedError } from '../core/errors.js';
import { parseIdentities } from './preflight.js';
import { expectedRestoredStatus, type PasswordState } from './sign-in.js';

/**
 * Compares two user pools through the API: settings, groups, resource servers, identity
 * providers, app clients (by name), users (attributes, enabled, status, linked identities) and
 * memberships, and optionally checks an old→new sub map. Used by the restore tests and by the
 * demo's summary. Users are held in memory (fine for demo and test pools, not for millions).
 *
 * Differences never carry attribute values unless `includeValues` is set: messages name the user
 * and the attribute only, so they can be printed.
 */
export type DifferenceKind =
  | 'pool'
  | 'user'
  | 'group'
  | 'membership'
  | 'client'
  | 'identityProvider'
  | 'resourceServer'
  | 'subMap';

export interface PoolDifference {
  kind: DifferenceKind;
  /** What differs: a username (or email), group name, client name, setting name… */
  key: string;
  field?: string;
  message: string;
  /** Values from A and B, only with `includeValues`. */
  a?: unknown;
  b?: unknown;
}

export interface SubMapEntry {
  username?: string;
  oldSub: string | null;
  newSub: string | null;
}

export interface CompareOptions {
  /** Old→new sub map to check: entries (e.g. the sub map file's lines) or a Map old → new. */
  subMap?: Iterable<SubMapEntry> | Map<string, string>;
  /**
   * How users of A are matched with users of B. `auto` (default): by email (else phone number,
   * else username) when either pool signs in by email/phone — Cognito generated new usernames
   * there — and by username otherwise.
   */
  matchUsersBy?: 'auto' | 'username' | 'email' | 'phone_number';
  /**
   * `ignore` (default): statuses are not compared. `equal`: same UserStatus. `restored`: B's
   * status is what the documented restore mapping makes of A's (expectedRestoredStatus:
   * CONFIRMED for users who could sign in, FORCE_CHANGE_PASSWORD for UNCONFIRMED ones, or
   * everyone FORCE_CHANGE_PASSWORD with `passwordState: 'force-change'`).
   */
  userStatus?: 'ignore' | 'equal' | 'restored';
  /** The restore's --password-state, for `userStatus: 'restored'` (default sign-in-ready). */
  passwordState?: PasswordState;
  /**
   * With `userStatus: 'restored'`: statuses also accepted for a restored user besides the one
   * expected for an AdminCreateUser restore (a CSV import job leaves users in RESET_REQUIRED).
   */
  restoredStatuses?: readonly string[];
  /** Attribute names ignored on users and in the schema (e.g. custom:legacy_sub). */
  ignoreAttributes?: string[];
  /** Compare pool settings and the MFA configuration (default true). */
  poolSettings?: boolean;
  /** Compare identity provider secrets too (default false: only that the key is there). */
  compareSecrets?: boolean;
  includeValues?: boolean;
  /** Differences kept in the list (all are counted); default 1000. */
  maxDifferences?: number;
}

export interface PoolComparison {
  equal: boolean;
  differenceCount: number;
  differences: PoolDifference[];
  summary: {
    users: {
      a: number;
      b: number;
      matched: number;
      onlyInA: number;
      onlyInB: number;
      externalProviderInA: number;
    };
    groups: { a: number; b: number };
    memberships: { a: number; b: number };
    clients: { a: number; b: number };
    identityProviders: { a: number; b: number };
    resourceServers: { a: number; b: number };
    subMap?: { entries: number; checked: number; wrong: number };
    /** Settings neither endpoint would return (e.g. an emulator without the operation). */
    settingsNotCompared?: string[];
  };
}

type Loose = Record<string, unknown>;

/**
 * Pool settings compared: every field restore copies into CreateUserPool (one list with the
 * restore, src/cognito/fields.ts, so no field is written unchecked). A field neither pool has
 * compares equal.
 */
const POOL_SETTING_KEYS: readonly string[] = CREATE_POOL_KEYS;

/** Array-valued fields whose order carries no meaning. */
const SET_FIELDS = new Set([
  'AutoVerifiedAttributes',
  'AliasAttributes',
  'UsernameAttributes',
  'ReadAttributes',
  'WriteAttributes',
  'ExplicitAuthFlows',
  'SupportedIdentityProviders',
  'CallbackURLs',
  'LogoutURLs',
  'AllowedOAuthFlows',
  'AllowedOAuthScopes',
  'IdpIdentifiers',
]);

const SECRET_KEY = /secret|private_?key|password/i;

/** JSON with sorted object keys (and sorted set-like arrays), for equality. */
export function canonical(v: unknown, field?: string): string {
  if (Array.isArray(v)) {
    const items = v.map((x) => canonical(x));
    if (field && SET_FIELDS.has(field)) items.sort();
    return `[${items.join(',')}]`;
  }
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Loose)
      .filter(([, x]) => x !== undefined && x !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x, k)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

function attr(u: UserType, name: string): string | undefined {
  return u.Attributes?.find((a) => a.Name === name)?.Value;
}

class Differences {
  readonly list: PoolDifference[] = [];
  count = 0;
  constructor(
    private readonly max: number,
    private readonly includeValues: boolean,
  ) {}

  add(d: Omit<PoolDifference, 'a' | 'b'>, a?: unknown, b?: unknown): void {
    this.count++;
    if (this.list.length >= this.max) return;
    this.list.push(this.includeValues ? { ...d, a, b } : d);
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

interface Side {
  pool: UserPoolType;
  mfa: Loose;
  users: UserType[];
  groups: GroupType[];
  members: Map<string, string[]>;
  clients: UserPoolClientType[];
  idps: IdentityProviderType[];
  servers: ResourceServerType[];
  /** Settings restore sets after CreateUserPool; `undefined` when the endpoint refused the read. */
  extras: Map<string, Loose | undefined>;
}

/** The settings restore writes after CreateUserPool, as compare reads them back. */
const EXTRA_SETTINGS: [string, (gw: CognitoGateway, poolId: string) => Promise<Loose>][] = [
  [
    'UICustomization',
    async (gw, id) => {
      const ui = ((await gw.getUICustomization(id, { transientAttempts: 1 })) ?? {}) as Loose;
      // Each pool serves its logo from its own URL: compare that there is one.
      return { ...pickKeys(ui, UI_KEYS), HasImage: Boolean(ui.ImageUrl) };
    },
  ],
  [
    'RiskConfiguration',
    async (gw, id) =>
      pickKeys(
        ((await gw.describeRiskConfiguration(id, { transientAttempts: 1 })) ?? {}) as Loose,
        RISK_KEYS,
      ),
  ],
  [
    'LogDeliveryConfiguration',
    async (gw, id) => ({
      LogConfigurations:
        (await gw.getLogDeliveryConfiguration(id, { transientAttempts: 1 }))?.LogConfigurations ??
        [],
    }),
  ],
];

function pickKeys(src: Loose, keys: readonly string[]): Loose {
  const out: Loose = {};
  for (const k of keys) if (src[k] !== undefined && src[k] !== null) out[k] = src[k];
  return out;
}

async function readExtras(gw: CognitoGateway, poolId: string): Promise<Side['extras']> {
  const out: Side['extras'] = new Map();
  for (const [name, read] of EXTRA_SETTINGS) {
    try {
      out.set(name, await read(gw, poolId));
    } catch (e) {
      if (e instanceof InterruptedError) throw e;
      out.set(name, undefined);
    }
  }
  return out;
}

async function readSide(gw: CognitoGateway, poolId: string, settings: boolean): Promise<Side> {
  const pool = (await gw.describeUserPool(poolId)) ?? {};
  const mfa = settings ? ((await gw.getUserPoolMfaConfig(poolId)) as unknown as Loose) : {};
  const users = await collect(gw.listUsers(poolId));
  const groups = await collect(gw.listGroups(poolId));
  const members = new Map<string, string[]>();
  for (const g of groups) {
    const name = g.GroupName ?? '';
    members.set(
      name,
      (await collect(gw.listUsersInGroup(poolId, name))).map((u) => u.Username ?? ''),
    );
  }
  const clients: UserPoolClientType[] = [];
  for await (const c of gw.listUserPoolClients(poolId)) {
    const full = await gw.describeUserPoolClient(poolId, c.ClientId ?? '');
    if (full) clients.push(full);
  }
  const idps: IdentityProviderType[] = [];
  for await (const p of gw.listIdentityProviders(poolId)) {
    const full = await gw.describeIdentityProvider(poolId, p.ProviderName ?? '');
    if (full) idps.push(full);
  }
  const servers = await collect(gw.listResourceServers(poolId));
  const extras = settings ? await readExtras(gw, poolId) : new Map<string, Loose | undefined>();
  return { pool, mfa, users, groups, members, clients, idps, servers, extras };
}

function userKeyFn(
  mode: NonNullable<CompareOptions['matchUsersBy']>,
  a: UserPoolType,
  b: UserPoolType,
): (u: UserType) => string {
  const generated = Boolean(a.UsernameAttributes?.length || b.UsernameAttributes?.length);
  if (mode === 'username' || (mode === 'auto' && !generated)) return (u) => u.Username ?? '';
  if (mode === 'email') return (u) => attr(u, 'email') ?? `username:${u.Username ?? ''}`;
  if (mode === 'phone_number')
    return (u) => attr(u, 'phone_number') ?? `username:${u.Username ?? ''}`;
  return (u) => attr(u, 'email') ?? attr(u, 'phone_number') ?? `username:${u.Username ?? ''}`;
}

/** The pool without the tag a restore marks its pools with (not a setting of the source). */
function withoutRestoreToken(pool: Loose): Loose {
  const tags = pool.UserPoolTags as Record<string, string> | undefined;
  if (!tags) return pool;
  // No tags and an empty tag map are the same.
  const { [RESTORE_TOKEN_TAG]: _token, ...rest } = tags;
  const { UserPoolTags: _tags, ...others } = pool;
  return Object.keys(rest).length ? { ...others, UserPoolTags: rest } : others;
}

function comparePoolSettings(
  a: Side,
  b: Side,
  d: Differences,
  ignore: Set<string>,
  notCompared: string[],
): void {
  const pa = withoutRestoreToken(a.pool as Loose);
  const pb = withoutRestoreToken(b.pool as Loose);
  for (const k of POOL_SETTING_KEYS) {
    if (canonical(pa[k], k) !== canonical(pb[k], k)) {
      d.add({ kind: 'pool', key: k, message: `pool setting ${k} differs` }, pa[k], pb[k]);
    }
  }
  for (const [name, x] of a.extras) {
    const y = b.extras.get(name);
    if (x === undefined && y === undefined) {
      notCompared.push(name);
    } else if (x === undefined || y === undefined) {
      d.add({
        kind: 'pool',
        key: name,
        message: `pool setting ${name} could be read in ${x === undefined ? 'B' : 'A'} only`,
      });
    } else if (canonical(x) !== canonical(y)) {
      d.add({ kind: 'pool', key: name, message: `pool setting ${name} differs` }, x, y);
    }
  }
  for (const k of MFA_KEYS) {
    if (canonical(a.mfa[k]) !== canonical(b.mfa[k])) {
      d.add({ kind: 'pool', key: k, message: `MFA setting ${k} differs` }, a.mfa[k], b.mfa[k]);
    }
  }
  const schema = (p: UserPoolType): Map<string, Loose> =>
    new Map(
      (p.SchemaAttributes ?? [])
        .filter((s) => s.Name && !ignore.has(s.Name))
        .map((s) => [s.Name ?? '', s as Loose]),
    );
  const sa = schema(a.pool);
  const sb = schema(b.pool);
  const custom = (n: string): boolean => n.startsWith('custom:') || n.startsWith('dev:');
  for (const [name, x] of sa) {
    const y = sb.get(name);
    if (!y) {
      if (custom(name) || x.Required)
        d.add({
          kind: 'pool',
          key: name,
          field: 'Schema',
          message: `attribute ${name} is only in A's schema`,
        });
      continue;
    }
    const fields = custom(name)
      ? [
          'AttributeDataType',
          'Mutable',
          'DeveloperOnlyAttribute',
          'StringAttributeConstraints',
          'NumberAttributeConstraints',
        ]
      : ['Required', 'Mutable'];
    for (const f of fields) {
      if (canonical(x[f]) !== canonical(y[f])) {
        d.add(
          { kind: 'pool', key: name, field: f, message: `schema attribute ${name}: ${f} differs` },
          x[f],
          y[f],
        );
      }
    }
  }
  for (const [name, y] of sb) {
    if (!sa.has(name) && (custom(name) || y.Required))
      d.add({
        kind: 'pool',
        key: name,
        field: 'Schema',
        message: `attribute ${name} is only in B's schema`,
      });
  }
}

function byName<T>(items: T[], name: (t: T) => string | undefined): Map<string, T> {
  return new Map(items.map((t) => [name(t) ?? '', t]));
}

function compareNamed<T>(
  kind: DifferenceKind,
  label: string,
  a: T[],
  b: T[],
  name: (t: T) => string | undefined,
  fields: (t: T) => Loose,
  d: Differences,
): void {
  const ma = byName(a, name);
  const mb = byName(b, name);
  for (const [n, x] of ma) {
    const y = mb.get(n);
    if (!y) {
      d.add({ kind, key: n, message: `${label} ${n} is only in A` });
      continue;
    }
    const fx = fields(x);
    const fy = fields(y);
    for (const k of new Set([...Object.keys(fx), ...Object.keys(fy)])) {
      if (canonical(fx[k], k) !== canonical(fy[k], k)) {
        d.add({ kind, key: n, field: k, message: `${label} ${n}: ${k} differs` }, fx[k], fy[k]);
      }
    }
  }
  for (const n of mb.keys())
    if (!ma.has(n)) d.add({ kind, key: n, message: `${label} ${n} is only in B` });
}

function pick(src: object, keys: readonly string[], skip: string): Loose {
  const out: Loose = {};
  for (const k of keys) if (k !== skip) out[k] = (src as Loose)[k];
  return out;
}

function clientFields(c: UserPoolClientType): Loose {
  return { ...pick(c, COMPARED_CLIENT_KEYS, 'ClientName'), HasSecret: Boolean(c.ClientSecret) };
}

function idpFields(p: IdentityProviderType, secrets: boolean): Loose {
  const details: Loose = {};
  const outputOnly: readonly string[] = IDP_DETAILS_OUTPUT_ONLY;
  for (const [k, v] of Object.entries(p.ProviderDetails ?? {})) {
    if (outputOnly.includes(k)) continue;
    details[k] = SECRET_KEY.test(k) && !secrets ? '(secret)' : v;
  }
  return { ...pick(p, CREATE_IDP_KEYS, 'ProviderName'), ProviderDetails: details };
}

export async function comparePools(
  gwA: CognitoGateway,
  poolA: string,
  gwB: CognitoGateway,
  poolB: string,
  opts: CompareOptions = {},
): Promise<PoolComparison> {
  const settings = opts.poolSettings ?? true;
  const [a, b] = await Promise.all([
    readSide(gwA, poolA, settings),
    readSide(gwB, poolB, settings),
  ]);
  const d = new Differences(opts.maxDifferences ?? 1000, Boolean(opts.includeValues));
  const ignore = new Set([...(opts.ignoreAttributes ?? [])]);

  const notCompared: string[] = [];
  if (settings) comparePoolSettings(a, b, d, ignore, notCompared);

  compareNamed(
    'group',
    'group',
    a.groups,
    b.groups,
    (g) => g.GroupName,
    (g) => pick(g, CREATE_GROUP_KEYS, 'GroupName'),
    d,
  );
  compareNamed(
    'resourceServer',
    'resource server',
    a.servers,
    b.servers,
    (s) => s.Identifier,
    (s) => ({
      ...pick(s, CREATE_RESOURCE_SERVER_KEYS, 'Identifier'),
      Scopes: [...(s.Scopes ?? [])].sort((x, y) =>
        (x.ScopeName ?? '').localeCompare(y.ScopeName ?? ''),
      ),
    }),
    d,
  );
  compareNamed(
    'identityProvider',
    'identity provider',
    a.idps,
    b.idps,
    (p) => p.ProviderName,
    (p) => idpFields(p, Boolean(opts.compareSecrets)),
    d,
  );
  compareNamed(
    'client',
    'app client',
    a.clients,
    b.clients,
    (c) => c.ClientName,
    (c) => clientFields(c),
    d,
  );

  // ---- users ---------------------------------------------------------------------------------
  const key = userKeyFn(opts.matchUsersBy ?? 'auto', a.pool, b.pool);
  const keyOfA = new Map<string, string>();
  const keyOfB = new Map<string, string>();
  const usersA = new Map<string, UserType>();
  const usersB = new Map<string, UserType>();
  let externalA = 0;
  for (const u of a.users) {
    if (u.UserStatus === 'EXTERNAL_PROVIDER') {
      externalA++;
      continue;
    }
    const k = key(u);
    if (usersA.has(k))
      d.add({ kind: 'user', key: k, message: `user ${k} matches several users of A` });
    usersA.set(k, u);
    keyOfA.set(u.Username ?? '', k);
  }
  for (const u of b.users) {
    const k = key(u);
    if (usersB.has(k))
      d.add({ kind: 'user', key: k, message: `user ${k} matches several users of B` });
    usersB.set(k, u);
    keyOfB.set(u.Username ?? '', k);
  }
  const skipAttrs = new Set(['sub', 'identities', ...ignore]);
  let matched = 0;
  for (const [k, ua] of usersA) {
    const ub = usersB.get(k);
    if (!ub) {
      d.add({ kind: 'user', key: k, message: `user ${k} is only in A` });
      continue;
    }
    matched++;
    const aa = new Map(
      (ua.Attributes ?? [])
        .filter((x) => !skipAttrs.has(x.Name ?? ''))
        .map((x) => [x.Name ?? '', x.Value]),
    );
    const ab = new Map(
      (ub.Attributes ?? [])
        .filter((x) => !skipAttrs.has(x.Name ?? ''))
        .map((x) => [x.Name ?? '', x.Value]),
    );
    for (const [n, v] of aa) {
      if (!ab.has(n))
        d.add(
          { kind: 'user', key: k, field: n, message: `user ${k}: attribute ${n} is missing in B` },
          v,
          undefined,
        );
      else if (ab.get(n) !== v)
        d.add(
          { kind: 'user', key: k, field: n, message: `user ${k}: attribute ${n} differs` },
          v,
          ab.get(n),
        );
    }
    for (const [n, v] of ab) {
      if (!aa.has(n))
        d.add(
          { kind: 'user', key: k, field: n, message: `user ${k}: attribute ${n} is only in B` },
          undefined,
          v,
        );
    }
    const ids = (u: UserType): string =>
      parseIdentities(attr(u, 'identities'))
        .map((i) => `${i.providerName}:${i.userId}`)
        .sort()
        .join(',');
    if (ids(ua) !== ids(ub))
      d.add(
        {
          kind: 'user',
          key: k,
          field: 'identities',
          message: `user ${k}: linked identities differ`,
        },
        ids(ua),
        ids(ub),
      );
    if ((ua.Enabled ?? true) !== (ub.Enabled ?? true))
      d.add({
        kind: 'user',
        key: k,
        field: 'Enabled',
        message: `user ${k}: Enabled is ${String(ua.Enabled)} in A, ${String(ub.Enabled)} in B`,
      });
    const status = opts.userStatus ?? 'ignore';
    if (status === 'equal' && ua.UserStatus !== ub.UserStatus)
      d.add({
        kind: 'user',
        key: k,
        field: 'UserStatus',
        message: `user ${k}: status ${ua.UserStatus} in A, ${ub.UserStatus} in B`,
      });
    const expected =
      status === 'restored' ? expectedRestoredStatus(ua.UserStatus, opts.passwordState) : undefined;
    if (
      expected !== undefined &&
      ub.UserStatus !== expected &&
      !(opts.restoredStatuses ?? []).includes(ub.UserStatus ?? '')
    )
      d.add({
        kind: 'user',
        key: k,
        field: 'UserStatus',
        message: `user ${k}: status ${ub.UserStatus} in B, expected ${expected} (${ua.UserStatus} in A)`,
      });
  }
  for (const k of usersB.keys())
    if (!usersA.has(k)) d.add({ kind: 'user', key: k, message: `user ${k} is only in B` });

  // ---- memberships -----------------------------------------------------------------------------
  let membersA = 0;
  let membersB = 0;
  for (const [group, list] of a.members) {
    const sa = new Set(list.map((u) => keyOfA.get(u)).filter((k): k is string => k !== undefined));
    membersA += sa.size;
    const lb = b.members.get(group);
    if (!lb) continue; // the group itself is reported
    const sb = new Set(lb.map((u) => keyOfB.get(u) ?? `username:${u}`));
    const onlyIn = (side: 'A' | 'B', from: Set<string>, other: Set<string>): void => {
      for (const k of from) {
        if (other.has(k)) continue;
        d.add({
          kind: 'membership',
          key: group,
          field: k,
          message: `user ${k} is in group ${group} in ${side} only`,
        });
      }
    };
    onlyIn('A', sa, sb);
    onlyIn('B', sb, sa);
  }
  for (const list of b.members.values()) membersB += list.length;

  // ---- sub map ---------------------------------------------------------------------------------
  let subSummary: PoolComparison['summary']['subMap'];
  if (opts.subMap) {
    const map = new Map<string, string>();
    let entries = 0;
    if (opts.subMap instanceof Map) {
      for (const [o, n] of opts.subMap) map.set(o, n);
      entries = opts.subMap.size;
    } else {
      const seenUsers = new Set<string>();
      for (const e of opts.subMap) {
        entries++;
        if (e.username !== undefined) {
          if (seenUsers.has(e.username))
            d.add({
              kind: 'subMap',
              key: e.username,
              message: `sub map lists user ${e.username} more than once`,
            });
          seenUsers.add(e.username);
        }
        if (!e.oldSub || !e.newSub) {
          d.add({
            kind: 'subMap',
            key: e.username ?? '?',
            message: `sub map entry for ${e.username ?? '?'} lacks a sub`,
          });
          continue;
        }
        if (map.has(e.oldSub))
          d.add({
            kind: 'subMap',
            key: e.username ?? e.oldSub,
            message: `sub map maps one old sub more than once`,
          });
        map.set(e.oldSub, e.newSub);
      }
    }
    let checked = 0;
    let wrong = 0;
    const oldSubs = new Set<string>();
    for (const [k, ua] of usersA) {
      const old = attr(ua, 'sub');
      if (!old) continue;
      oldSubs.add(old);
      const ub = usersB.get(k);
      if (!ub) continue;
      checked++;
      const mapped = map.get(old);
      if (mapped === undefined) {
        wrong++;
        d.add({ kind: 'subMap', key: k, message: `sub map has no entry for user ${k}` });
      } else if (mapped !== attr(ub, 'sub')) {
        wrong++;
        d.add({
          kind: 'subMap',
          key: k,
          message: `sub map sends user ${k}'s old sub to another user's sub`,
        });
      }
    }
    for (const o of map.keys()) {
      if (!oldSubs.has(o))
        d.add({ kind: 'subMap', key: o, message: `sub map has an old sub that no user of A has` });
    }
    subSummary = { entries, checked, wrong };
  }

  return {
    equal: d.count === 0,
    differenceCount: d.count,
    differences: d.list,
    summary: {
      users: {
        a: a.users.length,
        b: b.users.length,
        matched,
        onlyInA: [...usersA.keys()].filter((k) => !usersB.has(k)).length,
        onlyInB: [...usersB.keys()].filter((k) => !usersA.has(k)).length,
        externalProviderInA: externalA,
      },
      groups: { a: a.groups.length, b: b.groups.length },
      memberships: { a: membersA, b: membersB },
      clients: { a: a.clients.length, b: b.clients.length },
      identityProviders: { a: a.idps.length, b: b.idps.length },
      resourceServers: { a: a.servers.length, b: b.servers.length },
      ...(subSummary ? { subMap: subSummary } : {}),
      ...(notCompared.length ? { settingsNotCompared: notCompared } : {}),
    },
  };
}
