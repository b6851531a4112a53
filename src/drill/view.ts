import type { UserPoolType } from '@aws-sdk/client-cognito-identity-provider';
import type { CompareSide, SideResources } from '../compare/index.js';
import type { PoolDocument, SnapshotReader } from '../snapshot/index.js';

/**
 * What the drill restores: the snapshot as it is, except what must not reach a scratch pool —
 * its Lambda triggers (they would run for every restored user and reach production systems),
 * its domain (prefixes are global: the production domain is taken), deletion protection (the
 * drill must be able to delete what it made) and its tags (the scratch pool carries the drill's
 * own, which the IAM policy keys on) — and, with a sample, only the sampled users and their
 * memberships. The restore engine reads it as it reads any snapshot; the comparison sees both
 * sides through the same lens (scratchSide), so these intended differences are not reported.
 */

/** Pool settings a scratch pool does not take from the snapshot. */
const NOT_IN_SCRATCH = [
  'LambdaConfig',
  'Domain',
  'CustomDomain',
  'UserPoolTags',
  'DeletionProtection',
] as const;

export function scratchPoolDocument(doc: PoolDocument, tags: Record<string, string>): PoolDocument {
  const userPool: UserPoolType = { ...doc.userPool };
  for (const k of NOT_IN_SCRATCH) delete userPool[k];
  userPool.DeletionProtection = 'INACTIVE';
  userPool.UserPoolTags = { ...tags };
  const { domain: _domain, tags: _tags, ...rest } = doc;
  return { ...rest, userPool } as PoolDocument;
}

export interface ViewOptions {
  /** Tags of the scratch pool (drill id, heartbeat). */
  tags: Record<string, string>;
  /** Restore only these users (and their memberships); undefined: all. */
  usernames: Set<string> | undefined;
}

/** The snapshot as the drill restores it (see above); every other read goes to `reader`. */
export function scratchView(reader: SnapshotReader, opts: ViewOptions): SnapshotReader {
  const keep = (username: string): boolean => !opts.usernames || opts.usernames.has(username);
  const readJson: SnapshotReader['readJson'] = async (kind, schema) => {
    const value = await reader.readJson(kind, schema);
    if (kind !== 'pool') return value;
    // The pool document, with the scratch settings (same shape: the schema's output type).
    return scratchPoolDocument(value as PoolDocument, opts.tags) as typeof value;
  };
  const records: SnapshotReader['records'] = async function* (kind, schema) {
    for await (const r of reader.records(kind, schema)) {
      if (kind === 'users' || kind === 'memberships') {
        const username =
          (r as { Username?: string; username?: string }).Username ??
          (r as { username?: string }).username;
        if (username !== undefined && !keep(username)) continue;
      }
      yield r;
    }
  };
  return new Proxy(reader, {
    get(target, prop) {
      if (prop === 'readJson') return readJson;
      if (prop === 'records') return records;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** A comparison side seen through the drill's lens: the settings a scratch pool never has removed. */
export function scratchSide(side: CompareSide, estimatedUsers?: number): CompareSide {
  return {
    label: side.label,
    async resources(settings: boolean): Promise<SideResources> {
      const r = await side.resources(settings);
      const pool: UserPoolType = { ...r.pool };
      for (const k of NOT_IN_SCRATCH) delete pool[k];
      const extras = r.extras ? new Map(r.extras) : undefined;
      extras?.delete('Domain');
      return {
        ...r,
        pool,
        ...(extras ? { extras } : {}),
        ...(estimatedUsers !== undefined ? { estimatedUsers } : {}),
      };
    },
    users: (o) => side.users(o),
    memberships: (groups) => side.memberships(groups),
  };
}
