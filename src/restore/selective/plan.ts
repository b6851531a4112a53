import { createHash } from 'node:crypto';
import type { WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { UserType } from '@aws-sdk/client-cognito-identity-provider';
import { StorageError } from '../../core/errors.js';
import type { UserRecord } from '../../snapshot/format.js';
import { canonical } from '../../cognito/fields.js';
import { createNewPrivateFile } from '../../storage/local.js';
import type { AttributeRevert } from './compare.js';
import type { ActionCounts, ExistingMode, ResourceKind, SelectiveCounts } from './types.js';

/**
 * The plan of a selective restore: what happens to each selected user and resource, computed
 * from the snapshot and the live pool before anything is written. Its hash (`planHash`) covers
 * every action, the fields each writes and a digest of the live values they replace, so a pool
 * that changed after the review gives another hash (--plan-hash refuses it, exit 9).
 */

export type UserAction = 'create' | 'revert' | 'skip' | 'unchanged' | 'erased' | 'external';
export type ResourceAction = 'create' | 'revert' | 'skip' | 'unchanged';

export interface UserWork {
  /** Username in the snapshot. */
  username: string;
  action: UserAction;
  /** The snapshot's record (kept for create and revert only). */
  record?: UserRecord;
  /** Username in the pool (an existing user). */
  target?: string;
  attrs?: AttributeRevert;
  /** Enabled state to set (undefined: leave). */
  enable?: boolean;
  addGroups: string[];
  removeGroups: string[];
  /** The snapshot's groups of the user. */
  groups: string[];
}

export interface ResourceWork {
  kind: ResourceKind;
  name: string;
  action: ResourceAction;
  fields: string[];
  /** The live client id (clients), kept by a revert. */
  liveId?: string;
}

/**
 * A membership of a selected group: a snapshot member missing from it (added, whatever
 * --existing says: the group's members as of the snapshot are part of the group), or a member
 * the pool added since the snapshot (removed, with --existing revert only).
 */
export interface MembershipChange {
  group: string;
  /** Username in the pool. */
  username: string;
  action: 'add' | 'remove';
}

export function emptyCounts(): SelectiveCounts {
  const a = (): ActionCounts => ({ create: 0, revert: 0, skip: 0, unchanged: 0 });
  return {
    users: { ...a(), erased: 0, notInSnapshot: 0, externalProvider: 0 },
    group: a(),
    resourceServer: a(),
    identityProvider: a(),
    client: a(),
    memberships: { add: 0, remove: 0 },
    attributes: { revert: 0, unwritable: 0, refused: 0 },
    enabled: { enable: 0, disable: 0 },
  };
}

function digest(v: string): string {
  return createHash('sha256').update(v).digest('hex').slice(0, 16);
}

/** The live values a user revert replaces, digested (the hash changes when they change). */
export function liveDigest(live: UserType | undefined, names: readonly string[]): string {
  if (!live) return '';
  const m = new Map((live.Attributes ?? []).map((a) => [a.Name ?? '', a.Value]));
  return digest(canonical(names.map((n) => [n, m.get(n) ?? null])));
}

/**
 * Accumulates the plan's hash and counts in a fixed order (resources by kind and name, users in
 * snapshot order, removals), and writes the per-user detail (names only, never values) to the
 * 0600 plan file when one is given.
 */
export class PlanBuilder {
  readonly counts = emptyCounts();
  private readonly hash = createHash('sha256');
  private out: WriteStream | undefined;
  private failed: Error | undefined;
  private readonly written = new Set<string>();

  /** Users the plan writes (created or changed): billed as monthly active users. */
  get usersToWrite(): number {
    return this.written.size;
  }

  constructor(readonly existing: ExistingMode) {
    this.hash.update(`selective-plan v1\nexisting ${existing}\n`);
  }

  async openFile(file: string): Promise<void> {
    const out = await createNewPrivateFile(file, 'the plan file');
    out.on('error', (e) => (this.failed = e));
    this.out = out;
  }

  private line(o: Record<string, unknown>): void {
    const text = canonical(o);
    this.hash.update(`${text}\n`);
  }

  private detail(o: Record<string, unknown>): void {
    this.out?.write(`${JSON.stringify(o)}\n`);
  }

  resource(w: ResourceWork): void {
    const c = this.counts[w.kind];
    c[w.action]++;
    this.line({ r: w.kind, n: w.name, a: w.action, f: w.fields });
    this.detail({
      kind: w.kind,
      name: w.name,
      action: w.action,
      ...(w.fields.length ? { fields: w.fields } : {}),
    });
  }

  user(w: UserWork, live: UserType | undefined): void {
    const c = this.counts.users;
    if (w.action === 'erased') c.erased++;
    else if (w.action === 'external') c.externalProvider++;
    else c[w.action]++;
    if (w.action === 'create' || w.action === 'revert') this.written.add(w.target ?? w.username);
    const a = w.attrs;
    if (w.action === 'revert') {
      if (a) {
        this.counts.attributes.revert +=
          a.differing.length - a.unwritable.length - a.refused.length;
        this.counts.attributes.unwritable += a.unwritable.length;
        this.counts.attributes.refused += a.refused.length;
      }
      if (w.enable === true) this.counts.enabled.enable++;
      if (w.enable === false) this.counts.enabled.disable++;
      this.counts.memberships.add += w.addGroups.length;
      this.counts.memberships.remove += w.removeGroups.length;
    } else if (w.action === 'create') {
      this.counts.memberships.add += w.groups.length;
    }
    const changes =
      w.action === 'revert' || w.action === 'skip'
        ? {
            s: a?.set.map((x) => [x.Name, x.Value]) ?? [],
            d: a?.remove ?? [],
            x: a?.unwritable ?? [],
            q: a?.refused ?? [],
            e: w.enable ?? null,
            ga: w.addGroups,
            gr: w.removeGroups,
            l: liveDigest(live, a?.differing ?? []),
          }
        : w.action === 'create'
          ? { g: w.groups }
          : {};
    this.line({ u: w.username, a: w.action, ...changes });
    this.detail({
      kind: 'user',
      user: w.username,
      action: w.action,
      ...(a?.differing.length ? { attributes: a.differing } : {}),
      ...(a?.remove.length ? { removeAttributes: a.remove } : {}),
      ...(a?.unwritable.length ? { unwritable: a.unwritable } : {}),
      ...(a?.refused.length ? { refusedWouldMessage: a.refused } : {}),
      ...(w.enable !== undefined ? { enabled: w.enable } : {}),
      ...(w.addGroups.length ? { addGroups: w.addGroups } : {}),
      ...(w.removeGroups.length ? { removeGroups: w.removeGroups } : {}),
      ...(w.action === 'create' && w.groups.length ? { groups: w.groups } : {}),
    });
  }

  notInSnapshot(n: number): void {
    this.counts.users.notInSnapshot += n;
    this.line({ missing: n });
  }

  membership(c: MembershipChange): void {
    this.counts.memberships[c.action]++;
    this.written.add(c.username);
    this.line({ m: c.group, u: c.username, a: c.action });
    this.detail({ kind: 'membership', group: c.group, user: c.username, action: c.action });
  }

  digest(): string {
    return this.hash.copy().digest('hex');
  }

  async close(): Promise<void> {
    const out = this.out;
    if (!out) return;
    this.out = undefined;
    const closed = once(out, 'close');
    out.end();
    await closed;
    if (this.failed) throw new StorageError('IO_ERROR', `writing the plan file failed`, {});
  }
}
