import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { CognitoGateway } from '../cognito/gateway.js';
import { UsageError } from '../core/errors.js';
import type { PasswordState } from '../restore/users/sign-in.js';
import { noProgress, type ProgressListener } from '../core/progress.js';
import { underReadLease } from '../snapshot/read-lease.js';
import type { SnapshotReader } from '../snapshot/reader.js';
import {
  type CompareOptions,
  compareSides,
  type PoolComparison,
  type PoolDifference,
  type StatusMapping,
  type UserChangeClass,
} from './engine.js';
import { poolSide, snapshotSide } from './sides.js';
import { opt } from '../core/options.js';

/**
 * `cognito-vault diff SNAPSHOT --user-pool-id ID`: what differs between a snapshot and a live
 * pool (drift since the backup, or what a restore did not bring back). A = the snapshot,
 * B = the pool. Streams both sides (compareSides); counts only, per-user detail to a callback.
 */
export interface DiffOptions {
  /** Match users through an old→new sub map (a restore's sub map file) instead of by username. */
  subMap?: Map<string, string>;
  /** Status check (default: equal). A restore's mapping accepts what a restore leaves. */
  userStatus?: 'ignore' | 'equal' | 'restored' | StatusMapping;
  /** The restore's --password-state, for `userStatus: 'restored'`. */
  passwordState?: PasswordState;
  /**
   * Also compare each user's MFA settings (a snapshot taken with `backup --user-mfa`): every
   * native user of the pool is read with AdminGetUser, each read billed as a monthly active user.
   */
  userMfa?: boolean;
  /** Every difference (a user's, a resource's), e.g. to the 0600 details file. */
  onDifference?: (d: PoolDifference) => void;
  ignoreAttributes?: string[];
  partitions?: number;
  tempDir?: string;
  signal?: AbortSignal;
  /** Warnings (NO_LEASE when the snapshot's storage cannot take a read lease). */
  onProgress?: ProgressListener;
}

export type ResourceKind = 'pool' | 'group' | 'client' | 'identityProvider' | 'resourceServer';

export interface ResourceDiff {
  onlyInSnapshot: string[];
  onlyInPool: string[];
  changed: string[];
}

export interface DiffResult {
  equal: boolean;
  snapshot: string;
  userPoolId: string;
  matchedBy: 'username' | 'sub-map';
  users: { snapshot: number; pool: number; matched: number; externalProviderInSnapshot: number };
  onlyInSnapshot: number;
  onlyInPool: number;
  changed: Record<UserChangeClass | 'total', number>;
  /** Names only (groups, clients, IdPs, resource servers, setting names): no user data. */
  resources: Record<ResourceKind, ResourceDiff>;
  memberships: { snapshot: number; pool: number };
  differenceCount: number;
  /** Settings not compared: one side does not hold them, or neither could read them. */
  settingsNotCompared?: string[];
  partitions: number;
}

const RESOURCE_KINDS: ResourceKind[] = [
  'pool',
  'group',
  'client',
  'identityProvider',
  'resourceServer',
];

/** A restore's sub map file (JSON Lines: {"username", "oldSub", "newSub", …}) as old → new. */
export async function readSubMapFile(file: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  let line = 0;
  try {
    const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const text of rl) {
      line++;
      if (!text.trim()) continue;
      let e: { oldSub?: unknown; newSub?: unknown };
      try {
        e = JSON.parse(text) as typeof e;
      } catch {
        throw new UsageError('BAD_SUB_MAP', `${opt('subMap')} ${file}: line ${line} is not JSON`, {
          option: 'subMap',
        });
      }
      if (typeof e.oldSub === 'string' && typeof e.newSub === 'string') map.set(e.oldSub, e.newSub);
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(
      'BAD_SUB_MAP',
      `${opt('subMap')} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      { option: 'subMap' },
    );
  }
  return map;
}

/**
 * Compares the snapshot with the live pool, under a read lease on the snapshot (a concurrent
 * prune leaves it alone while it is read; snapshot/read-lease.ts).
 */
export async function diffSnapshot(
  reader: SnapshotReader,
  gw: CognitoGateway,
  userPoolId: string,
  opts: DiffOptions = {},
): Promise<DiffResult> {
  return underReadLease(reader, 'diff', opts.onProgress ?? noProgress, () =>
    diffUnderLease(reader, gw, userPoolId, opts),
  );
}

async function diffUnderLease(
  reader: SnapshotReader,
  gw: CognitoGateway,
  userPoolId: string,
  opts: DiffOptions,
): Promise<DiffResult> {
  await reader.assertValid();
  const empty = (): ResourceDiff => ({ onlyInSnapshot: [], onlyInPool: [], changed: [] });
  const resources: Record<ResourceKind, ResourceDiff> = {
    pool: empty(),
    group: empty(),
    client: empty(),
    identityProvider: empty(),
    resourceServer: empty(),
  };
  const note = (d: PoolDifference): void => {
    if (!(RESOURCE_KINDS as string[]).includes(d.kind)) return;
    const r = resources[d.kind as ResourceKind];
    const name = d.field && d.kind === 'pool' && d.field === 'Schema' ? `schema:${d.key}` : d.key;
    if (d.only === 'A') r.onlyInSnapshot.push(name);
    else if (d.only === 'B') r.onlyInPool.push(name);
    else if (!r.changed.includes(name)) r.changed.push(name);
  };
  const compareOpts: CompareOptions = {
    matchUsersBy: opts.subMap ? 'sub-map' : 'username',
    ...(opts.subMap ? { matchSubMap: opts.subMap } : {}),
    userStatus: opts.userStatus ?? 'equal',
    ...(opts.passwordState ? { passwordState: opts.passwordState } : {}),
    ...(opts.userMfa ? { userMfa: true } : {}),
    maxDifferences: 0,
    onDifference: (d) => {
      note(d);
      opts.onDifference?.(d);
    },
    ...(opts.ignoreAttributes ? { ignoreAttributes: opts.ignoreAttributes } : {}),
    ...(opts.partitions ? { partitions: opts.partitions } : {}),
    ...(opts.tempDir ? { tempDir: opts.tempDir } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const c: PoolComparison = await compareSides(
    snapshotSide(reader, 'the snapshot'),
    poolSide(opts.signal ? gw.withSignal(opts.signal) : gw, userPoolId, 'the pool'),
    compareOpts,
  );
  const u = c.summary.users;
  return {
    equal: c.equal,
    snapshot: reader.location,
    userPoolId,
    matchedBy: opts.subMap ? 'sub-map' : 'username',
    users: {
      snapshot: u.a,
      pool: u.b,
      matched: u.matched,
      externalProviderInSnapshot: u.externalProviderInA,
    },
    onlyInSnapshot: u.onlyInA,
    onlyInPool: u.onlyInB,
    changed: u.changed,
    resources,
    memberships: { snapshot: c.summary.memberships.a, pool: c.summary.memberships.b },
    differenceCount: c.differenceCount,
    ...(c.summary.settingsNotCompared
      ? { settingsNotCompared: c.summary.settingsNotCompared }
      : {}),
    partitions: c.summary.partitions,
  };
}
