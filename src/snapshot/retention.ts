import { DEFAULT_INCOMPLETE_GRACE_MS, formatDuration, parseDuration } from '../core/duration.js';
import { InterruptedError, UsageError, VaultError } from '../core/errors.js';
import type { Storage } from '../storage/storage.js';
import { listSnapshots, type SnapshotListing, type SnapshotStatus } from './catalog.js';
import { MANIFEST_FILE } from './format.js';
import {
  acquireLease,
  describeLease,
  type LeaseInfo,
  LEASE_TTL_MS,
  LOCKS_DIR,
  readLeases,
} from './lease.js';
import { opt } from '../core/options.js';

// In src/core/duration.ts so that the CLI can show them without loading retention.
export { DEFAULT_INCOMPLETE_GRACE_MS, formatDuration, parseDuration };

/** Shorter graces are refused: a grace must outlast a lease that was not refreshed. */
export const MIN_INCOMPLETE_GRACE_MS = 2 * LEASE_TTL_MS;

export interface RetentionPolicy {
  /** Keep the newest N complete snapshots of each pool (at least 1). */
  keepLast: number;
  /** Also keep the newest complete snapshot of each of the last N UTC days that have one. */
  keepDaily?: number;
  /** Also keep the newest complete snapshot of each of the last N UTC months that have one. */
  keepMonthly?: number;
  /** Delete incomplete snapshots only this long after their last activity (default 7 days). */
  incompleteGraceMs?: number;
}

export interface PruneDecision {
  path: string;
  userPoolId: string;
  snapshotId: string;
  status: SnapshotStatus;
  complete: boolean;
  keep: boolean;
  /**
   * Why it is kept — `last`, `daily`, `monthly`; `in-use` (a live lease); `maybe-running`
   * (incomplete, inside the grace period); `age-unknown`; `unreadable`, `unknown-format`,
   * `damaged` (never deleted) — or deleted: `expired`, `abandoned` (incomplete, past the grace period).
   */
  reasons: string[];
  /** The details behind the reasons: what could not be read, which lease, how old. */
  why?: string;
}

/** Throws UsageError unless the policy is one retention can apply. */
export function validatePolicy(policy: RetentionPolicy, names = OPTION_REFS): void {
  if (!Number.isSafeInteger(policy.keepLast) || policy.keepLast < 1) {
    throw new UsageError(
      'BAD_FLAG',
      `${names.keepLast} must be a whole number ≥ 1 (the newest snapshot is never pruned)`,
      { option: 'keepLast' },
    );
  }
  for (const [k, v] of [
    ['keepDaily', policy.keepDaily],
    ['keepMonthly', policy.keepMonthly],
  ] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0))
      throw new UsageError('BAD_FLAG', `${names[k]} must be a whole number ≥ 0`, { option: k });
  }
  const g = policy.incompleteGraceMs;
  if (g !== undefined && (!Number.isFinite(g) || g < MIN_INCOMPLETE_GRACE_MS)) {
    throw new UsageError(
      'BAD_FLAG',
      `${names.incompleteGrace} must be at least ${formatDuration(MIN_INCOMPLETE_GRACE_MS)} (e.g. 7d, 36h)`,
      { option: 'incompleteGrace' },
    );
  }
}

/** The options as engine messages name them (the CLI prints their flags). */
const OPTION_REFS = {
  keepLast: opt('keepLast'),
  keepDaily: opt('keepDaily'),
  keepMonthly: opt('keepMonthly'),
  incompleteGrace: opt('incompleteGrace'),
};

/** The UTC instant a snapshot id names (ids are the backup's start time). */
function startedAt(s: SnapshotListing): string {
  // Only a structurally complete snapshot's manifest is believed; others go by their id.
  return (
    (s.status === 'complete' ? s.manifest?.startedAt : undefined) ??
    s.snapshotId.replace(
      /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z$/,
      '$1T$2:$3:$4.$5Z',
    )
  );
}

function liveLeases(s: SnapshotListing): LeaseInfo[] {
  return s.leases.filter((l) => l.live && l.lease?.kind !== 'prune');
}

/**
 * Decides which snapshots a retention policy keeps, per pool. Complete snapshots are kept by
 * the newest-N, daily and monthly rules; the newest complete snapshot is always kept. Only
 * complete snapshots — structurally complete, see catalog.ts — count for those rules.
 * Unreadable, unknown-format and damaged snapshots are always kept (and never counted). Incomplete snapshots are deleted only when their last activity is older than the grace
 * period. A snapshot with a live lease (a backup, restore or verify running) is kept.
 */
export function planRetention(
  snapshots: SnapshotListing[],
  policy: RetentionPolicy,
  opts: { now?: Date } = {},
): PruneDecision[] {
  validatePolicy(policy);
  const now = opts.now ?? new Date();
  const grace = policy.incompleteGraceMs ?? DEFAULT_INCOMPLETE_GRACE_MS;
  const out: PruneDecision[] = [];
  const byPool = new Map<string, SnapshotListing[]>();
  for (const s of snapshots) byPool.set(s.userPoolId, [...(byPool.get(s.userPoolId) ?? []), s]);
  for (const list of byPool.values()) {
    const newestFirst = [...list].sort((a, b) => startedAt(b).localeCompare(startedAt(a)));
    const complete = newestFirst.filter((s) => s.status === 'complete');
    const reasons = new Map<string, string[]>(newestFirst.map((s) => [s.path, []]));
    complete.slice(0, policy.keepLast).forEach((s) => reasons.get(s.path)?.push('last'));
    const bucketRule = (
      n: number | undefined,
      key: (iso: string) => string,
      label: string,
    ): void => {
      if (!n) return;
      const seen = new Set<string>();
      for (const s of complete) {
        const k = key(startedAt(s));
        if (seen.has(k)) continue;
        seen.add(k);
        if (seen.size > n) break;
        reasons.get(s.path)?.push(label);
      }
    };
    bucketRule(policy.keepDaily, (iso) => iso.slice(0, 10), 'daily');
    bucketRule(policy.keepMonthly, (iso) => iso.slice(0, 7), 'monthly');
    for (const s of newestFirst) {
      const r = reasons.get(s.path) ?? [];
      let keep = r.length > 0;
      let why: string | undefined;
      if (s.status === 'unreadable' || s.status === 'unknown-format' || s.status === 'damaged') {
        keep = true;
        r.push(s.status);
        why = s.problem;
      } else if (s.status === 'incomplete') {
        keep = true;
        if (!s.lastActivity) {
          r.push('age-unknown');
          why =
            'the storage reports no modification time; an incomplete snapshot of unknown age is kept';
        } else {
          const idle = now.getTime() - s.lastActivity.getTime();
          if (idle < grace) {
            r.push('maybe-running');
            why = `incomplete, last written ${s.lastActivity.toISOString()}; deleted once idle for ${formatDuration(grace)}`;
          } else {
            keep = false;
            r.push('abandoned');
            why = `incomplete, nothing written since ${s.lastActivity.toISOString()}`;
          }
        }
      } else if (!keep) r.push('expired');
      const held = liveLeases(s);
      if (!keep && held.length > 0) {
        keep = true;
        r.splice(0, r.length, 'in-use');
        why = held.map(describeLease).join('; ');
      }
      out.push({
        path: s.path,
        userPoolId: s.userPoolId,
        snapshotId: s.snapshotId,
        status: s.status,
        complete: s.status === 'complete',
        keep,
        reasons: r,
        ...(why ? { why } : {}),
      });
    }
  }
  return out;
}

export interface PruneResult {
  decisions: PruneDecision[];
  deletedObjects: number;
  /** Expired leases (their holders crashed) removed from snapshots that stay. */
  staleLeasesRemoved: number;
  /** Snapshots whose deletion failed (they are kept or left incomplete; exit 8). */
  errors: { path: string; code: string; message: string; exitCode: number }[];
}

/**
 * Applies a retention policy under a backup root. Before deleting a snapshot, prune writes a
 * `prune` lease into it and reads its leases again: a restore or backup that started since the
 * listing keeps it. An incomplete snapshot whose manifest appeared meanwhile is kept. A snapshot
 * is deleted manifest first, so one interrupted half-way is left incomplete (and pruned after
 * the grace period), never "complete" with files missing.
 */
export async function prune(
  root: Storage,
  policy: RetentionPolicy,
  opts: { dryRun?: boolean; userPoolId?: string; now?: () => Date; signal?: AbortSignal } = {},
): Promise<PruneResult> {
  validatePolicy(policy);
  const now = opts.now ?? (() => new Date());
  const all = await listSnapshots(root, {
    now: now(),
    ...(opts.userPoolId ? { userPoolId: opts.userPoolId } : {}),
  });
  const listed = opts.userPoolId ? all.filter((s) => s.userPoolId === opts.userPoolId) : all;
  const decisions = planRetention(listed, policy, { now: now() });
  const result: PruneResult = { decisions, deletedObjects: 0, staleLeasesRemoved: 0, errors: [] };
  if (opts.dryRun) return result;
  const byPath = new Map(listed.map((s) => [s.path, s]));
  for (const d of decisions) {
    if (opts.signal?.aborted) throw new InterruptedError('prune interrupted');
    const snap = root.child(d.path);
    try {
      if (!d.keep) {
        result.deletedObjects += await deleteSnapshot(snap, d, now);
        // Only a deleted snapshot's directories are swept: sweeping a kept one could remove a
        // directory a running backup has just created and is about to write into.
        if (d.keep === false) await snap.removeEmptyDirs();
      } else {
        let removed = 0;
        for (const l of byPath.get(d.path)?.leases ?? []) {
          if (l.live) continue;
          await snap.delete(l.key);
          removed++;
        }
        result.staleLeasesRemoved += removed;
        if (removed) await snap.child(LOCKS_DIR).removeEmptyDirs();
      }
    } catch (e) {
      if (e instanceof InterruptedError) throw e;
      const err =
        e instanceof VaultError ? e : new VaultError('UNEXPECTED', String(e), 1, { path: d.path });
      result.errors.push({
        path: d.path,
        code: err.code,
        message: err.message,
        exitCode: err.exitCode,
      });
    }
  }
  return result;
}

/**
 * Deletes one snapshot under a prune lease; returns the objects deleted. Turns `d` into a kept
 * decision (and deletes nothing) when a live lease or a new manifest appeared since the listing.
 */
async function deleteSnapshot(snap: Storage, d: PruneDecision, now: () => Date): Promise<number> {
  const own = await acquireLease(snap, 'prune');
  let deleted = 0;
  try {
    const leases = await readLeases(snap, now(), undefined, { ownKey: own.key });
    const held = leases.filter(
      (l) => l.key !== own.key && l.live && (l.unreadable || l.lease?.kind !== 'prune'),
    );
    if (held.length > 0) {
      d.keep = true;
      d.reasons = ['in-use'];
      d.why = held.map(describeLease).join('; ');
      return 0;
    }
    if (d.status === 'incomplete' && (await snap.exists(MANIFEST_FILE))) {
      d.keep = true;
      d.reasons = ['maybe-running'];
      d.why = 'its backup wrote the manifest while prune ran';
      return 0;
    }
    if (d.status === 'complete') {
      await snap.delete(MANIFEST_FILE);
      deleted++;
    }
    const keys: string[] = [];
    for await (const e of snap.list()) if (e.key !== own.key) keys.push(e.key);
    // The manifest of an incomplete snapshot cannot be listed here (checked above), but
    // whatever lists first, the manifest goes first.
    keys.sort((a, b) => Number(b === MANIFEST_FILE) - Number(a === MANIFEST_FILE));
    for (const k of keys) {
      await snap.delete(k);
      deleted++;
    }
    return deleted;
  } finally {
    await own.release();
  }
}
