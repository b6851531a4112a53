import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { UsageError } from '../../core/errors.js';
import { opt, type OptionName } from '../../core/options.js';
import type { DifferenceSet, ResourceKind, Selection } from './types.js';

/**
 * The option of each selector (named in errors, never its value; the CLI prints its flag,
 * `--user`, `--group`…).
 */
export const SELECTOR_OPTIONS = {
  users: 'selection.users',
  usersFrom: 'selection.usersFrom',
  groups: 'selection.groups',
  clients: 'selection.clients',
  identityProviders: 'selection.identityProviders',
  resourceServers: 'selection.resourceServers',
  differences: 'selection.differences',
} as const satisfies Record<keyof Selection, OptionName>;

export const KIND_SELECTOR: Record<ResourceKind, keyof Selection> = {
  group: 'groups',
  client: 'clients',
  identityProvider: 'identityProviders',
  resourceServer: 'resourceServers',
};

/** True when any selector is given: the restore is selective. */
export function isSelective(s: Selection | undefined): s is Selection {
  if (!s) return false;
  return Boolean(
    s.users?.length ||
    s.usersFrom?.length ||
    s.groups?.length ||
    s.clients?.length ||
    s.identityProviders?.length ||
    s.resourceServers?.length ||
    s.differences,
  );
}

/**
 * "`selection.users` (2nd)" (the CLI prints "--user (2nd)"): the selector and its position,
 * never its value (a username is PII).
 */
export function selectorName(key: keyof typeof SELECTOR_OPTIONS, index?: number): string {
  const flag = opt(SELECTOR_OPTIONS[key]);
  if (index === undefined) return flag;
  const n = index + 1;
  const suffix =
    n % 10 === 1 && n % 100 !== 11
      ? 'st'
      : n % 10 === 2 && n % 100 !== 12
        ? 'nd'
        : n % 10 === 3 && n % 100 !== 13
          ? 'rd'
          : 'th';
  return `${flag} (${n}${suffix})`;
}

/**
 * Usernames of a `selection.usersFrom` file: one username a line (blank lines and `#` comments
 * skipped), or the JSON Lines of `diff --details` (users that differ or are only in the
 * snapshot; users only in the pool are never selected: a selective restore deletes nothing).
 */
export async function readUsersFrom(file: string, index: number): Promise<Set<string>> {
  const names = new Set<string>();
  const what = selectorName('usersFrom', index);
  let line = 0;
  try {
    const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const raw of rl) {
      line++;
      const text = raw.trim();
      if (!text || text.startsWith('#')) continue;
      if (text.startsWith('{')) {
        let d: { kind?: unknown; key?: unknown; only?: unknown };
        try {
          d = JSON.parse(text) as typeof d;
        } catch {
          throw new UsageError('BAD_USERS_FROM', `${what}: line ${line} is not JSON`, {
            option: SELECTOR_OPTIONS.usersFrom,
            line,
          });
        }
        if (d.kind === 'user' && typeof d.key === 'string' && d.only !== 'B') names.add(d.key);
        continue;
      }
      names.add(raw.replace(/\r$/, ''));
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(
      'BAD_USERS_FROM',
      `${what} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      { option: SELECTOR_OPTIONS.usersFrom },
    );
  }
  return names;
}

/**
 * The selection with its files read: explicit usernames (with the selector each came from, for
 * "matches nothing"), resource names per kind.
 */
export interface ResolvedSelection {
  /** Username → the selectors naming it (indexes into `userSelectors`). */
  explicitUsers: Map<string, number[]>;
  /** One entry per `selection.users` value and per `selection.usersFrom` file. */
  userSelectors: { key: 'users' | 'usersFrom'; index: number; matched: boolean }[];
  groups: string[];
  clients: string[];
  identityProviders: string[];
  resourceServers: string[];
  differences: DifferenceSet | undefined;
  /** Whether `selection.differences` narrows the other selectors (true when any other is given). */
  narrowing: boolean;
}

export async function resolveSelection(s: Selection): Promise<ResolvedSelection> {
  const explicitUsers = new Map<string, number[]>();
  const userSelectors: ResolvedSelection['userSelectors'] = [];
  const add = (name: string, sel: number): void => {
    const cur = explicitUsers.get(name);
    if (cur) cur.push(sel);
    else explicitUsers.set(name, [sel]);
  };
  (s.users ?? []).forEach((u, i) => {
    if (!u)
      throw new UsageError('BAD_FLAG', `${selectorName('users', i)} is empty`, {
        option: SELECTOR_OPTIONS.users,
        position: i + 1,
      });
    userSelectors.push({ key: 'users', index: i, matched: false });
    add(u, userSelectors.length - 1);
  });
  for (const [i, f] of (s.usersFrom ?? []).entries()) {
    const names = await readUsersFrom(f, i);
    userSelectors.push({ key: 'usersFrom', index: i, matched: false });
    for (const n of names) add(n, userSelectors.length - 1);
  }
  const others =
    userSelectors.length > 0 ||
    Boolean(
      s.groups?.length ||
      s.clients?.length ||
      s.identityProviders?.length ||
      s.resourceServers?.length,
    );
  return {
    explicitUsers,
    userSelectors,
    groups: [...new Set(s.groups ?? [])],
    clients: [...new Set(s.clients ?? [])],
    identityProviders: [...new Set(s.identityProviders ?? [])],
    resourceServers: [...new Set(s.resourceServers ?? [])],
    differences: s.differences,
    narrowing: Boolean(s.differences) && others,
  };
}

/** A short, stable digest of the selection (the default state directory's suffix). */
export function selectionDigest(s: Selection, existing: string): string {
  const h = createHash('sha256');
  const list = (v: readonly string[] | undefined): string => JSON.stringify([...(v ?? [])].sort());
  h.update(
    [
      existing,
      list(s.users),
      list(s.usersFrom),
      list(s.groups),
      list(s.clients),
      list(s.identityProviders),
      list(s.resourceServers),
      s.differences ? 'differences' : '',
    ].join('\n'),
  );
  return h.digest('hex').slice(0, 12);
}
