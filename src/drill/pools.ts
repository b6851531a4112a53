import {
  DeleteUserPoolCommand,
  DescribeUserPoolCommand,
  paginateListUserPools,
  TagResourceCommand,
  type UserPoolType,
} from '@aws-sdk/client-cognito-identity-provider';
import { CognitoError, CredentialsError, TargetIncompatibleError } from '../core/errors.js';
import { type CognitoGateway, items } from '../cognito/gateway.js';
import { DRILL_TAGS } from '../cognito/operations.js';

/**
 * The scratch pools of drills: how they are named and tagged, found, kept alive and deleted.
 * The tag is the authority — a pool is deleted only when DescribeUserPool, read right before
 * the DeleteUserPool, shows the drill tag; the name prefix only narrows the search.
 */

/** Every scratch pool carries this tag (value: the drill id). The IAM policy keys on it. */
export const DRILL_TAG = DRILL_TAGS.drill;
/** ISO time of the last heartbeat of the drill that owns the pool. */
export const HEARTBEAT_TAG = DRILL_TAGS.heartbeat;
/** Scratch pool names: `cognito-vault-drill-<id>`. */
export const DRILL_POOL_PREFIX = 'cognito-vault-drill-';
/** A drill pool whose heartbeat is older than this is an orphan (its drill was killed). */
export const STALE_AFTER_MS = 2 * 60_000;
/** How often a running drill refreshes its heartbeat (well inside STALE_AFTER_MS). */
export const HEARTBEAT_EVERY_MS = 30_000;
/**
 * Cognito's default quota of user pools per account and Region ("Quotas in Amazon Cognito",
 * resource quotas; adjustable). Override with `poolLimit` when yours was raised.
 */
export const DEFAULT_POOL_LIMIT = 1000;
/** Pools kept free below the limit: a drill never takes one of the last few. */
export const POOL_HEADROOM = 10;

export function drillPoolName(drillId: string): string {
  return `${DRILL_POOL_PREFIX}${drillId}`;
}

export function drillTags(drillId: string, now: Date): Record<string, string> {
  return { [DRILL_TAG]: drillId, [HEARTBEAT_TAG]: now.toISOString() };
}

export function isDrillPool(pool: UserPoolType | undefined): boolean {
  const v = pool?.UserPoolTags?.[DRILL_TAG];
  return typeof v === 'string' && v.length > 0;
}

/** The pool's last sign of life: its heartbeat tag, else its creation date. */
export function lastHeartbeat(pool: UserPoolType): number | undefined {
  const hb = Date.parse(pool.UserPoolTags?.[HEARTBEAT_TAG] ?? '');
  if (Number.isFinite(hb)) return hb;
  const created = pool.CreationDate ? new Date(pool.CreationDate).getTime() : NaN;
  return Number.isFinite(created) ? created : undefined;
}

async function describe(gw: CognitoGateway, id: string): Promise<UserPoolType | undefined> {
  try {
    return (await gw.send(new DescribeUserPoolCommand({ UserPoolId: id }))).UserPool;
  } catch (e) {
    // Gone meanwhile, or not ours to read (a least-privilege role reads drill pools only).
    if (e instanceof CognitoError && e.awsCode === 'ResourceNotFoundException') return undefined;
    // The drill policy reads drill-tagged pools only: a pool it may not read is not a drill's.
    if (e instanceof CredentialsError && e.code === 'ACCESS_DENIED') return undefined;
    throw e;
  }
}

/**
 * Deletes `id` only if it carries the drill tag, read right before the delete. Returns false
 * (nothing deleted) for a pool without the tag or one already gone.
 */
export async function deleteDrillPool(gw: CognitoGateway, id: string): Promise<boolean> {
  const pool = await describe(gw, id);
  if (!pool || !isDrillPool(pool)) return false;
  try {
    await gw.send(new DeleteUserPoolCommand({ UserPoolId: id }));
  } catch (e) {
    if (e instanceof CognitoError && e.awsCode === 'ResourceNotFoundException') return false;
    throw e;
  }
  return true;
}

/** Refreshes the heartbeat tag (TagResource adds or overwrites; other settings untouched). */
export async function beat(gw: CognitoGateway, pool: UserPoolType, now: Date): Promise<void> {
  if (!pool.Arn || !isDrillPool(pool)) return;
  await gw.send(
    new TagResourceCommand({
      ResourceArn: pool.Arn,
      Tags: { [HEARTBEAT_TAG]: now.toISOString() },
    }),
  );
}

export interface AccountPools {
  /** Every pool of the account in this Region. */
  total: number;
  /** Ids of the pools named like scratch pools (candidates; the tag decides). */
  drillNamed: { id: string; name: string }[];
}

export async function listAccountPools(gw: CognitoGateway): Promise<AccountPools> {
  let total = 0;
  const drillNamed: { id: string; name: string }[] = [];
  for await (const p of items(gw.pages(paginateListUserPools, { MaxResults: 60 }), 'UserPools')) {
    total++;
    if (p.Id && p.Name?.startsWith(DRILL_POOL_PREFIX)) drillNamed.push({ id: p.Id, name: p.Name });
  }
  return { total, drillNamed };
}

/** The scratch pool of one drill, by its unique name and tag (after a lost or unknown id). */
export async function findDrillPool(
  gw: CognitoGateway,
  drillId: string,
): Promise<UserPoolType | undefined> {
  const name = drillPoolName(drillId);
  const { drillNamed } = await listAccountPools(gw);
  for (const c of drillNamed.filter((p) => p.name === name)) {
    const pool = await describe(gw, c.id);
    if (pool && pool.UserPoolTags?.[DRILL_TAG] === drillId) return pool;
  }
  return undefined;
}

export interface CleanupResult {
  /** Drill-tagged pools deleted. */
  deleted: string[];
  /** Drill-tagged pools left alone: their drill is alive (heartbeat within two minutes). */
  alive: string[];
  /** Pools named like scratch pools but without the drill tag: never deleted. */
  untagged: string[];
}

/**
 * Deletes the scratch pools killed drills left behind: drill-tagged pools whose heartbeat is
 * older than STALE_AFTER_MS, or every drill-tagged pool with `force`.
 */
export async function cleanupDrillPools(
  gw: CognitoGateway,
  opts: { force?: boolean; now?: () => Date; except?: string } = {},
): Promise<CleanupResult> {
  const now = opts.now ?? (() => new Date());
  const out: CleanupResult = { deleted: [], alive: [], untagged: [] };
  const { drillNamed } = await listAccountPools(gw);
  for (const c of drillNamed) {
    if (c.id === opts.except) continue;
    const pool = await describe(gw, c.id);
    if (!pool) continue;
    if (!isDrillPool(pool)) {
      out.untagged.push(c.id);
      continue;
    }
    const hb = lastHeartbeat(pool);
    const stale = hb === undefined || now().getTime() - hb > STALE_AFTER_MS;
    if (!opts.force && !stale) {
      out.alive.push(c.id);
      continue;
    }
    if (await deleteDrillPool(gw, c.id)) out.deleted.push(c.id);
  }
  return out;
}

/**
 * Refuses to start when one more pool would bring the account within POOL_HEADROOM of its
 * user-pool limit (a drill must never be what stops production from creating a pool).
 */
export function assertPoolRoom(total: number, limit = DEFAULT_POOL_LIMIT): void {
  if (total + 1 > limit - POOL_HEADROOM) {
    throw new TargetIncompatibleError(
      `the account has ${total} user pools in this Region, within ${POOL_HEADROOM} of its limit of ${limit}: a drill would take one of the last pools; delete unused pools or raise the quota (and pass the new limit as poolLimit)`,
      [`user pools: ${total} of ${limit}`],
      { pools: total, limit },
    );
  }
}
