import { UsageError } from '../core/errors.js';
import type { Storage } from '../storage/storage.js';
import { listSnapshots, type SnapshotListing } from './catalog.js';

/**
 * `--from latest [--before ISO]`: the newest complete snapshot of one pool under a backup root.
 * The catalog classifies every snapshot by its manifest (catalog.ts): incomplete (no manifest:
 * interrupted or still running), unreadable and unknown-format snapshots are never picked.
 * "Newest" is the manifest's `finishedAt` (everything in a snapshot was read before it);
 * `before` keeps only snapshots finished strictly before it, so the pool they hold is the pool
 * before an incident at that time.
 */
export interface ChosenSnapshot {
  /** <userPoolId>/<snapshotId> below the root. */
  path: string;
  snapshotId: string;
  createdAt: string;
  /** Snapshots of the pool passed over (incomplete, unreadable, newer than --before). */
  passedOver: { incomplete: number; unreadable: number; after: number };
}

/** When the snapshot was finished: everything in it was read before then. */
function createdOf(s: SnapshotListing): Date | undefined {
  const t = s.manifest?.finishedAt;
  if (!t) return undefined;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export async function chooseLatest(
  root: Storage,
  userPoolId: string,
  before?: Date,
): Promise<ChosenSnapshot> {
  const all = await listSnapshots(root, { userPoolId });
  const passedOver = { incomplete: 0, unreadable: 0, after: 0 };
  let best: { s: SnapshotListing; at: Date } | undefined;
  for (const s of all) {
    if (s.userPoolId !== userPoolId) continue;
    if (s.status === 'incomplete') {
      passedOver.incomplete++;
      continue;
    }
    if (s.status !== 'complete') {
      passedOver.unreadable++;
      continue;
    }
    const at = createdOf(s);
    if (!at) {
      passedOver.unreadable++;
      continue;
    }
    if (before && at.getTime() >= before.getTime()) {
      passedOver.after++;
      continue;
    }
    if (
      !best ||
      at > best.at ||
      (at.getTime() === best.at.getTime() && s.snapshotId > best.s.snapshotId)
    )
      best = { s, at };
  }
  if (!best) {
    throw new UsageError(
      'NO_SNAPSHOT',
      `no complete snapshot of pool ${userPoolId} under ${root.location}${before ? ` finished before ${before.toISOString()}` : ''} (${all.length} found: ${passedOver.incomplete} incomplete, ${passedOver.unreadable} unreadable${before ? `, ${passedOver.after} not before` : ''})`,
      { userPoolId, root: root.location },
    );
  }
  return {
    path: best.s.path,
    snapshotId: best.s.snapshotId,
    createdAt: best.at.toISOString(),
    passedOver,
  };
}
