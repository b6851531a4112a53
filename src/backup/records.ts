import {
  PLAN_FILE,
  PROGRESS_DIR,
  PROGRESS_VERSION,
  type UnitRecord,
  writeUnitRecord,
} from '../snapshot/progress.js';
import { forEachConcurrent } from '../core/concurrency.js';
import type { Storage } from '../storage/storage.js';
import type { BackupPlan, BackupRun, Tally, UnitDone } from './run-state.js';

/**
 * Records a finished unit under progress/units/, after its files' puts resolved (durable). Not
 * tied to the run's signal: a finished unit is worth recording even while the run is stopped.
 */
export async function recordUnit(planned: BackupPlan, tally: Tally, done: UnitDone): Promise<void> {
  await writeUnitRecord(planned.snap, {
    progressVersion: PROGRESS_VERSION,
    unit: done.unit,
    completedAt: new Date().toISOString(),
    files: done.files,
    counts: done.counts,
    warnings: done.warnings,
    ...(done.prefix !== undefined ? { prefix: done.prefix } : {}),
  });
  tally.durableRecords++;
}

/** Lists a unit an earlier run finished: its files go into the manifest, its warnings too. */
export function adoptUnit(run: BackupRun, planned: BackupPlan, record: UnitRecord): void {
  for (const f of record.files) planned.writer.adopt(f);
  run.warnings.push(...record.warnings);
}

/** Progress records deleted at once when a snapshot completes. */
const REMOVE_CONCURRENCY = 16;

/** Deletes the progress records of a committed snapshot (best effort). */
export async function removeProgress(snap: Storage): Promise<void> {
  try {
    const keys: string[] = [];
    for await (const e of snap.list(PROGRESS_DIR)) keys.push(e.key);
    // Side by side (one request each on S3: hundreds of page records), the plan last: records
    // without a plan are never taken for a resumable snapshot.
    await forEachConcurrent(
      keys.filter((k) => k !== PLAN_FILE),
      REMOVE_CONCURRENCY,
      (k) => snap.delete(k),
    );
    if (keys.includes(PLAN_FILE)) await snap.delete(PLAN_FILE);
    await snap.child(PROGRESS_DIR).removeEmptyDirs();
  } catch {
    // Harmless: a complete snapshot's progress/ is ignored (docs/format.md).
  }
}
