import type {
  IdentityProviderType,
  ResourceServerType,
  SchemaAttributeType,
  UserPoolClientType,
  UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  COMPARED_CLIENT_KEYS,
  COMPARED_CUSTOM_SCHEMA_KEYS,
  COMPARED_GROUP_KEYS,
  COMPARED_IDP_KEYS,
  COMPARED_MFA_KEYS,
  COMPARED_POOL_KEYS,
  COMPARED_RESOURCE_SERVER_KEYS,
  COMPARED_STANDARD_SCHEMA_KEYS,
  canonical,
  IDP_DETAILS_NOT_COMPARED,
  parseIdentities,
} from '../cognito/fields.js';
import { throwIfAborted } from '../core/errors.js';
import { SECRET_KEYS } from '../snapshot/redaction.js';
import { isCognitoOwnedAttribute } from '../snapshot/user-record.js';
import { RESTORE_TOKEN_TAG } from '../restore/create-once.js';
import { expectedRestoredStatus, type PasswordState } from '../restore/users/sign-in.js';
import type { ComparedForm, CompareSide, SideResources, UserLike } from './sides.js';
import { Spill, SpillDir } from './spill.js';

/**
 * Compares two sides — pools or snapshots (src/compare/sides.ts) — settings, groups, resource
 * servers, identity providers, app clients (by name), users (attributes, enabled, status, linked
 * identities, groups) and memberships, and optionally checks an old→new sub map.
 *
 * Streaming: each side's users and memberships are hash-partitioned by username into temporary
 * gzip'd JSON Lines files (a 0700 directory, 0600 files, removed afterwards) and joined there
 * (a user with its groups), then re-partitioned by the match key; each pair of partitions is then
 * compared in memory. Memory follows users / partitions, not the pool (docs/architecture.md).
 *
 * Differences never carry attribute values unless `includeValues` is set: messages name the user
 * and the attribute only.
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

/** What changed about a user present on both sides. */
export type UserChangeClass = 'attributes' | 'status' | 'enabled' | 'groups';

export interface PoolDifference {
  kind: DifferenceKind;
  /** What differs: a user's match key, group name, client name, setting name… */
  key: string;
  field?: string;
  /** For a user on both sides: which class of change. */
  class?: UserChangeClass;
  /** For a user or resource on one side only. */
  only?: 'A' | 'B';
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

/**
 * The statuses a user of B may have, given its status in A (a snapshot or the source pool).
 */
export type StatusMapping = (statusInA: string | undefined) => readonly string[];

/**
 * What a restore leaves a user in, given its status in the snapshot: the restore's own rule
 * (src/restore/users/sign-in.ts, expectedRestoredStatus — the one module of the restore layer the
 * comparison may import), for its --password-state.
 */
export function restoredStatus(state?: PasswordState): StatusMapping {
  return (s) => [expectedRestoredStatus(s, state)];
}

/** restoredStatus() for the restore's default --password-state. */
export const RESTORED_STATUS: StatusMapping = restoredStatus();

export interface CompareOptions {
  /** Old→new sub map to check: entries (e.g. the sub map file's lines) or a Map old → new. */
  subMap?: Iterable<SubMapEntry> | Map<string, string>;
  /**
   * How users of A are matched with users of B. `auto` (default): by email (else phone number,
   * else username) when either pool signs in by email/phone — Cognito generated new usernames
   * there — and by username otherwise. `sub-map`: by sub, A's through `matchSubMap` (old → new).
   */
  matchUsersBy?: 'auto' | 'username' | 'email' | 'phone_number' | 'sub-map';
  /** Old sub → new sub, for `matchUsersBy: 'sub-map'`. */
  matchSubMap?: Map<string, string>;
  /**
   * `ignore` (default): statuses are not compared. `equal`: same UserStatus. `restored`: B's
   * status is what a restore makes of A's (restoredStatus(passwordState)). A function: B's
   * status is one it returns for A's.
   */
  userStatus?: 'ignore' | 'equal' | 'restored' | StatusMapping;
  /** The restore's --password-state, for `userStatus: 'restored'` (default sign-in-ready). */
  passwordState?: PasswordState;
  /**
   * With `userStatus: 'restored'` (or a mapping): statuses also accepted for a user of B besides
   * the ones expected for an AdminCreateUser restore (a CSV import job leaves users in
   * RESET_REQUIRED).
   */
  restoredStatuses?: readonly string[];
  /** Attribute names ignored on users and in the schema (e.g. custom:legacy_sub). */
  ignoreAttributes?: string[];
  /**
   * Compare each user's MFA settings (UserMFASettingList, PreferredMfaSetting). Costs money on a
   * live pool: ListUsers does not return them, so every native user is read with AdminGetUser,
   * and each read counts the user as a billed monthly active user. A snapshot gives them only
   * when taken with `backup --user-mfa` (else listed in `settingsNotCompared`). With
   * `userStatus: 'restored'` (or a mapping), B is expected to have what a restore brings back:
   * SMS and email MFA, never TOTP.
   */
  userMfa?: boolean;
  /** Compare pool settings and the MFA configuration (default true). */
  poolSettings?: boolean;
  /** Compare identity provider secrets too (default false: only that the key is there). */
  compareSecrets?: boolean;
  includeValues?: boolean;
  /** Differences kept in the list (all are counted, and all go to onDifference); default 1000. */
  maxDifferences?: number;
  /** Every difference, as found (e.g. to a report file). */
  onDifference?: (d: PoolDifference) => void;
  /** Partitions of the spill files (default: from the users expected, ~10,000 a partition). */
  partitions?: number;
  /** Where the spill directory goes (default: the OS temp directory). */
  tempDir?: string;
  signal?: AbortSignal;
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
      /** Users on both sides with at least one change of that class (`total`: of any). */
      changed: Record<UserChangeClass | 'total', number>;
    };
    groups: { a: number; b: number };
    memberships: { a: number; b: number };
    clients: { a: number; b: number };
    identityProviders: { a: number; b: number };
    resourceServers: { a: number; b: number };
    subMap?: { entries: number; checked: number; wrong: number };
    /** Settings neither side could give (e.g. an emulator without the operation). */
    settingsNotCompared?: string[];
    partitions: number;
  };
}

export const USERS_PER_PARTITION = 10_000;

function attr(u: UserLike, name: string): string | undefined {
  return u.Attributes?.find((a) => a.Name === name)?.Value;
}

class Differences {
  readonly list: PoolDifference[] = [];
  count = 0;
  constructor(
    private readonly max: number,
    private readonly includeValues: boolean,
    private readonly sink?: (d: PoolDifference) => void,
  ) {}

  add(d: Omit<PoolDifference, 'a' | 'b'>, a?: unknown, b?: unknown): void {
    this.count++;
    const full = this.includeValues ? { ...d, a, b } : d;
    this.sink?.(full);
    if (this.list.length < this.max) this.list.push(full);
  }
}

// ---- resources ---------------------------------------------------------------------------------

/** The pool without the tag a restore marks its pools with (not a setting of the source). */
function withoutRestoreToken(pool: UserPoolType): UserPoolType {
  const tags = pool.UserPoolTags;
  if (!tags) return pool;
  // No tags and an empty tag map are the same.
  const { [RESTORE_TOKEN_TAG]: _token, ...rest } = tags;
  const { UserPoolTags: _tags, ...others } = pool;
  return Object.keys(rest).length ? { ...others, UserPoolTags: rest } : others;
}

function comparePoolSettings(
  a: SideResources,
  b: SideResources,
  d: Differences,
  ignore: Set<string>,
  la: string,
  lb: string,
  notCompared: string[],
): void {
  const pa = withoutRestoreToken(a.pool);
  const pb = withoutRestoreToken(b.pool);
  for (const k of COMPARED_POOL_KEYS) {
    if (canonical(pa[k], k) !== canonical(pb[k], k))
      d.add({ kind: 'pool', key: k, message: `pool setting ${k} differs` }, pa[k], pb[k]);
  }
  // The settings restore writes after CreateUserPool (UI customization, risk, log delivery):
  // compared when both sides give them; unreadable on both is listed, on one side a difference.
  const names = new Set([...(a.extras?.keys() ?? []), ...(b.extras?.keys() ?? [])]);
  for (const name of names) {
    if (!a.extras?.has(name) || !b.extras?.has(name)) {
      // A side that does not hold the setting at all (a snapshot from before it was captured).
      notCompared.push(name);
      continue;
    }
    const x = a.extras.get(name);
    const y = b.extras.get(name);
    if (x === undefined && y === undefined) {
      notCompared.push(name);
    } else if (x === undefined || y === undefined) {
      d.add({
        kind: 'pool',
        key: name,
        message: `pool setting ${name} could be read in ${x === undefined ? lb : la} only`,
      });
    } else if (canonical(x) !== canonical(y)) {
      d.add({ kind: 'pool', key: name, message: `pool setting ${name} differs` }, x, y);
    }
  }
  for (const k of COMPARED_MFA_KEYS) {
    if (canonical(a.mfa[k]) !== canonical(b.mfa[k]))
      d.add({ kind: 'pool', key: k, message: `MFA setting ${k} differs` }, a.mfa[k], b.mfa[k]);
  }
  const schema = (p: UserPoolType): Map<string, SchemaAttributeType> =>
    new Map(
      (p.SchemaAttributes ?? []).flatMap((s) =>
        typeof s.Name === 'string' && !ignore.has(s.Name) ? [[s.Name, s] as const] : [],
      ),
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
          only: 'A',
          message: `attribute ${name} is only in ${la}'s schema`,
        });
      continue;
    }
    const fields = custom(name) ? COMPARED_CUSTOM_SCHEMA_KEYS : COMPARED_STANDARD_SCHEMA_KEYS;
    for (const f of fields) {
      if (canonical(x[f]) !== canonical(y[f]))
        d.add(
          { kind: 'pool', key: name, field: f, message: `schema attribute ${name}: ${f} differs` },
          x[f],
          y[f],
        );
    }
  }
  for (const [name, y] of sb) {
    if (!sa.has(name) && (custom(name) || y.Required))
      d.add({
        kind: 'pool',
        key: name,
        field: 'Schema',
        only: 'B',
        message: `attribute ${name} is only in ${lb}'s schema`,
      });
  }
}

/**
 * The app clients' own settings (managed login style, UI customization, risk configuration),
 * client by client, matched by name like the clients themselves (a client on one side only is
 * reported by the client comparison). A setting one side does not hold, or neither can read, is
 * listed as not compared; readable on one side only is a difference.
 */
function compareClientSettings(
  a: SideResources,
  b: SideResources,
  d: Differences,
  la: string,
  lb: string,
  notCompared: string[],
): void {
  const names = new Set([...(a.clientSettings?.keys() ?? []), ...(b.clientSettings?.keys() ?? [])]);
  for (const setting of names) {
    const label = `${setting} (app clients)`;
    if (!a.clientSettings?.has(setting) || !b.clientSettings?.has(setting)) {
      notCompared.push(label);
      continue;
    }
    const x = a.clientSettings.get(setting);
    const y = b.clientSettings.get(setting);
    if (x === undefined && y === undefined) {
      notCompared.push(label);
      continue;
    }
    if (x === undefined || y === undefined) {
      d.add({
        kind: 'pool',
        key: label,
        message: `app client setting ${setting} could be read in ${x === undefined ? lb : la} only`,
      });
      continue;
    }
    for (const [client, vx] of x) {
      if (!y.has(client)) continue;
      const vy = y.get(client) ?? null;
      if (vx === null && vy === null) continue;
      if (vx === null || vy === null) {
        d.add(
          {
            kind: 'client',
            key: client,
            field: setting,
            message: `app client ${client}: ${setting} is only in ${vx === null ? lb : la}`,
          },
          vx,
          vy,
        );
      } else if (canonical(vx) !== canonical(vy)) {
        d.add(
          {
            kind: 'client',
            key: client,
            field: setting,
            message: `app client ${client}: ${setting} differs`,
          },
          vx,
          vy,
        );
      }
    }
  }
}

function compareNamed<T>(
  kind: DifferenceKind,
  label: string,
  a: T[],
  b: T[],
  name: (t: T) => unknown,
  fields: (t: T) => ComparedForm,
  d: Differences,
  la: string,
  lb: string,
): void {
  const ma = new Map(a.map((t) => [String(name(t) ?? ''), t]));
  const mb = new Map(b.map((t) => [String(name(t) ?? ''), t]));
  for (const [n, x] of ma) {
    const y = mb.get(n);
    if (!y) {
      d.add({ kind, key: n, only: 'A', message: `${label} ${n} is only in ${la}` });
      continue;
    }
    const fx = fields(x);
    const fy = fields(y);
    for (const k of new Set([...Object.keys(fx), ...Object.keys(fy)])) {
      if (canonical(fx[k], k) !== canonical(fy[k], k))
        d.add({ kind, key: n, field: k, message: `${label} ${n}: ${k} differs` }, fx[k], fy[k]);
    }
  }
  for (const n of mb.keys())
    if (!ma.has(n)) d.add({ kind, key: n, only: 'B', message: `${label} ${n} is only in ${lb}` });
}

/** The members `keys` of `src`, absent ones included (as undefined). */
function pick<T extends object, K extends keyof T & string>(
  src: T,
  keys: readonly K[],
): ComparedForm {
  const out: ComparedForm = {};
  for (const k of keys) out[k] = src[k];
  return out;
}

function clientFields(c: UserPoolClientType): ComparedForm {
  return { ...pick(c, COMPARED_CLIENT_KEYS), HasSecret: Boolean(c.ClientSecret) };
}

function idpFields(p: IdentityProviderType, secrets: boolean): ComparedForm {
  const details: ComparedForm = {};
  for (const [k, v] of Object.entries(p.ProviderDetails ?? {})) {
    if (IDP_DETAILS_NOT_COMPARED.has(k)) continue;
    details[k] = SECRET_KEYS.test(k) && !secrets ? '(secret)' : v;
  }
  return { ...pick(p, COMPARED_IDP_KEYS), ProviderDetails: details };
}

function serverFields(s: ResourceServerType): ComparedForm {
  const scopes = [...(s.Scopes ?? [])].sort((x, y) =>
    (x.ScopeName ?? '').localeCompare(y.ScopeName ?? ''),
  );
  return { ...pick(s, COMPARED_RESOURCE_SERVER_KEYS), Scopes: scopes };
}

// ---- users -------------------------------------------------------------------------------------

/** A user as spilled: the fields compared, its groups, and its match key. */
interface SpilledUser {
  k: string;
  n: string;
  a: [string, string | undefined][];
  e?: boolean;
  s?: string;
  g: string[];
  /** MFA factors (sorted) and the preferred one, when read. */
  m?: [string[], string | null];
}

type KeyFn = (u: UserLike) => string;

function userKeyFn(opts: CompareOptions, a: UserPoolType, b: UserPoolType, side: 'A' | 'B'): KeyFn {
  const mode = opts.matchUsersBy ?? 'auto';
  const byName = (u: UserLike): string => `username:${u.Username ?? ''}`;
  if (mode === 'sub-map') {
    const map = opts.matchSubMap ?? new Map<string, string>();
    if (side === 'B') return (u) => `sub:${attr(u, 'sub') ?? byName(u)}`;
    return (u) => {
      const old = attr(u, 'sub');
      const mapped = old === undefined ? undefined : map.get(old);
      return mapped === undefined ? `unmapped:${old ?? byName(u)}` : `sub:${mapped}`;
    };
  }
  const generated = Boolean(a.UsernameAttributes?.length || b.UsernameAttributes?.length);
  if (mode === 'username' || (mode === 'auto' && !generated)) return (u) => u.Username ?? '';
  if (mode === 'email') return (u) => attr(u, 'email') ?? byName(u);
  if (mode === 'phone_number') return (u) => attr(u, 'phone_number') ?? byName(u);
  return (u) => attr(u, 'email') ?? attr(u, 'phone_number') ?? byName(u);
}

interface SideSpill {
  users: number;
  external: number;
  memberships: number;
  byKey: Spill<SpilledUser>;
}

/**
 * Streams one side into partitions by match key: users and memberships by username first,
 * joined partition by partition (a user with its groups), then re-partitioned by key.
 */
async function spillSide(
  side: CompareSide,
  groups: readonly string[],
  key: KeyFn,
  skipExternal: boolean,
  dir: SpillDir,
  n: number,
  tag: string,
  signal: AbortSignal | undefined,
  userMfa = false,
): Promise<SideSpill> {
  const users = new Spill<UserLike>(dir, `${tag}-users`, n);
  const members = new Spill<[string, string]>(dir, `${tag}-members`, n);
  const byKey = new Spill<SpilledUser>(dir, `${tag}-bykey`, n);
  let count = 0;
  let external = 0;
  let memberships = 0;
  try {
    await settleAll(signal, [
      async (stop) => {
        for await (const u of side.users(userMfa ? { userMfa, signal: stop } : undefined)) {
          count++;
          if (stop.aborted) throwIfAborted(stop);
          if (skipExternal && u.UserStatus === 'EXTERNAL_PROVIDER') {
            external++;
            continue;
          }
          const slim: UserLike = {
            Username: u.Username ?? '',
            Attributes: (u.Attributes ?? []).map((x) => ({
              Name: x.Name ?? '',
              ...(x.Value !== undefined ? { Value: x.Value } : {}),
            })),
            ...(u.Enabled !== undefined ? { Enabled: u.Enabled } : {}),
            ...(u.UserStatus !== undefined ? { UserStatus: u.UserStatus } : {}),
            ...(userMfa && u.UserMFASettingList
              ? {
                  UserMFASettingList: u.UserMFASettingList,
                  ...(u.PreferredMfaSetting ? { PreferredMfaSetting: u.PreferredMfaSetting } : {}),
                }
              : {}),
          };
          await users.add(slim.Username ?? '', slim);
        }
        await users.close();
      },
      async (stop) => {
        for await (const m of side.memberships(groups)) {
          memberships++;
          if (stop.aborted) throwIfAborted(stop);
          await members.add(m.username, [m.username, m.group]);
        }
        await members.close();
      },
    ]);
    for (let i = 0; i < n; i++) {
      throwIfAborted(signal);
      const groupsOf = new Map<string, string[]>();
      for await (const [username, group] of members.read(i)) {
        const l = groupsOf.get(username);
        if (l) l.push(group);
        else groupsOf.set(username, [group]);
      }
      for await (const u of users.read(i)) {
        const name = u.Username ?? '';
        const rec: SpilledUser = {
          k: key(u),
          n: name,
          a: (u.Attributes ?? []).map((x) => [x.Name ?? '', x.Value]),
          g: [...new Set(groupsOf.get(name) ?? [])].sort(),
          ...(u.Enabled !== undefined ? { e: u.Enabled } : {}),
          ...(u.UserStatus !== undefined ? { s: u.UserStatus } : {}),
          ...(u.UserMFASettingList
            ? { m: [[...u.UserMFASettingList].sort(), u.PreferredMfaSetting ?? null] }
            : {}),
        };
        await byKey.add(rec.k, rec);
      }
    }
    await byKey.close();
  } finally {
    await Promise.all([users.close(), members.close(), byKey.close()]).catch(() => undefined);
  }
  return { users: count, external, memberships, byKey };
}

function subMapOf(
  input: CompareOptions['subMap'],
  d: Differences,
): { map: Map<string, string>; entries: number } {
  const map = new Map<string, string>();
  if (!input) return { map, entries: 0 };
  if (input instanceof Map) {
    for (const [o, n] of input) map.set(o, n);
    return { map, entries: input.size };
  }
  let entries = 0;
  const seenUsers = new Set<string>();
  for (const e of input) {
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
  return { map, entries };
}

function statusCheck(
  mode: CompareOptions['userStatus'],
  passwordState: PasswordState | undefined,
  alsoAccepted: readonly string[] = [],
): ((a: string | undefined, b: string | undefined) => readonly string[] | undefined) | undefined {
  if (mode === undefined || mode === 'ignore') return undefined;
  if (mode === 'equal') return (a, b) => (a === b ? undefined : [a ?? '(none)']);
  const mapping = mode === 'restored' ? restoredStatus(passwordState) : mode;
  return (a, b) => {
    const ok = mapping(a);
    return b !== undefined && (ok.includes(b) || alsoAccepted.includes(b)) ? undefined : ok;
  };
}

/**
 * Runs tasks side by side. The first failure aborts the others (through their signal) and is
 * rethrown once every task has settled, so nothing is still writing into spill files while they
 * are removed, and no failure goes unhandled.
 */
async function settleAll<T>(
  parent: AbortSignal | undefined,
  tasks: ((signal: AbortSignal) => Promise<T>)[],
): Promise<T[]> {
  const inner = new AbortController();
  const onParent = (): void => inner.abort(parent?.reason);
  if (parent?.aborted) inner.abort(parent.reason);
  else parent?.addEventListener('abort', onParent, { once: true });
  let first: { error: unknown } | undefined;
  try {
    const settled = await Promise.allSettled(
      tasks.map((t) =>
        t(inner.signal).catch((e: unknown) => {
          first ??= { error: e };
          inner.abort(e);
          throw e;
        }),
      ),
    );
    if (first) throw first.error;
    return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
  } finally {
    parent?.removeEventListener('abort', onParent);
  }
}

/**
 * A user's MFA after a restore (src/restore/users/mfa.ts): SMS and email MFA come back, preferred
 * as they were; TOTP cannot (no API reads or writes an authenticator secret).
 */
function mfaAfterRestore([list, preferred]: [string[], string | null]): [string[], string | null] {
  const kept: string[] = list.filter((f) => f === 'SMS_MFA' || f === 'EMAIL_OTP');
  return [kept, preferred !== null && kept.includes(preferred) ? preferred : null];
}

export function partitionsFor(users: number): number {
  return Math.min(256, Math.max(1, Math.ceil(users / USERS_PER_PARTITION)));
}

/** Step: the pool's named resources (groups, resource servers, identity providers, clients). */
function compareResources(
  a: SideResources,
  b: SideResources,
  d: Differences,
  opts: CompareOptions,
  la: string,
  lb: string,
): void {
  compareNamed(
    'group',
    'group',
    a.groups,
    b.groups,
    (g) => g.GroupName,
    (g) => pick(g, COMPARED_GROUP_KEYS),
    d,
    la,
    lb,
  );
  compareNamed(
    'resourceServer',
    'resource server',
    a.resourceServers,
    b.resourceServers,
    (s) => s.Identifier,
    serverFields,
    d,
    la,
    lb,
  );
  compareNamed(
    'identityProvider',
    'identity provider',
    a.identityProviders,
    b.identityProviders,
    (p) => p.ProviderName,
    (p) => idpFields(p, Boolean(opts.compareSecrets)),
    d,
    la,
    lb,
  );
  compareNamed(
    'client',
    'app client',
    a.clients,
    b.clients,
    (c) => c.ClientName,
    clientFields,
    d,
    la,
    lb,
  );
}

/** What comparing one pair of users needs to know (fixed for the whole comparison). */
interface UserCheck {
  la: string;
  lb: string;
  d: Differences;
  /** Attributes left out: Cognito's own (sub, identities, cognito:*) and --ignore-attribute. */
  skipAttr: (name: string) => boolean;
  status: ReturnType<typeof statusCheck>;
  compareMfa: boolean;
  /** Side B is a restore of side A: MFA compared with what a restore brings back. */
  restoredMfa: boolean;
  /** Groups on both sides: only their memberships are compared. */
  common: ReadonlySet<string>;
  /** The sub map, when one is checked. */
  sub: { map: Map<string, string>; entries: number } | undefined;
}

/** The users' counters, filled partition by partition. */
interface UserTally {
  changed: Record<UserChangeClass | 'total', number>;
  matched: number;
  onlyInA: number;
  onlyInB: number;
  membersA: number;
  checked: number;
  wrong: number;
  usedOldSubs: Set<string>;
}

function newUserTally(): UserTally {
  return {
    changed: { attributes: 0, status: 0, enabled: 0, groups: 0, total: 0 },
    matched: 0,
    onlyInA: 0,
    onlyInB: 0,
    membersA: 0,
    checked: 0,
    wrong: 0,
    usedOldSubs: new Set(),
  };
}

const subOf = (u: SpilledUser): string | undefined => u.a.find(([x]) => x === 'sub')?.[1];

function idsOf(u: SpilledUser): string {
  return parseIdentities(u.a.find(([name]) => name === 'identities')?.[1])
    .map((i) => `${i.providerName}:${i.userId}`)
    .sort()
    .join(',');
}

type ChangeFn = (
  cls: UserChangeClass,
  x: Omit<PoolDifference, 'kind' | 'key' | 'class'>,
  va?: unknown,
  vb?: unknown,
) => void;

/** Step: a matched user's attributes, linked identities and MFA. */
function compareUserAttributes(
  c: UserCheck,
  k: string,
  ua: SpilledUser,
  ub: SpilledUser,
  change: ChangeFn,
): void {
  const attrsOf = (u: SpilledUser): Map<string, string | undefined> =>
    new Map(u.a.filter(([name]) => !c.skipAttr(name)));
  const aa = attrsOf(ua);
  const ab = attrsOf(ub);
  for (const [name, v] of aa) {
    if (!ab.has(name))
      change(
        'attributes',
        { field: name, message: `user ${k}: attribute ${name} is missing in ${c.lb}` },
        v,
      );
    else if (ab.get(name) !== v)
      change(
        'attributes',
        { field: name, message: `user ${k}: attribute ${name} differs` },
        v,
        ab.get(name),
      );
  }
  for (const [name, v] of ab) {
    if (!aa.has(name))
      change(
        'attributes',
        { field: name, message: `user ${k}: attribute ${name} is only in ${c.lb}` },
        undefined,
        v,
      );
  }
  const ia = idsOf(ua);
  const ib = idsOf(ub);
  if (ia !== ib)
    change(
      'attributes',
      { field: 'identities', message: `user ${k}: linked identities differ` },
      ia,
      ib,
    );
  if (c.compareMfa && ua.m && ub.m) {
    const want = c.restoredMfa ? mfaAfterRestore(ua.m) : ua.m;
    if (canonical(want) !== canonical(ub.m))
      change(
        'attributes',
        {
          field: 'UserMFASettingList',
          message: `user ${k}: MFA settings differ${c.restoredMfa ? ' from what a restore brings back (SMS and email, not TOTP)' : ''}`,
        },
        want,
        ub.m,
      );
  }
}

/** Step: a matched user's old sub against the sub map. */
function checkSubMap(
  c: UserCheck,
  t: UserTally,
  k: string,
  ua: SpilledUser,
  ub: SpilledUser,
): void {
  if (!c.sub) return;
  const old = subOf(ua);
  if (old === undefined) return;
  t.checked++;
  const mapped = c.sub.map.get(old);
  if (mapped === undefined) {
    t.wrong++;
    c.d.add({ kind: 'subMap', key: k, message: `sub map has no entry for user ${k}` });
  } else if (mapped !== subOf(ub)) {
    t.wrong++;
    c.d.add({
      kind: 'subMap',
      key: k,
      message: `sub map sends user ${k}'s old sub to another user's sub`,
    });
  }
}

/**
 * Step: one matched pair of users (same key): attributes, identities, MFA, Enabled, status,
 * memberships of common groups, the sub map; counted by change class.
 */
function compareUserPair(
  c: UserCheck,
  t: UserTally,
  k: string,
  ua: SpilledUser,
  ub: SpilledUser,
): void {
  const { la, lb, d } = c;
  const classes = new Set<UserChangeClass>();
  const change: ChangeFn = (cls, x, va, vb) => {
    classes.add(cls);
    d.add({ kind: cls === 'groups' ? 'membership' : 'user', key: k, class: cls, ...x }, va, vb);
  };
  compareUserAttributes(c, k, ua, ub, change);
  if ((ua.e ?? true) !== (ub.e ?? true))
    change('enabled', {
      field: 'Enabled',
      message: `user ${k}: Enabled is ${String(ua.e)} in ${la}, ${String(ub.e)} in ${lb}`,
    });
  const expected = c.status?.(ua.s, ub.s);
  if (expected)
    change('status', {
      field: 'UserStatus',
      message: `user ${k}: status ${String(ub.s)} in ${lb}, expected ${expected.join(' or ')} (${String(ua.s)} in ${la})`,
    });
  const gb = new Set(ub.g);
  const ga = new Set(ua.g);
  for (const g of ua.g)
    if (c.common.has(g) && !gb.has(g))
      change('groups', { field: g, message: `user ${k} is in group ${g} in ${la} only` });
  for (const g of ub.g)
    if (c.common.has(g) && !ga.has(g))
      change('groups', { field: g, message: `user ${k} is in group ${g} in ${lb} only` });
  for (const cls of classes) t.changed[cls]++;
  if (classes.size) t.changed.total++;
  checkSubMap(c, t, k, ua, ub);
}

/** Step: one partition of both sides' spills: side A in memory, side B streamed against it. */
async function comparePartition(
  c: UserCheck,
  t: UserTally,
  spillA: SideSpill,
  spillB: SideSpill,
  i: number,
): Promise<void> {
  const { la, lb, d } = c;
  const usersA = new Map<string, SpilledUser>();
  for await (const u of spillA.byKey.read(i)) {
    t.membersA += u.g.length;
    if (usersA.has(u.k))
      d.add({ kind: 'user', key: u.k, message: `user ${u.k} matches several users of ${la}` });
    usersA.set(u.k, u);
    if (c.sub) {
      const old = subOf(u);
      if (old !== undefined && c.sub.map.has(old)) t.usedOldSubs.add(old);
    }
  }
  const seenB = new Set<string>();
  for await (const ub of spillB.byKey.read(i)) {
    const k = ub.k;
    if (seenB.has(k)) {
      d.add({ kind: 'user', key: k, message: `user ${k} matches several users of ${lb}` });
      continue;
    }
    seenB.add(k);
    const ua = usersA.get(k);
    if (!ua) {
      t.onlyInB++;
      d.add({ kind: 'user', key: k, only: 'B', message: `user ${k} is only in ${lb}` });
      continue;
    }
    usersA.delete(k);
    t.matched++;
    compareUserPair(c, t, k, ua, ub);
  }
  for (const k of usersA.keys()) {
    t.onlyInA++;
    d.add({ kind: 'user', key: k, only: 'A', message: `user ${k} is only in ${la}` });
  }
}

/** Compares two sides; see the module comment. Steps: resources, settings, then users by partition. */
export async function compareSides(
  sideA: CompareSide,
  sideB: CompareSide,
  opts: CompareOptions = {},
): Promise<PoolComparison> {
  const settings = opts.poolSettings ?? true;
  const la = sideA.label;
  const lb = sideB.label;
  const [a, b] = await Promise.all([sideA.resources(settings), sideB.resources(settings)]);
  const d = new Differences(
    opts.maxDifferences ?? 1000,
    Boolean(opts.includeValues),
    opts.onDifference,
  );
  const ignore = new Set(opts.ignoreAttributes ?? []);

  const notCompared: string[] = [];
  if (settings) comparePoolSettings(a, b, d, ignore, la, lb, notCompared);
  // Per-user MFA: only when asked (it costs a billed read per user of a live pool) and both
  // sides can give it.
  const compareMfa = Boolean(opts.userMfa && a.userMfa && b.userMfa);
  if (opts.userMfa && !compareMfa) notCompared.push('UserMFASettings');
  const restoredMfa =
    opts.userStatus !== undefined && opts.userStatus !== 'ignore' && opts.userStatus !== 'equal';
  compareResources(a, b, d, opts, la, lb);
  if (settings) compareClientSettings(a, b, d, la, lb, notCompared);

  const groupsA = a.groups.map((g) => String(g.GroupName ?? ''));
  const groupsB = b.groups.map((g) => String(g.GroupName ?? ''));
  const inB = new Set(groupsB);
  const common = new Set(groupsA.filter((g) => inB.has(g)));

  const n =
    opts.partitions ?? partitionsFor(Math.max(a.estimatedUsers ?? 0, b.estimatedUsers ?? 0));
  const sub = subMapOf(opts.subMap, d);
  const dir = await SpillDir.create(opts.tempDir);
  const t = newUserTally();
  let spillA: SideSpill;
  let spillB: SideSpill;
  try {
    [spillA, spillB] = (await settleAll(opts.signal, [
      (stop) =>
        spillSide(
          sideA,
          groupsA,
          userKeyFn(opts, a.pool, b.pool, 'A'),
          true,
          dir,
          n,
          'a',
          stop,
          compareMfa,
        ),
      (stop) =>
        spillSide(
          sideB,
          groupsB,
          userKeyFn(opts, a.pool, b.pool, 'B'),
          false,
          dir,
          n,
          'b',
          stop,
          compareMfa,
        ),
    ])) as [SideSpill, SideSpill];
    const check: UserCheck = {
      la,
      lb,
      d,
      skipAttr: (name) => isCognitoOwnedAttribute(name) || ignore.has(name),
      status: statusCheck(opts.userStatus, opts.passwordState, opts.restoredStatuses),
      compareMfa,
      restoredMfa,
      common,
      sub: opts.subMap ? sub : undefined,
    };
    for (let i = 0; i < n; i++) {
      throwIfAborted(opts.signal);
      await comparePartition(check, t, spillA, spillB, i);
    }
  } finally {
    await dir.dispose();
  }
  if (opts.subMap) {
    for (const o of sub.map.keys())
      if (!t.usedOldSubs.has(o))
        d.add({
          kind: 'subMap',
          key: o,
          message: `sub map has an old sub that no user of ${la} has`,
        });
  }

  return {
    equal: d.count === 0,
    differenceCount: d.count,
    differences: d.list,
    summary: {
      users: {
        a: spillA.users,
        b: spillB.users,
        matched: t.matched,
        onlyInA: t.onlyInA,
        onlyInB: t.onlyInB,
        externalProviderInA: spillA.external,
        changed: t.changed,
      },
      groups: { a: a.groups.length, b: b.groups.length },
      memberships: { a: t.membersA, b: spillB.memberships },
      clients: { a: a.clients.length, b: b.clients.length },
      identityProviders: { a: a.identityProviders.length, b: b.identityProviders.length },
      resourceServers: { a: a.resourceServers.length, b: b.resourceServers.length },
      ...(opts.subMap
        ? { subMap: { entries: sub.entries, checked: t.checked, wrong: t.wrong } }
        : {}),
      ...(notCompared.length ? { settingsNotCompared: notCompared } : {}),
      partitions: n,
    },
  };
}
