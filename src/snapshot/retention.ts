import { UsageError } from '../core/errors.js';
import { rm } from 'node:fs/promises';
import { LocalDirStorage } from '../storage/local.js';
import type { Storage } from '../storage/storage.js';
import { listSnapshots, type SnapshotListing } from './catalog.js';
import { MANIFEST_FILE } from './format.js';

export interface RetentionPolicy {
  /** Keep the newest N complete snapshots of each pool (at least 1). */
  keepLast: number;
  /** Also keep the newest complete snapshot of each of the last N UTC days that have one. */
  keepDaily?: number;
  /** Also keep the newest complete snapshot of each of the last N UTC months that have one. */
  keepMonthly?: number;
}

export interface PruneDecision {
  path: string;
  userPoolId: string;
  snapshotId: string;
  complete: boolean;
  keep: boolean;
  /** Why it is kept (`last`, `daily`, `monthly`) or deleted (`expired`, `abandoned`). */
  reasons: string[];
}

/** The UTC instant a snapshot id names (ids are the backup's start time). */
function startedAt(s: SnapshotListing): string {
  return (
    s.manifest?.startedAt ??
    s.snapshotId.replace(
      /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z$/,
      '$1T$2:$3:$4.$5Z',
    )
  );
}

/**
 * Decides which snapshots a retention policy keeps, per pool. Complete snapshots are kept by
 * the newest-N, daily and monthly rules; the newest complete snapshot is always kept. Incomplete
 * snapshots older than the newest complete one are abandoned (their backup died) and deleted;
 * newer ones may still be running and are kept.
 */
export function planRetention(
  snapshots: SnapshotListing[],
  policy: RetentionPolicy,
): PruneDecision[] {
  if (!Number.isInteger(policy.keepLast) || policy.keepLast < 1) {
    throw new UsageError(
      'BAD_FLAG',
      '--keep-last must be a whole number ≥ 1 (the newest snapshot is never pruned)',
    );
  }
  const out: PruneDecision[] = [];
  const byPool = new Map<string, SnapshotListing[]>();
  for (const s of snapshots) byPool.set(s.userPoolId, [...(byPool.get(s.userPoolId) ?? []), s]);
  for (const list of byPool.values()) {
    const newestFirst = [...list].sort((a, b) => startedAt(b).localeCompare(startedAt(a)));
    const complete = newestFirst.filter((s) => s.complete);
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
    const newestComplete = complete[0] ? startedAt(complete[0]) : undefined;
    for (const s of newestFirst) {
      const r = reasons.get(s.path) ?? [];
      let keep = r.length > 0;
      if (!s.complete) {
        const abandoned = newestComplete !== undefined && startedAt(s) < newestComplete;
        keep = !abandoned;
        r.push(abandoned ? 'abandoned' : 'maybe-running');
      } else if (!keep) r.push('expired');
      out.push({
        path: s.path,
        userPoolId: s.userPoolId,
        snapshotId: s.snapshotId,
        complete: s.complete,
        keep,
        reasons: r,
      });
    }
  }
  return out;
}

/**
 * Applies a retention policy under a backup root. A snapshot is deleted manifest first, so one
 * interrupted half-way is left incomplete (and pruned next time), never "complete" with files
 * missing.
 */
export async function prune(
  root: Storage,
  policy: RetentionPolicy,
  opts: { dryRun?: boolean; userPoolId?: string } = {},
): Promise<{ decisions: PruneDecision[]; deletedObjects: number }> {
  const all = await listSnapshots(root);
  const decisions = planRetention(
    opts.userPoolId ? all.filter((s) => s.userPoolId === opts.userPoolId) : all,
    policy,
  );
  let deletedObjects = 0;
  if (!opts.dryRun) {
    for (const d of decisions.filter((x) => !x.keep)) {
      const snap = root.child(d.path);
      if (d.complete) {
        await snap.delete(MANIFEST_FILE);
        deletedObjects++;
      }
      const keys: string[] = [];
      for await (const e of snap.list()) keys.push(e.key);
      for (const k of keys) {
        await snap.delete(k);
        deletedObjects++;
      }
      // Local directories: remove the (now empty) snapshot directory tree too.
      if (snap instanceof LocalDirStorage)
        await rm(snap.location, { recursive: true, force: true });
    }
  }
  return { decisions, deletedObjects };
}
