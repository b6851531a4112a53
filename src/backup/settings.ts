import type { Warning } from '../snapshot/format.js';
import { MEMBERSHIPS_UNIT, RESOURCES_UNIT } from '../snapshot/progress.js';
import { captureMemberships, recordedGroupNames } from './memberships.js';
import { adoptUnit, recordUnit } from './records.js';
import { captureResources } from './resources.js';
import type { BackupPlan, BackupRun, Tally } from './run-state.js';

/**
 * The resources unit, then the memberships unit (listed for the groups in groups.json), each
 * taken from an earlier run's record when one was kept; an unfinished memberships unit
 * continues from the segments earlier runs stored (memberships.ts).
 */
export async function captureSettings(
  run: BackupRun,
  planned: BackupPlan,
  tally: Tally,
): Promise<void> {
  let groupNames: string[];
  const keptResources = planned.kept.get(RESOURCES_UNIT);
  if (keptResources) {
    adoptUnit(run, planned, keptResources);
    Object.assign(tally, keptResources.counts);
    groupNames = planned.kept.has(MEMBERSHIPS_UNIT) ? [] : await recordedGroupNames(planned.snap);
  } else {
    const warnings: Warning[] = [];
    const captured = await captureResources(
      {
        gw: run.gw,
        poolId: run.poolId,
        writer: planned.writer,
        includeSecrets: planned.plan.options.includeSecrets,
        warn: (w) => {
          warnings.push(w);
          run.warn(w);
        },
        progress: (phase) => run.progress({ type: 'phase', phase }),
        signal: run.signal,
        fetchImage: run.opts.fetchImage,
        refused: new Set(),
      },
      planned.pool,
    );
    Object.assign(tally, captured.counts);
    await recordUnit(planned, tally, {
      unit: RESOURCES_UNIT,
      files: captured.files,
      counts: captured.counts,
      warnings,
    });
    groupNames = captured.groupNames;
  }
  const keptMemberships = planned.kept.get(MEMBERSHIPS_UNIT);
  if (keptMemberships) {
    adoptUnit(run, planned, keptMemberships);
    tally.memberships = keptMemberships.files.reduce((n, f) => n + f.records, 0);
    return;
  }
  const files = await captureMemberships(run, planned, tally, groupNames);
  for (const f of files) planned.writer.adopt(f);
  const memberships = files.reduce((n, f) => n + f.records, 0);
  await recordUnit(planned, tally, {
    unit: MEMBERSHIPS_UNIT,
    files,
    counts: { memberships },
    warnings: [],
  });
}
